#pragma once
// Columnar, compressed encoding of a run of records of one series.
//
// Layout before compression: the timestamps delta-encoded as int64, then each of the 20 value
// columns; every 8-byte column is byte-shuffled (byte k of every value stored together), which
// turns slowly varying doubles into long runs that zstd compresses well. Version 2 ("RHB2";
// header: magic, count, size of the first frame) compresses the time column and the values as
// two zstd frames, so duplicate checks decode the times alone; version 1 ("RHB1": magic, count,
// one frame) is still read.
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "core/measurement.hpp"

namespace remhart::store {

/// Encodes records (any order is kept as given). Throws std::runtime_error on codec failure.
std::vector<std::byte> encode_block(std::span<const core::Record> records);

/// Decodes encode_block output; nullopt when the bytes are corrupt.
std::optional<std::vector<core::Record>> decode_block(std::span<const std::byte> bytes);
/// Only the timestamps of encode_block output (version 2: only their frame is decompressed);
/// nullopt when the bytes are corrupt.
std::optional<std::vector<core::TimeUs>> decode_block_times(std::span<const std::byte> bytes);

}  // namespace remhart::store
