#pragma once
// Serving the analytics models: the monitoring models (1–4) on every stored sample, the others
// on a schedule (every `schedule_s` of a device's sample time) and on demand: the store's commit
// listener hands committed samples to shards by device (one thread each, so one device's samples
// run in order and its feature state needs no lock), off the I/O and storage threads. Each shard
// keeps its devices' feature state, answers all four models per sample, caches the latest results,
// sends `analytics` WebSocket messages (at most one a second per device) and stores a result every
// `store_every_s` per device — and at once when the anomaly flag changes — for the history
// routes; every scheduled result is stored. A shard `max_queued` commits behind holds the storage
// writer back (ingestion then answers 503 and senders slow down: every sample is analysed); one
// stuck past `max_wait` loses a commit's analytics (counted), never stored samples.
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "analytics/decision.hpp"
#include "analytics/forecast.hpp"
#include "analytics/maintenance.hpp"
#include "analytics/monitoring.hpp"
#include "analytics/network.hpp"
#include "analytics/registry.hpp"
#include "core/periodic.hpp"
#include "core/thread_pool.hpp"
#include "features/features.hpp"
#include "sim/twin.hpp"
#include "store/ml_results.hpp"
#include "store/store.hpp"

namespace remhart::obs {
class Counter;
class Registry;
}  // namespace remhart::obs

namespace remhart::api {

class LiveHub;

/// The monitoring models, in SPEC order (the /api/ml/monitoring/{name} paths).
inline constexpr std::array<analytics::ModelId, 4> kMonitoringModels = {
    analytics::ModelId::voltage_anomaly, analytics::ModelId::harmonic_analysis,
    analytics::ModelId::frequency_stability, analytics::ModelId::phase_imbalance};

/// A scheduled model's result as the model gives it, serialised only when asked for, sent or
/// stored (most are neither: they run every minute and are stored every five); the network
/// models' results are JSON already.
using ScheduledValue =
    std::variant<nlohmann::json, analytics::EquipmentFailure, analytics::OverloadRisk,
                 analytics::PowerQualityIndex, analytics::VoltageSag,
                 analytics::ReactiveCompensation, analytics::LoadBalancing, analytics::LoadForecast,
                 analytics::DemandResponse>;

class AnalyticsService {
 public:
  struct Options {
    std::size_t shards = 2;
    std::size_t max_queued = 64;  ///< commits waiting per shard before the writer waits
    std::chrono::milliseconds max_wait{2000};  ///< the longest the writer waits for a shard
    double store_every_s = 300;            ///< history: one result per device and model this often
    double schedule_s = 60;                ///< the scheduled models, per device, this often
    double scheduled_store_every_s = 300;  ///< history: one of their results this often
    double network_schedule_s = 300;       ///< set-points and stability score this often
    std::int64_t retention_days = 90;      ///< stored results older than this are deleted
    /// Several replicas: whether this one keeps a device's state (device affinity); the
    /// samples of the others' devices are left to them. Empty: every device is this one's.
    std::function<bool(std::string_view device)> owns;
    /// Several replicas: the `analytics` messages of this replica's devices, for the others
    /// (their live streams and latest results). Empty: nothing is shared.
    std::function<void(const std::string& key, const std::string& data)> share;
    /// Several replicas: whether this one runs the network-level models now (the holder of
    /// their lease); the others serve the leader's results, shared through `share` and
    /// received by on_remote_results. Empty: always.
    std::function<bool()> leads_network;
  };
  /// `twin` is what trainings simulate.
  AnalyticsService(analytics::ModelRegistry& registry, store::Store& store,
                   store::MlResultRepository& results, LiveHub& hub,
                   std::shared_ptr<const sim::Twin> twin, Options options, obs::Registry* metrics,
                   core::ThreadPool::ErrorHandler on_error = {});
  ~AnalyticsService();
  AnalyticsService(const AnalyticsService&) = delete;
  AnalyticsService& operator=(const AnalyticsService&) = delete;

  /// The store's commit listener (storage thread: copies and queues).
  void on_commit(std::span<const store::CommittedSeries> committed);
  /// Samples other replicas stored (through Redis): those of the devices this one owns are
  /// analysed like its own commits (subscriber thread: copies and queues).
  void on_remote(const std::vector<store::StoredSample>& samples);
  /// An `analytics` message another replica shared for a device it owns, or for a whole network
  /// (`device` null, from the network models' leader): sent to this replica's live clients and
  /// kept as those latest results here (`latest_all`). A message that is not such an object is
  /// ignored.
  void on_remote_results(const std::string& key, const std::string& data);
  /// Loads the registry's active models (at start, after training or activation).
  void reload();
  /// Reloads when the registry's activations changed since the last load (another replica, or
  /// `remhart train`, activated a version); returns whether it did.
  bool refresh_models();
  /// Calls refresh_models() every `every` on a thread of its own until drain(); a failed check
  /// is logged and counted in `failures`.
  void watch_models(std::chrono::milliseconds every, obs::Counter* failures = nullptr);
  std::size_t models_loaded() const;
  /// Every device's latest items of a module's models (`device` empty: all devices).
  nlohmann::json latest_all(const std::string& origin, const std::string& device,
                            std::string_view module = "monitoring") const;
  /// The network-level models on a state estimate of `origin`'s active network model (called by
  /// the state estimator's thread): the energy loss of every estimate (stored every
  /// `store_every_s`), the set-points and the stability score every `network_schedule_s`, all
  /// cached, sent, shared and stored — on the replica that leads them (`leads_network`); the
  /// others leave them to it. Failures are logged and counted, never thrown.
  void on_network_state(const std::string& origin, std::int64_t network_id,
                        const std::shared_ptr<const grid::Network>& net,
                        const analytics::BusState& state, core::TimeUs at);
  /// Runs a module's scheduled models now on a device's current features (on demand) and
  /// returns their items — cached and sent as the schedule's are, not stored (a caller's
  /// requests never write history); nullopt when the device has no feature state (no sample
  /// since start). Throws core::Error (unavailable, retry after 2 s) when the device's shard
  /// does not get to it within 10 s.
  std::optional<nlohmann::json> evaluate_now(const std::string& origin, const std::string& device,
                                             std::string_view module);
  /// Forgets an origin (a deleted simulation run): its devices' feature state and latest results.
  void forget(const std::string& origin);
  /// Trains the models in the background when the registry has none (first start), publishes
  /// and serves them; `status()` says how far it is.
  void train_if_untrained();
  /// Trains the monitoring models in the background (`remhart train --seed --scale
  /// --run-minutes`),
  /// then publishes, activates and serves them; false while a training is running.
  bool start_training(std::uint64_t seed, double scale, double run_minutes = 30);
  /// off, running (stage and fraction), done, failed: …, or not_needed.
  std::string training_status() const;
  /// Analyses what is queued, stores the pending history, then stops (shutdown; a training in
  /// the background is cancelled).
  void drain();

 private:
  /// A device's latest results (serialised only when asked for, sent or stored).
  struct Latest {
    core::TimeUs ts = 0;
    std::int64_t samples_seen = 0;
    std::array<std::int64_t, kMonitoringModels.size()> versions{};  ///< 0: the model is absent
    analytics::VoltageAnomaly voltage;
    analytics::HarmonicAnalysis harmonic;
    analytics::FrequencyStability frequency;
    analytics::PhaseImbalance imbalance;
    double f_dev_hz = core::kAbsent;  ///< measured frequency − the device's nominal
  };
  /// Monitoring model `model`'s (index into kMonitoringModels) result, and its item.
  static nlohmann::json monitoring_json(const Latest& l, std::size_t model);
  static nlohmann::json item_json(const std::string& origin, const std::string& device,
                                  const Latest& l, std::size_t model);
  /// A scheduled model's latest result.
  struct Scheduled {
    analytics::ModelId model;
    core::TimeUs ts = 0;
    std::int64_t version = 0;
    std::int64_t samples_seen = 0;
    std::shared_ptr<const ScheduledValue> result;
  };
  static nlohmann::json result_json(const Scheduled& r);
  struct DeviceState {
    explicit DeviceState(features::DeviceRatings r) : features(r) {}
    features::DeviceFeatures features;
    features::FeatureVector f{};  // the latest sample's features
    core::TimeUs ts = 0;          // of that sample
    std::optional<core::TimeUs> last_stored, last_sent, last_scheduled, last_scheduled_stored,
        last_forecast, last_day_ahead_stored;
    bool day_ahead_due = false;  // within one batch: its day-ahead models wait for its end
    Latest latest;               // its newest results, published to latest_ at a batch's end
    bool latest_pending = false;
    core::TimeUs touched = 0;  // wall clock of its last sample: idle states are let go
    bool flagged = false;
  };
  struct Shard {
    explicit Shard(core::ThreadPool::ErrorHandler on_error) : pool(1, std::move(on_error)) {}
    std::unordered_map<std::string, DeviceState> states;  // shard thread only
    std::vector<store::MlResult> pending;                 // shard thread only
    core::TimeUs last_flush = 0, last_retention = 0, last_sweep = 0;
    core::ThreadPool pool;  // last: stops first
  };
  void analyse(Shard& shard, const std::vector<store::StoredSample>& samples);
  /// Runs `module`'s scheduled models (all of them when empty) on a device's state — the
  /// `regular` ones (maintenance, decision) and/or the `day_ahead` ones (load forecast, demand
  /// response): cached, sent, stored when `store`; returns the items.
  nlohmann::json run_scheduled(Shard& shard, const analytics::ActiveModels& models,
                               const std::string& key, const std::string& origin,
                               const std::string& device, const DeviceState& state,
                               std::string_view module, bool store, bool regular, bool day_ahead);
  /// A device's 15-minute mean active power over the last eight days before `ts` (the step in
  /// progress left out), from storage.
  analytics::LoadHistory load_history(const std::string& origin, const std::string& device,
                                      core::TimeUs ts) const;
  /// The shard that owns a device: always the same one.
  std::size_t shard_index(const std::string& device) const;
  /// Appends the other replicas' latest items of `module` (of `device`, or all) for devices
  /// `items` does not answer.
  void add_remote(nlohmann::json& items, const std::string& origin, const std::string& device,
                  std::string_view module) const;
  static constexpr std::size_t kMaxRemoteDevices = 100'000;  ///< (origin, device, module) entries
  /// Queues each shard's samples, holding the caller back while a shard is full (see above).
  void dispatch(std::vector<std::vector<store::StoredSample>> per_shard);
  void flush(Shard& shard);

  analytics::ModelRegistry& registry_;
  store::Store& store_;
  store::MlResultRepository& results_;
  LiveHub& hub_;
  std::shared_ptr<const sim::Twin> twin_;
  Options opt_;
  obs::Counter *analysed_ = nullptr, *dropped_ = nullptr, *out_of_order_ = nullptr;
  mutable std::mutex models_mu_;
  std::shared_ptr<const analytics::ActiveModels> models_;
  std::string models_stamp_;  // the registry's activation stamp when models_ was loaded
  mutable std::mutex latest_mu_;
  std::unordered_map<std::string, Latest> latest_;
  std::unordered_map<std::string, std::vector<Scheduled>> scheduled_;  // under latest_mu_
  // Other replicas' devices: "origin\ndevice\nmodule" → {model name: item}, from their messages.
  std::unordered_map<std::string, nlohmann::json> remote_;  // under latest_mu_
  /// Per origin: the network-level models' latest results (device "": the whole network).
  struct NetworkLatest {
    std::int64_t network_id = 0;
    std::vector<Scheduled> results;
    core::TimeUs last_scheduled = 0, last_stored = 0;
  };
  std::unordered_map<std::string, NetworkLatest> network_latest_;  // under latest_mu_
  obs::Counter *network_rounds_ = nullptr, *network_failures_ = nullptr;
  std::vector<std::unique_ptr<Shard>> shards_;
  mutable std::mutex training_mu_;
  std::string training_ = "off";
  std::atomic<bool> cancel_training_{false};
  std::jthread trainer_;
  std::unique_ptr<core::Periodic> model_watch_;  // last: stopped first
};

}  // namespace remhart::api
