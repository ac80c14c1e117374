#include "ingest/mqtt_source.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "obs/metrics.hpp"

namespace remhart::ingest {

using nlohmann::json;

std::optional<MeasurementTopic> parse_measurement_topic(std::string_view topic,
                                                        std::string_view prefix) {
  if (topic.size() <= prefix.size() + 1 || topic.substr(0, prefix.size()) != prefix ||
      topic[prefix.size()] != '/') {
    return std::nullopt;
  }
  topic.remove_prefix(prefix.size() + 1);
  const auto a = topic.find('/');
  if (a == std::string_view::npos) return std::nullopt;
  const auto b = topic.find('/', a + 1);
  if (b == std::string_view::npos || topic.substr(b + 1) != "measurement") return std::nullopt;
  MeasurementTopic t{std::string(topic.substr(0, a)), std::string(topic.substr(a + 1, b - a - 1))};
  if (t.site.empty() || !core::valid_device_id(t.device)) return std::nullopt;
  return t;
}

std::optional<std::string> check_mqtt_message(std::string_view topic, std::string_view payload,
                                              std::string_view prefix, std::size_t max_batch,
                                              ParsedBatch& batch, const store::DeviceMap* devices) {
  const auto t = parse_measurement_topic(topic, prefix);
  if (!t) {
    return "topic is not " + std::string(prefix) + "/<site>/<device>/measurement";
  }
  // A registered device publishes under its own site only (the ACLs grant site-wide topics).
  if (devices) {
    if (const auto d = devices->find(t->device);
        d != devices->end() && !d->second.site.empty() && d->second.site != t->site) {
      return "topic site '" + t->site + "' is not the site of device " + t->device + " ('" +
             d->second.site + "')";
    }
  }
  try {
    batch = parse_batch(payload, Format::json, max_batch);
  } catch (const core::Error& e) {
    return "payload: " + std::string(e.what());
  }
  for (const auto& s : batch.samples) {
    if (s.device != t->device) {
      return "a sample of device " + s.device + " on the topic of " + t->device;
    }
  }
  if (!batch.errors.empty()) {
    const auto& e = batch.errors.front();
    return "item " + std::to_string(e.index) + (e.field.empty() ? "" : " (" + e.field + ")") +
           ": " + e.message;
  }
  return std::nullopt;
}

struct MqttSource::State : std::enable_shared_from_this<MqttSource::State> {
  State(IngestService& i, MqttSourceOptions o) : ingest(i), opt(std::move(o)) {}
  IngestService& ingest;
  MqttSourceOptions opt;
  obs::Counter *stored = nullptr, *refused = nullptr, *retried = nullptr;
  std::unique_ptr<mqtt::Client> client;
  std::atomic<std::int64_t> last_warning_us{0};

  void on_message(mqtt::Message m, mqtt::Ack ack) {
    auto batch = std::make_shared<ParsedBatch>();
    const auto devices = ingest.devices();
    if (const auto why = check_mqtt_message(m.topic, m.payload, opt.prefix,
                                            ingest.options().max_batch, *batch, devices.get())) {
      return refuse(m, *why, ack);
    }
    submit(std::make_shared<const mqtt::Message>(std::move(m)), std::move(batch), std::move(ack));
  }

  void submit(std::shared_ptr<const mqtt::Message> m, std::shared_ptr<const ParsedBatch> batch,
              mqtt::Ack ack) {
    // Atomic: a message is stored whole or not at all, so acknowledging it means all of it.
    ingest.ingest(
        *batch, std::string(core::kOriginReal), true,
        [weak = weak_from_this(), m, batch, ack](IngestOutcome o) {
          const auto self = weak.lock();
          if (!self) return;  // stopped: unacknowledged, delivered again next session
          switch (o.status) {
            case IngestStatus::ok:
              if (self->stored) self->stored->inc();
              return ack();
            case IngestStatus::unprocessable: {
              const auto& e = o.reply.rejected.front();
              return self->refuse(
                  *m, "item " + std::to_string(e.index) + " (" + e.field + "): " + e.message, ack);
            }
            default:  // not stored: keep it unacknowledged and try again
              if (self->retried) self->retried->inc();
              self->client->after(self->opt.retry_after, [weak, m, batch, ack] {
                if (const auto again = weak.lock()) again->submit(m, batch, ack);
              });
          }
        });
  }

  void refuse(const mqtt::Message& m, const std::string& why, const mqtt::Ack& ack) {
    if (refused) refused->inc();
    const auto now = core::now_us();
    auto last = last_warning_us.load();
    if (now - last >= 10 * core::kUsPerSecond &&
        last_warning_us.compare_exchange_strong(last, now)) {
      spdlog::warn(
          "mqtt: refused a message on {}: {} (sent to {}; further refusals logged at most every "
          "10 s, counted in remhart_mqtt_refused_total)",
          m.topic, why, opt.dead_letter);
    }
    const json letter = {{"topic", m.topic}, {"error", why}, {"payload", m.payload}};
    client->publish(opt.dead_letter, letter.dump(-1, ' ', false, json::error_handler_t::replace));
    ack();
  }
};

MqttSource::MqttSource(IngestService& ingest, MqttSourceOptions options, obs::Registry* metrics)
    : state_(std::make_shared<State>(ingest, std::move(options))) {
  auto& o = state_->opt;
  if (o.dead_letter.empty()) o.dead_letter = o.prefix + "/dead-letter";
  o.client.filter = (o.shared_group.empty() ? "" : "$share/" + o.shared_group + "/") + o.prefix +
                    "/+/+/measurement";
  if (metrics) {
    state_->stored = &metrics->counter(
        "remhart_mqtt_stored_total", "MQTT messages whose samples were stored, then acknowledged");
    state_->refused = &metrics->counter(
        "remhart_mqtt_refused_total",
        "MQTT messages refused (bad topic, malformed payload, wrong device, invalid samples): "
        "sent to the dead-letter topic and acknowledged");
    state_->retried = &metrics->counter(
        "remhart_mqtt_retried_total",
        "MQTT messages the store could not take yet (back-pressure, full disk): tried again, "
        "unacknowledged meanwhile");
  }
  state_->client = std::make_unique<mqtt::Client>(
      o.client,
      [weak = std::weak_ptr<State>(state_)](mqtt::Message m, mqtt::Ack ack) {
        if (const auto self = weak.lock()) self->on_message(std::move(m), std::move(ack));
      },
      metrics);
}

MqttSource::~MqttSource() {
  stop();
}

void MqttSource::start() {
  state_->client->start();
}

void MqttSource::stop() {
  state_->client->stop();
}

bool MqttSource::connected() const {
  return state_->client->connected();
}

}  // namespace remhart::ingest
