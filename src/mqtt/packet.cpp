#include "mqtt/packet.hpp"

namespace remhart::mqtt {

namespace {

constexpr std::size_t kMaxRemaining = 268'435'455;  // four bytes of 7 bits (§2.2.3)

void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

void put_string(std::string& out, std::string_view s) {
  if (s.size() > 0xffff) throw std::invalid_argument("an MQTT string is at most 65,535 bytes");
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

std::string with_header(std::uint8_t first, std::string_view body) {
  if (body.size() > kMaxRemaining) throw std::invalid_argument("an MQTT packet is at most 256 MB");
  std::string out;
  out.reserve(body.size() + 5);
  out.push_back(static_cast<char>(first));
  std::size_t n = body.size();
  do {
    auto byte = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (n > 0);
  out.append(body);
  return out;
}

// Reads a big-endian u16 at `at`; throws when the body is too short.
std::uint16_t get_u16(const std::string& body, std::size_t at, const char* what) {
  if (at + 2 > body.size()) throw MalformedPacket(std::string(what) + ": packet too short");
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(body[at]) << 8) |
                                    static_cast<std::uint8_t>(body[at + 1]));
}

std::uint8_t first_byte(PacketType t, std::uint8_t flags = 0) {
  return static_cast<std::uint8_t>((static_cast<std::uint8_t>(t) << 4) | flags);
}

}  // namespace

std::optional<Packet> PacketReader::next() {
  const std::size_t avail = buf_.size() - at_;
  if (avail < 2) return std::nullopt;
  std::size_t remaining = 0, multiplier = 1, k = 1;
  for (;; ++k) {
    if (k > 4) throw MalformedPacket("remaining length longer than four bytes");
    if (k >= avail) return std::nullopt;  // the length is not all here yet
    const auto byte = static_cast<std::uint8_t>(buf_[at_ + k]);
    remaining += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if (!(byte & 0x80)) break;
  }
  const std::size_t total = 1 + k + remaining;
  if (total > max_) {
    throw MalformedPacket("packet of " + std::to_string(total) + " bytes over the limit of " +
                          std::to_string(max_));
  }
  if (avail < total) return std::nullopt;
  Packet p;
  const auto first = static_cast<std::uint8_t>(buf_[at_]);
  p.type = first >> 4;
  p.flags = first & 0x0f;
  p.body.assign(buf_, at_ + 1 + k, remaining);
  at_ += total;
  if (at_ == buf_.size()) {
    buf_.clear();
    at_ = 0;
  } else if (at_ > 65536 && at_ * 2 > buf_.size()) {  // keep the buffer from growing
    buf_.erase(0, at_);
    at_ = 0;
  }
  return p;
}

std::string encode_connect(const ConnectOptions& o) {
  std::string body;
  put_string(body, "MQTT");
  body.push_back(4);  // protocol level: 3.1.1
  std::uint8_t flags = 0;
  if (o.clean_session) flags |= 0x02;
  if (o.username) flags |= 0x80;
  if (o.password) flags |= 0x40;
  body.push_back(static_cast<char>(flags));
  put_u16(body, o.keepalive_s);
  put_string(body, o.client_id);
  if (o.username) put_string(body, *o.username);
  if (o.password) put_string(body, *o.password);
  return with_header(first_byte(PacketType::connect), body);
}

std::string encode_subscribe(std::uint16_t packet_id, std::string_view filter, int qos) {
  std::string body;
  put_u16(body, packet_id);
  put_string(body, filter);
  body.push_back(static_cast<char>(qos));
  return with_header(first_byte(PacketType::subscribe, 0x02), body);  // flags 0010 (§3.8.1)
}

std::string encode_publish(std::string_view topic, std::string_view payload, int qos,
                           std::uint16_t packet_id) {
  std::string body;
  put_string(body, topic);
  if (qos > 0) put_u16(body, packet_id);
  body.append(payload);
  return with_header(first_byte(PacketType::publish, static_cast<std::uint8_t>(qos << 1)), body);
}

std::string encode_puback(std::uint16_t packet_id) {
  std::string body;
  put_u16(body, packet_id);
  return with_header(first_byte(PacketType::puback), body);
}

std::string encode_pingreq() {
  return with_header(first_byte(PacketType::pingreq), "");
}

std::string encode_disconnect() {
  return with_header(first_byte(PacketType::disconnect), "");
}

Publish parse_publish(const Packet& p) {
  Publish m;
  m.qos = (p.flags >> 1) & 0x03;
  m.dup = (p.flags & 0x08) != 0;
  m.retain = (p.flags & 0x01) != 0;
  if (m.qos > 1) throw MalformedPacket("PUBLISH at QoS " + std::to_string(m.qos));
  const auto len = get_u16(p.body, 0, "PUBLISH topic");
  if (2 + static_cast<std::size_t>(len) > p.body.size()) {
    throw MalformedPacket("PUBLISH topic longer than the packet");
  }
  m.topic.assign(p.body, 2, len);
  if (m.topic.empty() || m.topic.find_first_of("+#") != std::string::npos ||
      m.topic.find('\0') != std::string::npos) {
    throw MalformedPacket("PUBLISH topic empty or with wildcards");
  }
  std::size_t at = 2 + len;
  if (m.qos == 1) {
    m.packet_id = get_u16(p.body, at, "PUBLISH packet id");
    if (m.packet_id == 0) throw MalformedPacket("PUBLISH packet id 0");
    at += 2;
  }
  m.payload.assign(p.body, at, std::string::npos);
  return m;
}

Connack parse_connack(const Packet& p) {
  if (p.body.size() != 2)
    throw MalformedPacket("CONNACK of " + std::to_string(p.body.size()) + " bytes, not 2");
  return {(p.body[0] & 0x01) != 0, static_cast<std::uint8_t>(p.body[1])};
}

std::string_view connack_reason(int return_code) {
  switch (return_code) {
    case 0:
      return "accepted";
    case 1:
      return "unacceptable protocol version";
    case 2:
      return "client identifier rejected";
    case 3:
      return "server unavailable";
    case 4:
      return "bad user name or password";
    case 5:
      return "not authorised";
    default:
      return "unknown return code";
  }
}

Suback parse_suback(const Packet& p) {
  Suback s;
  s.packet_id = get_u16(p.body, 0, "SUBACK");
  if (p.body.size() < 3) throw MalformedPacket("SUBACK without return codes");
  for (std::size_t k = 2; k < p.body.size(); ++k) {
    s.granted.push_back(static_cast<std::uint8_t>(p.body[k]));
  }
  return s;
}

std::uint16_t parse_puback(const Packet& p) {
  if (p.body.size() != 2) throw MalformedPacket("PUBACK not of 2 bytes");
  return get_u16(p.body, 0, "PUBACK");
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  while (true) {
    const auto fe = filter.find('/'), te = topic.find('/');
    const auto f = filter.substr(0, fe), t = topic.substr(0, te);
    if (f == "#") return true;
    if (f != "+" && f != t) return false;
    if (fe == std::string_view::npos || te == std::string_view::npos) {
      // "a/#" also matches "a" (§4.7.1.2).
      return (fe == std::string_view::npos && te == std::string_view::npos) ||
             (te == std::string_view::npos && filter.substr(fe + 1) == "#");
    }
    filter.remove_prefix(fe + 1);
    topic.remove_prefix(te + 1);
  }
}

}  // namespace remhart::mqtt
