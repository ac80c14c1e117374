#pragma once
// Meters publishing over MQTT (docs/mqtt.md): `<prefix>/<site>/<device>/measurement`, a payload of
// one sample or a JSON array of samples in the HTTP ingest's schema, through the same parser,
// validator and pipeline. A QoS 1 message is acknowledged only once its samples are durable
// (the store's commit); under back-pressure or a storage failure it stays unacknowledged and is
// tried again (the broker holds the rest back: it sends only so many unacknowledged messages).
// A message that can never be stored — a topic that is not a measurement topic, a malformed
// payload, samples of another device than the topic's, samples the validator refuses — is
// counted, logged (rate-limited), republished to the dead-letter topic with the reason, and
// acknowledged, so it is not redelivered forever.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/ingest_service.hpp"
#include "mqtt/client.hpp"

namespace remhart::obs {
class Counter;
class Registry;
}  // namespace remhart::obs

namespace remhart::ingest {

struct MqttSourceOptions {
  mqtt::ClientOptions client;  ///< broker, credentials, client id (the filter is set from prefix)
  std::string prefix = "remhart";
  /// Replicas share one subscription (`$share/<group>/…`): the broker gives each message to one
  /// of them. Empty: a plain subscription.
  std::string shared_group;
  /// Where refused messages go: `<dead_letter>` (default `<prefix>/dead-letter`).
  std::string dead_letter;
  std::chrono::milliseconds retry_after{1000};  ///< a message the store could not take yet
};

/// The site and device a measurement topic names.
struct MeasurementTopic {
  std::string site, device;
};
/// `<prefix>/<site>/<device>/measurement` with a valid device id and a non-empty site, or none.
std::optional<MeasurementTopic> parse_measurement_topic(std::string_view topic,
                                                        std::string_view prefix);

/// Why a message is refused, or none when its samples (all of the topic's device) may be
/// ingested; `batch` receives them.
std::optional<std::string> check_mqtt_message(std::string_view topic, std::string_view payload,
                                              std::string_view prefix, std::size_t max_batch,
                                              ParsedBatch& batch,
                                              const store::DeviceMap* devices = nullptr);

class MqttSource {
 public:
  MqttSource(IngestService& ingest, MqttSourceOptions options, obs::Registry* metrics = nullptr);
  ~MqttSource();
  void start();
  /// Disconnects; a message whose commit is still pending stays unacknowledged (the broker
  /// sends it again to the next session).
  void stop();
  bool connected() const;

 private:
  struct State;  // shared with the callbacks the store runs after a commit
  std::shared_ptr<State> state_;
};

}  // namespace remhart::ingest
