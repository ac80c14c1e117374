// Redis live channel: whatever arrives on it, as the subscriber decodes it.
#include "bus/live_codec.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto m = remhart::bus::decode_live(remhart::fuzz::text(data, size));
  if (m) {
    // Whatever decodes encodes back to a message that decodes to the same samples.
    std::vector<remhart::store::CommittedSeries> series;
    for (const auto& s : m->samples) series.push_back({s.device, s.origin, {&s.record, 1}});
    const auto again = remhart::bus::decode_live(remhart::bus::encode_live(m->sender, series));
    if (!again || again->samples.size() != m->samples.size()) __builtin_trap();
  }
  return 0;
}
