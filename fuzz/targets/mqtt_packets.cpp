// MQTT: a byte stream as a broker sends it (split where the first byte says), each packet parsed
// as its type says, and each PUBLISH through the ingestion's topic and payload checks.
#include "fuzz.hpp"
#include "ingest/mqtt_source.hpp"
#include "mqtt/packet.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace remhart::mqtt;
  const auto text = remhart::fuzz::text(data, size);
  PacketReader reader(64 * 1024);
  const std::size_t cut = size ? data[0] % (size + 1) : 0;
  try {
    for (const auto part : {text.substr(0, cut), text.substr(cut)}) {
      reader.feed(part);
      while (auto p = reader.next()) {
        switch (static_cast<PacketType>(p->type)) {
          case PacketType::publish: {
            const auto m = parse_publish(*p);
            remhart::ingest::ParsedBatch batch;
            (void)remhart::ingest::check_mqtt_message(m.topic, m.payload, "remhart", 100, batch);
            (void)topic_matches("remhart/+/+/measurement", m.topic);
            break;
          }
          case PacketType::connack:
            (void)connack_reason(parse_connack(*p).return_code);
            break;
          case PacketType::suback:
            (void)parse_suback(*p);
            break;
          case PacketType::puback:
            (void)parse_puback(*p);
            break;
          default:
            break;
        }
      }
    }
  } catch (const MalformedPacket&) {
  }
  return 0;
}
