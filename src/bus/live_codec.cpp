#include "bus/live_codec.hpp"

#include <cstdint>
#include <cstring>

namespace remhart::bus {

namespace {

constexpr std::string_view kMagic = "RHL1";
constexpr std::size_t kSampleFixed = 2 + 8 + core::kValueCount * 8;  // lengths, ts, values

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // x86-64 and arm64 are little-endian
  out.append(b, sizeof(T));
}

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  template <class T>
  bool get(T& v) {
    if (b_.size() < sizeof(T)) return false;
    std::memcpy(&v, b_.data(), sizeof(T));
    b_.remove_prefix(sizeof(T));
    return true;
  }
  bool text(std::size_t n, std::string& s) {
    if (b_.size() < n) return false;
    s.assign(b_.data(), n);
    b_.remove_prefix(n);
    return true;
  }
  std::size_t left() const { return b_.size(); }

 private:
  std::string_view b_;
};

}  // namespace

std::string encode_live(std::string_view sender,
                        std::span<const store::CommittedSeries> committed) {
  std::string out(kMagic);
  const auto s = sender.substr(0, 65535);
  put<std::uint16_t>(out, static_cast<std::uint16_t>(s.size()));
  out += s;
  const auto count_at = out.size();
  put<std::uint32_t>(out, 0);
  std::uint32_t count = 0;
  for (const auto& c : committed) {
    if (c.device.size() > 255 || c.origin.size() > 255) continue;
    for (const auto& r : c.records) {
      put<std::uint8_t>(out, static_cast<std::uint8_t>(c.device.size()));
      out += c.device;
      put<std::uint8_t>(out, static_cast<std::uint8_t>(c.origin.size()));
      out += c.origin;
      put<std::int64_t>(out, r.ts);
      out.append(reinterpret_cast<const char*>(core::as_array(r.values)), core::kValueCount * 8);
      ++count;
    }
  }
  std::memcpy(out.data() + count_at, &count, sizeof count);
  return out;
}

std::optional<LiveMessage> decode_live(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  Reader in(bytes.substr(kMagic.size()));
  LiveMessage m;
  std::uint16_t sender_len = 0;
  std::uint32_t count = 0;
  if (!in.get(sender_len) || !in.text(sender_len, m.sender) || !in.get(count)) return std::nullopt;
  if (count > in.left() / kSampleFixed) return std::nullopt;  // cannot hold that many
  m.samples.reserve(count);
  for (std::uint32_t k = 0; k < count; ++k) {
    store::StoredSample s;
    std::uint8_t n = 0;
    if (!in.get(n) || !in.text(n, s.device) || !core::valid_device_id(s.device))
      return std::nullopt;
    if (!in.get(n) || !in.text(n, s.origin) || !core::valid_origin(s.origin)) return std::nullopt;
    if (!in.get(s.record.ts)) return std::nullopt;
    double* v = core::as_array(s.record.values);
    for (std::size_t f = 0; f < core::kValueCount; ++f) {
      if (!in.get(v[f])) return std::nullopt;
    }
    m.samples.push_back(std::move(s));
  }
  if (in.left() != 0) return std::nullopt;
  return m;
}

}  // namespace remhart::bus
