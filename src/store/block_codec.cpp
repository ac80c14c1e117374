#include "store/block_codec.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <zstd.h>

namespace remhart::store {
namespace {

constexpr std::uint32_t kMagic = 0x52484231;  // "RHB1"
constexpr std::size_t kColumns = 1 + core::kValueCount;
constexpr int kLevel = 1;

// Writes n 8-byte words from `words` into `out` as 8 byte planes.
void shuffle(const std::uint64_t* words, std::size_t n, std::byte* out) {
  for (std::size_t b = 0; b < 8; ++b) {
    std::byte* plane = out + b * n;
    for (std::size_t k = 0; k < n; ++k) plane[k] = static_cast<std::byte>(words[k] >> (8 * b));
  }
}

void unshuffle(const std::byte* in, std::size_t n, std::uint64_t* words) {
  for (std::size_t k = 0; k < n; ++k) words[k] = 0;
  for (std::size_t b = 0; b < 8; ++b) {
    const std::byte* plane = in + b * n;
    for (std::size_t k = 0; k < n; ++k) {
      words[k] |= static_cast<std::uint64_t>(plane[k]) << (8 * b);
    }
  }
}

}  // namespace

std::vector<std::byte> encode_block(std::span<const core::Record> records) {
  const std::size_t n = records.size();
  std::vector<std::uint64_t> column(n);
  std::vector<std::byte> raw(n * 8 * kColumns);
  std::int64_t prev = 0;
  for (std::size_t k = 0; k < n; ++k) {
    column[k] = static_cast<std::uint64_t>(records[k].ts - prev);
    prev = records[k].ts;
  }
  shuffle(column.data(), n, raw.data());
  for (std::size_t c = 0; c < core::kValueCount; ++c) {
    for (std::size_t k = 0; k < n; ++k) {
      std::memcpy(&column[k], core::as_array(records[k].values) + c, 8);
    }
    shuffle(column.data(), n, raw.data() + (c + 1) * n * 8);
  }
  const std::size_t bound = ZSTD_compressBound(raw.size());
  std::vector<std::byte> out(8 + bound);
  const std::uint32_t header[2] = {kMagic, static_cast<std::uint32_t>(n)};
  std::memcpy(out.data(), header, 8);
  const std::size_t z = ZSTD_compress(out.data() + 8, bound, raw.data(), raw.size(), kLevel);
  if (ZSTD_isError(z)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(z));
  out.resize(8 + z);
  return out;
}

std::optional<std::vector<core::Record>> decode_block(std::span<const std::byte> bytes) {
  if (bytes.size() < 8) return std::nullopt;
  std::uint32_t header[2];
  std::memcpy(header, bytes.data(), 8);
  if (header[0] != kMagic) return std::nullopt;
  const std::size_t n = header[1];
  // Check the frame's declared size before allocating, so corrupt counts cannot exhaust memory.
  const auto content = ZSTD_getFrameContentSize(bytes.data() + 8, bytes.size() - 8);
  if (content != n * 8 * kColumns) return std::nullopt;
  std::vector<std::byte> raw(n * 8 * kColumns);
  const std::size_t z = ZSTD_decompress(raw.data(), raw.size(), bytes.data() + 8, bytes.size() - 8);
  if (ZSTD_isError(z) || z != raw.size()) return std::nullopt;
  std::vector<core::Record> records(n);
  std::vector<std::uint64_t> column(n);
  unshuffle(raw.data(), n, column.data());
  std::int64_t prev = 0;
  for (std::size_t k = 0; k < n; ++k) {
    prev += static_cast<std::int64_t>(column[k]);
    records[k].ts = prev;
  }
  for (std::size_t c = 0; c < core::kValueCount; ++c) {
    unshuffle(raw.data() + (c + 1) * n * 8, n, column.data());
    for (std::size_t k = 0; k < n; ++k) {
      std::memcpy(core::as_array(records[k].values) + c, &column[k], 8);
    }
  }
  return records;
}

std::optional<std::vector<core::TimeUs>> decode_block_times(std::span<const std::byte> bytes) {
  if (bytes.size() < 8) return std::nullopt;
  std::uint32_t header[2];
  std::memcpy(header, bytes.data(), 8);
  if (header[0] != kMagic) return std::nullopt;
  const std::size_t n = header[1];
  const auto content = ZSTD_getFrameContentSize(bytes.data() + 8, bytes.size() - 8);
  if (content != n * 8 * kColumns) return std::nullopt;
  // The time column comes first: decompress only until it is complete.
  std::vector<std::byte> raw(n * 8);
  // One context per thread: creating one (and its window buffer) costs more than the decode.
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(),
                                                                        &ZSTD_freeDCtx);
  ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_only);
  ZSTD_inBuffer in{bytes.data() + 8, bytes.size() - 8, 0};
  ZSTD_outBuffer out{raw.data(), raw.size(), 0};
  while (out.pos < out.size) {
    const std::size_t in_before = in.pos, out_before = out.pos;
    const std::size_t rc = ZSTD_decompressStream(ctx.get(), &out, &in);
    if (ZSTD_isError(rc)) return std::nullopt;
    if (out.pos == out.size) break;
    if (rc == 0 || (in.pos == in_before && out.pos == out_before)) return std::nullopt;  // short
  }
  std::vector<std::uint64_t> column(n);
  unshuffle(raw.data(), n, column.data());
  std::vector<core::TimeUs> times(n);
  std::int64_t prev = 0;
  for (std::size_t k = 0; k < n; ++k) {
    prev += static_cast<std::int64_t>(column[k]);
    times[k] = prev;
  }
  return times;
}

}  // namespace remhart::store
