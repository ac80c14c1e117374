#pragma once
// The wire format of samples one replica sends the others for their live streams: compact,
// binary, and read with every length checked (whatever reaches the channel may be malformed).
//
// message := magic "RHL1" | u16 sender length | sender | u32 count | sample*
// sample  := u8 device length | device | u8 origin length | origin | i64 ts | 20 × f64
// (little-endian; NaN marks an absent value, as in core::Values).
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace remhart::bus {

/// Encodes the committed series of one commit; names longer than 255 bytes are not sent.
std::string encode_live(std::string_view sender, std::span<const store::CommittedSeries> committed);

struct LiveMessage {
  std::string sender;
  std::vector<store::StoredSample> samples;
};
/// Decodes encode_live output; nullopt when the bytes are malformed (short, long, wrong magic, an
/// invalid device id or origin, more samples than the bytes can hold).
std::optional<LiveMessage> decode_live(std::string_view bytes);

}  // namespace remhart::bus
