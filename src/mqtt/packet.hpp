#pragma once
// MQTT 3.1.1 packets (OASIS standard, 29 October 2014), as the ingestion client needs them:
// CONNECT, CONNACK, SUBSCRIBE, SUBACK, PUBLISH (QoS 0 and 1), PUBACK, PINGREQ, PINGRESP and
// DISCONNECT. A packet is a fixed header — type and flags in one byte, then the remaining length
// as a variable byte integer of at most four bytes (§2.2.3) — and a body. Strings are a two-byte
// big-endian length and UTF-8 bytes (§1.5.3). Pure encoding and decoding: no sockets here.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace remhart::mqtt {

enum class PacketType : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  subscribe = 8,
  suback = 9,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

/// A packet as read off the stream: its type (upper four bits of the first byte), flags (lower
/// four) and body (the remaining-length bytes).
struct Packet {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  std::string body;
};

/// A byte stream that is not MQTT 3.1.1 as this client speaks it; the connection must go.
class MalformedPacket : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Cuts a byte stream into packets, holding at most one packet's bytes (bounded by
/// `max_packet_bytes`, header included).
class PacketReader {
 public:
  explicit PacketReader(std::size_t max_packet_bytes) : max_(max_packet_bytes) {}
  /// Appends received bytes.
  void feed(std::string_view bytes) { buf_.append(bytes); }
  /// The next whole packet, or nothing until more bytes come. Throws MalformedPacket for a
  /// remaining length longer than four bytes or a packet over the bound (before its body comes).
  std::optional<Packet> next();
  std::size_t buffered() const { return buf_.size() - at_; }

 private:
  std::size_t max_;
  std::string buf_;
  std::size_t at_ = 0;  // start of the unread bytes in buf_
};

struct ConnectOptions {
  std::string client_id;
  bool clean_session = false;  ///< false: the broker keeps the session (subscriptions, unacked)
  std::uint16_t keepalive_s = 30;
  std::optional<std::string> username, password;
};

std::string encode_connect(const ConnectOptions& o);
/// One topic filter at `qos` (0 or 1).
std::string encode_subscribe(std::uint16_t packet_id, std::string_view filter, int qos);
/// `packet_id` is used only for QoS 1.
std::string encode_publish(std::string_view topic, std::string_view payload, int qos,
                           std::uint16_t packet_id = 0);
std::string encode_puback(std::uint16_t packet_id);
std::string encode_pingreq();
std::string encode_disconnect();

struct Publish {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool dup = false, retain = false;
  std::uint16_t packet_id = 0;  ///< QoS 1 only
};
/// Throws MalformedPacket: QoS 3 or 2 (this client subscribes at 1 at most), a topic longer
/// than the body, an empty topic or one with wildcards, a QoS 1 packet without its id.
Publish parse_publish(const Packet& p);

struct Connack {
  bool session_present = false;
  int return_code = 0;  ///< 0 accepted; 1–5 refused (§3.2.2.3)
};
Connack parse_connack(const Packet& p);
/// What CONNACK's return code means.
std::string_view connack_reason(int return_code);

/// The packet id a SUBACK answers, and the QoS granted to each filter (0x80: refused).
struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<int> granted;
};
Suback parse_suback(const Packet& p);
/// The packet id of a PUBACK.
std::uint16_t parse_puback(const Packet& p);

/// Whether `topic` matches the subscription `filter` (`+` one level, `#` the rest; §4.7).
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace remhart::mqtt
