// The MQTT 3.1.1 codec: what it writes, what it reads back, and the malformed input it refuses.
#include "mqtt/packet.hpp"

#include <gtest/gtest.h>

#include "mqtt/client.hpp"

namespace remhart::mqtt {
namespace {

Packet read_one(const std::string& bytes, std::size_t max = 1 << 20) {
  PacketReader r(max);
  r.feed(bytes);
  auto p = r.next();
  EXPECT_TRUE(p.has_value());
  EXPECT_FALSE(r.next().has_value());
  return p.value_or(Packet{});
}

TEST(MqttPacket, PublishRoundTripsAtQos0And1) {
  const auto p0 = read_one(encode_publish("remhart/s/d/measurement", "{\"a\":1}", 0));
  EXPECT_EQ(p0.type, static_cast<std::uint8_t>(PacketType::publish));
  const auto m0 = parse_publish(p0);
  EXPECT_EQ(m0.topic, "remhart/s/d/measurement");
  EXPECT_EQ(m0.payload, "{\"a\":1}");
  EXPECT_EQ(m0.qos, 0);
  const auto m1 = parse_publish(read_one(encode_publish("t", std::string(300, 'x'), 1, 513)));
  EXPECT_EQ(m1.qos, 1);
  EXPECT_EQ(m1.packet_id, 513);
  EXPECT_EQ(m1.payload.size(), 300u);
}

// The remaining length is a variable byte integer: 1 byte to 127, 2 to 16,383, 3 to 2,097,151.
TEST(MqttPacket, RemainingLengthAtItsBoundaries) {
  for (const auto& [payload, header] : std::vector<std::pair<std::size_t, std::size_t>>{
           {127 - 3, 2}, {128 - 3, 3}, {16383 - 3, 3}, {16384 - 3, 4}, {2097152 - 3, 5}}) {
    const auto bytes = encode_publish("t", std::string(payload, 'x'), 0);
    EXPECT_EQ(bytes.size(), header + 3 + payload) << payload;
    EXPECT_EQ(parse_publish(read_one(bytes, 4 << 20)).payload.size(), payload);
  }
}

// A stream cut anywhere gives the same packets once all of it has come.
TEST(MqttPacket, AStreamFedByteByByte) {
  const std::string stream = encode_puback(7) + encode_publish("a/b", "hello", 1, 9) +
                             encode_pingreq() + std::string("\x20\x02\x01\x00", 4);
  PacketReader r(1024);
  std::vector<Packet> got;
  for (char c : stream) {
    r.feed(std::string_view(&c, 1));
    while (auto p = r.next()) got.push_back(*p);
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(parse_puback(got[0]), 7);
  EXPECT_EQ(parse_publish(got[1]).payload, "hello");
  EXPECT_EQ(got[2].type, static_cast<std::uint8_t>(PacketType::pingreq));
  const auto c = parse_connack(got[3]);
  EXPECT_TRUE(c.session_present);
  EXPECT_EQ(c.return_code, 0);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(MqttPacket, ConnectAndSubscribeAsTheStandardWritesThem) {
  ConnectOptions o;
  o.client_id = "remhart-a";
  o.keepalive_s = 30;
  o.username = "u";
  o.password = "p";
  const auto c = encode_connect(o);
  // 0x10, length, "MQTT", level 4, flags: user + password, clean session off; keep-alive 30.
  EXPECT_EQ(c.substr(0, 1), "\x10");
  EXPECT_EQ(c.substr(2, 6), std::string("\x00\x04MQTT", 6));
  EXPECT_EQ(static_cast<std::uint8_t>(c[8]), 4);
  EXPECT_EQ(static_cast<std::uint8_t>(c[9]), 0xC0);
  EXPECT_EQ(c.substr(10, 2), std::string("\x00\x1e", 2));
  const auto s = encode_subscribe(1, "remhart/+/+/measurement", 1);
  EXPECT_EQ(static_cast<std::uint8_t>(s[0]), 0x82);  // SUBSCRIBE's fixed flags 0010
  EXPECT_EQ(s.back(), '\x01');
}

TEST(MqttPacket, MalformedInputIsRefused) {
  PacketReader five(1 << 20);  // a remaining length of five bytes
  five.feed(std::string("\x30\xff\xff\xff\xff\x01", 6));
  EXPECT_THROW(five.next(), MalformedPacket);
  PacketReader small(64);  // over the bound: refused before its body arrives
  small.feed(encode_publish("t", std::string(100, 'x'), 0).substr(0, 3));
  EXPECT_THROW(small.next(), MalformedPacket);
  PacketReader partial(64);  // not refused while it is merely incomplete
  partial.feed(std::string("\x30", 1));
  EXPECT_FALSE(partial.next().has_value());

  const auto bad = [](std::uint8_t flags, const std::string& body) {
    return parse_publish(Packet{3, flags, body});
  };
  EXPECT_THROW(bad(0, std::string("\x00\x09"
                                  "ab",
                                  4)),
               MalformedPacket);  // topic past the end
  EXPECT_THROW(bad(0, std::string("\x00\x00"
                                  "x",
                                  3)),
               MalformedPacket);  // empty topic
  EXPECT_THROW(bad(0, std::string("\x00\x03"
                                  "a/#",
                                  5)),
               MalformedPacket);  // a wildcard
  EXPECT_THROW(bad(2, std::string("\x00\x01"
                                  "a",
                                  3)),
               MalformedPacket);  // QoS 1 without id
  EXPECT_THROW(bad(2, std::string("\x00\x01"
                                  "a\x00\x00",
                                  5)),
               MalformedPacket);  // id 0
  EXPECT_THROW(bad(4, std::string("\x00\x01"
                                  "a\x00\x01",
                                  5)),
               MalformedPacket);  // QoS 2
  EXPECT_THROW(bad(6, std::string("\x00\x01"
                                  "a\x00\x01",
                                  5)),
               MalformedPacket);                                  // QoS 3
  EXPECT_THROW(bad(0, std::string("\x00", 1)), MalformedPacket);  // no topic length
  EXPECT_THROW(parse_connack(Packet{2, 0, "\x00"}), MalformedPacket);
  EXPECT_THROW(parse_suback(Packet{9, 0, std::string("\x00\x01", 2)}), MalformedPacket);
  EXPECT_THROW(parse_puback(Packet{4, 0, "\x01"}), MalformedPacket);
  EXPECT_EQ(connack_reason(5), "not authorised");
}

TEST(MqttPacket, TopicFilters) {
  EXPECT_TRUE(topic_matches("remhart/+/+/measurement", "remhart/north/m1/measurement"));
  EXPECT_FALSE(topic_matches("remhart/+/+/measurement", "remhart/north/measurement"));
  EXPECT_FALSE(topic_matches("remhart/+/+/measurement", "remhart/a/b/c/measurement"));
  EXPECT_TRUE(topic_matches("remhart/#", "remhart/a/b/c"));
  EXPECT_TRUE(topic_matches("remhart/#", "remhart"));
  EXPECT_FALSE(topic_matches("remhart/+", "remhart"));
}

TEST(MqttClient, BrokerUrls) {
  const auto a = options_from_url("mqtt://broker.example:1884");
  EXPECT_EQ(a.host, "broker.example");
  EXPECT_EQ(a.port, 1884);
  const auto b = options_from_url("mqtt://10.0.0.5/");
  EXPECT_EQ(b.host, "10.0.0.5");
  EXPECT_EQ(b.port, 1883);
  const auto t = options_from_url("mqtts://broker.example");
  EXPECT_EQ(t.port, 8883);
  EXPECT_TRUE(t.tls.has_value());
  EXPECT_FALSE(a.tls.has_value());
  const auto c = options_from_url("mqtt://[::1]:1999");
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 1999);
  for (const char* bad : {"http://x", "mqtt://", "mqtt://x:0", "mqtt://x:70000", "mqtt://x:1a",
                          "mqtt://x/path", "mqtt://[::1", "mqtt://x:"}) {
    EXPECT_THROW(options_from_url(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace remhart::mqtt
