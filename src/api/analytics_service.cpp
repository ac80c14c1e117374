#include "api/analytics_service.hpp"

#include <chrono>
#include <functional>
#include <thread>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include <future>

#include "analytics/decision.hpp"
#include "analytics/energy_training.hpp"
#include "analytics/forecast.hpp"
#include "analytics/maintenance.hpp"
#include "analytics/monitoring.hpp"
#include "analytics/training.hpp"
#include "api/context.hpp"
#include "api/live_hub.hpp"
#include "core/error.hpp"
#include "core/json_depth.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

using nlohmann::json;

namespace {

json voltage_json(const analytics::VoltageAnomaly& r) {
  return {{"anomaly_score", r.score}, {"is_anomaly", r.flag},   {"kind", r.kind},
          {"severity", r.severity},   {"v_min_pu", r.v_min_pu}, {"v_max_pu", r.v_max_pu}};
}

json harmonic_json(const analytics::HarmonicAnalysis& r) {
  return {{"thd_v_pct", r.thd_v_pct},
          {"thd_i_pct", r.thd_i_pct},
          {"thd_v_limit_ieee519_pct", r.thd_v_limit_pct},
          {"thd_v_limit_en50160_pct", analytics::kEn50160ThdVPct},
          {"thd_i_limit_ieee519_pct", analytics::kIeee519ThdIPct},
          {"category", r.category},
          {"pollution_probability", r.pollution_probability},
          {"pollution", r.pollution},
          {"dominant_harmonics", nullptr},
          {"dominant_harmonics_note", "meters report THD, not spectra"}};
}

json frequency_json(const analytics::FrequencyStability& r) {
  return {{"frequency_hz", r.f_hz},
          {"predicted_hz", r.predicted_hz},
          {"horizon_s", r.horizon_s},
          {"rocof_hz_s", r.rocof_hz_s},
          {"stability_score", r.stability_score},
          {"trend", r.trend}};
}

json imbalance_json(const analytics::PhaseImbalance& r) {
  json probs = json::object();
  for (int c = 0; c < analytics::kImbalanceClasses; ++c) {
    probs[std::string(analytics::imbalance_class_name(c))] = r.probabilities[c];
  }
  return {{"vuf_pct", r.vuf_pct},
          {"vu_nema_pct", r.vu_nema_pct},
          {"iuf_pct", r.iuf_pct},
          {"iu_nema_pct", r.iu_nema_pct},
          {"severity", analytics::imbalance_class_name(r.severity_class)},
          {"probabilities", probs},
          {"likely_cause", r.likely_cause}};
}

// Whether `period` has passed since `last` (or there was none yet, or `now_anyway`); then `last`
// becomes `now`. The cadences of a device's history, live messages and scheduled models.
bool take_turn(std::optional<core::TimeUs>& last, core::TimeUs now, core::TimeUs period,
               bool now_anyway = false) {
  if (!now_anyway && last && now - *last < period) return false;
  last = now;
  return true;
}

// A scheduled model's result for a device's features.
// The load forecast's interval and the clusters, as `remhart train` saved them.
analytics::ForecastInterval interval_of(const json& serving) {
  analytics::ForecastInterval in;
  const auto q10 = serving.value("q10", std::vector<double>{});
  const auto q90 = serving.value("q90", std::vector<double>{});
  for (std::size_t b = 0; b < analytics::kHorizonBands && b < q10.size() && b < q90.size(); ++b) {
    in.q10[b] = q10[b];
    in.q90[b] = q90[b];
  }
  return in;
}

analytics::ProfileClusters clusters_of(const json& serving) {
  analytics::ProfileClusters c;
  for (const auto& centroid : serving.value("centroids", json::array())) {
    analytics::DayShape shape{};
    for (std::size_t j = 0; j < shape.size() && j < centroid.size(); ++j) {
      shape[j] = centroid[j].get<double>();
    }
    c.centroids.push_back(shape);
  }
  c.names = serving.value("names", std::vector<std::string>{});
  c.names.resize(c.centroids.size(), "unnamed");
  return c;
}

ScheduledValue scheduled_result(const analytics::LoadedModel& m, analytics::ModelId id,
                                const core::Device& device, const features::FeatureVector& f,
                                const analytics::LoadHistory& history) {
  using analytics::ModelId;
  const double threshold = m.serving.value("threshold", 0.5);
  switch (id) {
    case ModelId::equipment_failure:
      return analytics::equipment_failure(m.gbt, threshold, f);
    case ModelId::overload_risk:
      return analytics::overload_risk(m.gbt, f);
    case ModelId::power_quality_index:
      return analytics::power_quality_index(f, device.nominal_frequency);
    case ModelId::voltage_sag:
      return analytics::voltage_sag(m.gbt, threshold, f);
    case ModelId::reactive_power:
      return analytics::reactive_compensation(
          f, 3 * device.nominal_voltage * device.rated_current / 1000);
    case ModelId::load_balancing:
      return analytics::load_balancing(f);
    case ModelId::load_forecast:
      return analytics::forecast_load(m.gbt, interval_of(m.serving), history);
    case ModelId::demand_response:
      return analytics::demand_response(clusters_of(m.serving), history);
    default:
      throw std::logic_error("not a scheduled model: " + std::string(analytics::info(id).name));
  }
}

// A network-level item: no device, the network model's version instead.
json network_item(const std::string& origin, std::int64_t network_id, core::TimeUs ts,
                  std::string_view model, std::int64_t version, json result) {
  return {{"device", nullptr},
          {"network_id", network_id},
          {"ts", core::format_rfc3339(ts)},
          {"origin", origin},
          {"model", model},
          {"version", version},
          {"result", std::move(result)},
          {"inputs_window", {{"state_estimate_at", core::format_rfc3339(ts)}}}};
}

// An item's device ("": the network's) and time (RFC 3339 of one width: ordered as text).
std::string device_of(const json& item) {
  const auto d = item.find("device");
  return d != item.end() && d->is_string() ? d->get<std::string>() : std::string();
}

std::string ts_of(const json& item) {
  const auto t = item.find("ts");
  return t != item.end() && t->is_string() ? t->get<std::string>() : std::string();
}

json item(const std::string& origin, const std::string& device, core::TimeUs ts,
          std::string_view model, std::int64_t version, json result, std::int64_t samples_seen) {
  return {{"device", device},
          {"ts", core::format_rfc3339(ts)},
          {"origin", origin},
          {"model", model},
          {"version", version},
          {"result", std::move(result)},
          {"inputs_window",
           {{"window_s", features::kWindowsS.back()}, {"samples_seen", samples_seen}}}};
}

}  // namespace

AnalyticsService::AnalyticsService(analytics::ModelRegistry& registry, store::Store& store,
                                   store::MlResultRepository& results, LiveHub& hub,
                                   std::shared_ptr<const sim::Twin> twin, Options options,
                                   obs::Registry* metrics, core::ThreadPool::ErrorHandler on_error)
    : registry_(registry),
      store_(store),
      results_(results),
      hub_(hub),
      twin_(std::move(twin)),
      opt_(options) {
  if (metrics) {
    analysed_ = &metrics->counter("remhart_analytics_samples_total",
                                  "Samples the monitoring models answered");
    dropped_ = &metrics->counter("remhart_analytics_dropped_total",
                                 "Stored samples not analysed: a shard was stuck past its wait");
    out_of_order_ = &metrics->counter(
        "remhart_analytics_out_of_order_total",
        "Samples older than their device's last one, left out of its feature state");
    network_rounds_ = &metrics->counter(
        "remhart_analytics_network_rounds_total",
        "Network-level analytics rounds this replica ran (with several replicas: their leader)");
    network_failures_ = &metrics->counter(
        "remhart_analytics_network_failures_total",
        "Network-level analytics rounds that failed (logged): a state the power flow cannot solve");
    metrics->gauge_fn("remhart_analytics_queued", "Commits waiting for the analytics shards",
                      [this] {
                        std::size_t n = 0;
                        for (const auto& s : shards_) n += s->pool.queued();
                        return static_cast<double>(n);
                      });
    metrics->gauge_fn("remhart_analytics_models_loaded", "Analytics models being served",
                      [this] { return static_cast<double>(models_loaded()); });
  }
  for (std::size_t k = 0; k < std::max<std::size_t>(1, opt_.shards); ++k) {
    shards_.push_back(std::make_unique<Shard>(on_error));
  }
  reload();
}

AnalyticsService::~AnalyticsService() {
  drain();
}

void AnalyticsService::reload() {
  // The stamp before the load: an activation meanwhile makes the next refresh load again.
  auto stamp = registry_.activation_stamp();
  auto loaded =
      std::make_shared<const analytics::ActiveModels>(analytics::load_active_models(registry_));
  const std::lock_guard lock(models_mu_);
  models_ = std::move(loaded);
  models_stamp_ = std::move(stamp);
}

bool AnalyticsService::refresh_models() {
  const auto stamp = registry_.activation_stamp();
  {
    const std::lock_guard lock(models_mu_);
    if (stamp == models_stamp_) return false;
  }
  reload();
  spdlog::info("analytics: the registry's activations changed: {} model(s) now served",
               models_loaded());
  return true;
}

void AnalyticsService::watch_models(std::chrono::milliseconds every, obs::Counter* failures) {
  model_watch_ = std::make_unique<core::Periodic>(
      "rh-models", every, [this] { refresh_models(); },
      [failures](const std::string& what) {
        if (failures) failures->inc();
        spdlog::warn("analytics: checking the model registry failed: {}", what);
      });
}

std::size_t AnalyticsService::models_loaded() const {
  const std::lock_guard lock(models_mu_);
  return models_ ? models_->count() : 0;
}

void AnalyticsService::on_commit(std::span<const store::CommittedSeries> committed) {
  if (models_loaded() == 0) return;
  std::vector<std::vector<store::StoredSample>> per(shards_.size());
  for (const auto& c : committed) {
    if (opt_.owns && !opt_.owns(c.device)) continue;  // another replica's device
    auto& to = per[shard_index(c.device)];
    for (const auto& r : c.records) to.push_back({c.device, c.origin, r});
  }
  dispatch(std::move(per));
}

void AnalyticsService::on_remote(const std::vector<store::StoredSample>& samples) {
  if (models_loaded() == 0 || !opt_.owns) return;
  std::vector<std::vector<store::StoredSample>> per(shards_.size());
  const std::string* last = nullptr;  // samples come grouped by device: one look-up a group
  bool mine = false;
  for (const auto& s : samples) {
    if (!last || *last != s.device) {
      last = &s.device;
      mine = opt_.owns(s.device);
    }
    if (mine) per[shard_index(s.device)].push_back(s);
  }
  dispatch(std::move(per));
}

void AnalyticsService::dispatch(std::vector<std::vector<store::StoredSample>> per) {
  for (std::size_t k = 0; k < shards_.size(); ++k) {
    if (per[k].empty()) continue;
    auto& shard = *shards_[k];
    // A shard behind holds the writer back (the store's queue fills and ingestion answers 503,
    // so senders slow down and every sample is still analysed) — for at most `max_wait`; a
    // shard stuck longer loses this commit's analytics, counted, never the stored samples.
    const auto deadline = std::chrono::steady_clock::now() + opt_.max_wait;
    while (shard.pool.queued() >= opt_.max_queued && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (shard.pool.queued() >= opt_.max_queued) {
      if (dropped_) dropped_->inc(per[k].size());
      continue;
    }
    auto batch = std::make_shared<std::vector<store::StoredSample>>(std::move(per[k]));
    shard.pool.post([this, &shard, batch] { analyse(shard, *batch); });
  }
}

std::size_t AnalyticsService::shard_index(const std::string& device) const {
  return std::hash<std::string>{}(device) % shards_.size();
}

json AnalyticsService::result_json(const Scheduled& r) {
  return std::visit(
      [](const auto& v) -> json {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, json>) {
          return v;
        } else {
          return analytics::to_json(v);
        }
      },
      *r.result);
}

json AnalyticsService::monitoring_json(const Latest& l, std::size_t k) {
  switch (k) {
    case 0:
      return voltage_json(l.voltage);
    case 1:
      return harmonic_json(l.harmonic);
    case 2:
      return frequency_json(l.frequency);
    default:
      return imbalance_json(l.imbalance);
  }
}

json AnalyticsService::item_json(const std::string& origin, const std::string& device,
                                 const Latest& l, std::size_t k) {
  return item(origin, device, l.ts, analytics::info(kMonitoringModels[k]).name, l.versions[k],
              monitoring_json(l, k), l.samples_seen);
}

json AnalyticsService::run_scheduled(Shard& shard, const analytics::ActiveModels& models,
                                     const std::string& key, const std::string& origin,
                                     const std::string& device, const DeviceState& state,
                                     std::string_view module, bool store, bool regular,
                                     bool day_ahead) {
  const auto devices = store_.devices();
  const auto d = devices->find(device);
  const core::Device registered = d != devices->end() ? d->second : core::Device{};
  std::vector<Scheduled> done;
  json items = json::array();
  // The items are for the caller on demand and for the live stream: built only when wanted.
  const bool want_items = !store || hub_.clients() > 0 || opt_.share;
  std::optional<analytics::LoadHistory> history;  // read once, when a model needs it
  for (const auto& info : analytics::kModels) {
    if (info.per_sample() || info.network || (!module.empty() && info.module != module)) {
      continue;
    }
    const bool daily = info.id == analytics::ModelId::load_forecast ||
                       info.id == analytics::ModelId::demand_response;
    if (daily ? !day_ahead : !regular) continue;
    const auto* m = models.get(info.id);
    if (!m) continue;
    if (daily && !history) history = load_history(origin, device, state.ts);
    static const analytics::LoadHistory kNone;
    done.push_back({info.id, state.ts, m->version, state.features.samples(),
                    std::make_shared<const ScheduledValue>(scheduled_result(
                        *m, info.id, registered, state.f, history ? *history : kNone))});
    if (!store && !want_items) continue;
    auto result = result_json(done.back());
    if (store) {
      shard.pending.push_back(
          {origin, device, std::string(info.name), state.ts, m->version, dump_json(result)});
    }
    if (want_items) {
      items.push_back(item(origin, device, state.ts, info.name, m->version, std::move(result),
                           state.features.samples()));
    }
  }
  if (done.empty()) return items;
  for (const auto mod : analytics::kModules) {  // one message per module
    if (!want_items || (hub_.clients() == 0 && !opt_.share)) break;
    json data = {{"device", device},
                 {"origin", origin},
                 {"ts", core::format_rfc3339(state.ts)},
                 {"module", mod},
                 {"results", json::object()}};
    for (std::size_t k = 0; k < done.size(); ++k) {
      if (analytics::info(done[k].model).module == mod) {
        data["results"][std::string(analytics::info(done[k].model).name)] = items[k];
      }
    }
    if (data["results"].empty()) continue;
    const auto text = dump_json(data);
    hub_.broadcast("analytics", key, text);
    if (opt_.share) opt_.share(key, text);
  }
  const std::lock_guard lock(latest_mu_);
  auto& cached = scheduled_[key];
  for (auto& r : done) {
    const auto same = std::find_if(cached.begin(), cached.end(),
                                   [&](const Scheduled& c) { return c.model == r.model; });
    if (same != cached.end()) {
      *same = std::move(r);
    } else {
      cached.push_back(std::move(r));
    }
  }
  return items;
}

void AnalyticsService::analyse(Shard& shard, const std::vector<store::StoredSample>& samples) {
  std::shared_ptr<const analytics::ActiveModels> models;
  {
    const std::lock_guard lock(models_mu_);
    models = models_;
  }
  if (!models || models->count() == 0) return;
  using analytics::ModelId;
  const auto* anomaly = models->get(ModelId::voltage_anomaly);
  const auto* harmonic = models->get(ModelId::harmonic_analysis);
  const auto* frequency = models->get(ModelId::frequency_stability);
  const auto* imbalance = models->get(ModelId::phase_imbalance);
  const double anomaly_threshold = anomaly ? anomaly->serving.value("threshold", 0.5) : 0.5;
  const double harmonic_threshold = harmonic ? harmonic->serving.value("threshold", 0.5) : 0.5;
  const auto schedule = static_cast<core::TimeUs>(opt_.schedule_s * core::kUsPerSecond);
  const auto keep_every =
      static_cast<core::TimeUs>(opt_.scheduled_store_every_s * core::kUsPerSecond);
  struct Due {  // a device whose day-ahead models run at the end of the batch
    DeviceState* state;
    std::string key;
    const store::StoredSample* sample;  // one of the device's in this batch (its names)
  };
  std::vector<Due> due;
  std::vector<std::pair<const std::string*, DeviceState*>> touched;  // their latest to publish
  const auto devices = store_.devices();
  const core::Device unknown;  // a device no longer registered: the default ratings
  const auto every = static_cast<core::TimeUs>(opt_.store_every_s * core::kUsPerSecond);
  std::string key;
  const auto now = core::now_us();
  for (const auto& s : samples) {
    key.assign(s.origin).append(1, '\n').append(s.device);
    const auto d = devices->find(s.device);
    const core::Device& device = d != devices->end() ? d->second : unknown;
    auto it = shard.states.find(key);
    if (it == shard.states.end()) {
      it = shard.states.emplace(key, DeviceState(features::ratings_of(device))).first;
    }
    auto& state = it->second;
    state.touched = now;
    // Only the feature state and the models: the network context is left unknown, as the
    // monitoring models were trained (docs/analytics.md).
    if (!state.features.update(s.record.ts, s.record.values, {}, state.f)) {
      if (out_of_order_) out_of_order_->inc();
      continue;
    }
    state.ts = s.record.ts;
    const auto& f = state.f;
    if (analysed_) analysed_->inc();
    Latest l;
    l.ts = s.record.ts;
    l.samples_seen = state.features.samples();
    if (anomaly) {
      l.voltage = analytics::voltage_anomaly(anomaly->gbt, anomaly_threshold, f);
      l.versions[0] = anomaly->version;
    }
    if (harmonic) {
      l.harmonic = analytics::harmonic_analysis(harmonic->gbt, harmonic_threshold,
                                                device.nominal_voltage, f);
      l.versions[1] = harmonic->version;
    }
    if (frequency) {
      l.frequency = analytics::frequency_stability(frequency->gbt, device.nominal_frequency, f);
      l.versions[2] = frequency->version;
    }
    if (imbalance) {
      l.imbalance = analytics::phase_imbalance(imbalance->gbt, f);
      l.versions[3] = imbalance->version;
    }
    l.f_dev_hz = f[features::index(features::F::f_dev_hz)];
    const bool flag = l.voltage.flag;
    // History: every `store_every_s`, and at once when the anomaly flag changes.
    if (take_turn(state.last_stored, s.record.ts, every, flag != state.flagged)) {
      for (std::size_t k = 0; k < kMonitoringModels.size(); ++k) {
        if (l.versions[k] == 0) continue;
        shard.pending.push_back({s.origin, s.device,
                                 std::string(analytics::info(kMonitoringModels[k]).name), l.ts,
                                 l.versions[k], dump_json(monitoring_json(l, k))});
      }
    }
    state.flagged = flag;
    if ((hub_.clients() > 0 || opt_.share) &&
        take_turn(state.last_sent, s.record.ts, core::kUsPerSecond)) {
      json data = {{"device", s.device},
                   {"origin", s.origin},
                   {"ts", core::format_rfc3339(l.ts)},
                   {"module", "monitoring"},
                   {"results", json::object()}};
      for (std::size_t k = 0; k < kMonitoringModels.size(); ++k) {
        if (l.versions[k] != 0) {
          data["results"][std::string(analytics::info(kMonitoringModels[k]).name)] =
              item_json(s.origin, s.device, l, k);
        }
      }
      const auto text = dump_json(data);
      hub_.broadcast("analytics", key, text);
      if (opt_.share) opt_.share(key, text);
    }
    if (!state.latest_pending) {  // published at the end of the batch, under one lock
      state.latest_pending = true;
      touched.push_back({&it->first, &state});
    }
    state.latest = l;
    // The scheduled models: every `schedule_s` of the device's sample time; the day-ahead ones
    // every 15 minutes of it, at most once per batch, on the device's newest sample (they read
    // its stored history: a backfill's batch holds many steps of a device, whose forecasts would
    // be superseded at once).
    if (take_turn(state.last_scheduled, s.record.ts, schedule)) {
      // Their history downsampled: one result per model every `scheduled_store_every_s`.
      const bool keep = take_turn(state.last_scheduled_stored, s.record.ts, keep_every);
      run_scheduled(shard, *models, key, s.origin, s.device, state, "", keep, true, false);
    }
    constexpr auto kForecastEvery =
        static_cast<core::TimeUs>(analytics::kForecastStepS * core::kUsPerSecond);
    if (!state.day_ahead_due &&
        (!state.last_forecast || s.record.ts - *state.last_forecast >= kForecastEvery)) {
      state.day_ahead_due = true;
      due.push_back({&state, key, &s});
    }
  }
  {
    const std::lock_guard lock(latest_mu_);
    for (const auto& [k, state] : touched) {
      latest_.insert_or_assign(*k, state->latest);
      state->latest_pending = false;
    }
  }
  // Their history once an hour of the device's samples: a forecast is 96 steps (about 10 KB),
  // one every 15 minutes for 1,000 devices would be about 1 GB a day of history.
  constexpr core::TimeUs kDayAheadStoreEvery = 3600 * core::kUsPerSecond;
  for (auto& [state, key, named] : due) {
    state->day_ahead_due = false;
    state->last_forecast = state->ts;
    const bool keep = take_turn(state->last_day_ahead_stored, state->ts, kDayAheadStoreEvery);
    run_scheduled(shard, *models, key, named->origin, named->device, *state, "", keep, false, true);
  }
  // A device silent for an hour gives up its feature state (its windows would have emptied
  // anyway; a deleted run's devices never come back).
  constexpr core::TimeUs kIdle = 3600 * core::kUsPerSecond;
  if (now - shard.last_sweep >= kIdle / 6) {
    shard.last_sweep = now;
    const auto idle = [&](const auto& kv) { return now - kv.second.touched > kIdle; };
    {
      // Its latest results go too: the cache stays as large as the devices reporting.
      const std::lock_guard lock(latest_mu_);
      for (const auto& kv : shard.states) {
        if (idle(kv)) {
          latest_.erase(kv.first);
          scheduled_.erase(kv.first);
        }
      }
    }
    std::erase_if(shard.states, idle);
  }
  if (shard.pending.size() >= 512 || now - shard.last_flush >= 2 * core::kUsPerSecond) {
    flush(shard);
    shard.last_flush = now;
  }
  // Retention: the first shard, once an hour, for all (the history is one table).
  constexpr core::TimeUs kHour = 3600 * core::kUsPerSecond;
  if (&shard == shards_.front().get() && now - shard.last_retention >= kHour) {
    shard.last_retention = now;
    results_.delete_before(now - opt_.retention_days * 24 * kHour);
  }
}

void AnalyticsService::flush(Shard& shard) {
  if (shard.pending.empty()) return;
  auto rows = std::move(shard.pending);
  shard.pending.clear();
  results_.insert(rows);  // throws into the pool's error handler: logged and counted
}

analytics::LoadHistory AnalyticsService::load_history(const std::string& origin,
                                                      const std::string& device,
                                                      core::TimeUs ts) const {
  const auto step = static_cast<core::TimeUs>(analytics::kForecastStepS * core::kUsPerSecond);
  analytics::LoadHistory h;
  const core::TimeUs to = ts / step * step;  // the step in progress is not over
  h.start = to - static_cast<core::TimeUs>(analytics::kHistorySteps) * step;
  h.p_kw.assign(analytics::kHistorySteps, core::kAbsent);
  store::SeriesQuery q;
  q.device = device;
  q.origin = origin;
  q.from = h.start;
  q.to = to;
  q.step = step;
  q.fields = {*core::field_index("p_total")};
  for (const auto& point : store_.series(q)) {
    const auto k = (point.ts - h.start) / step;
    if (k >= 0 && k < static_cast<core::TimeUs>(h.p_kw.size()) && !point.values.empty()) {
      h.p_kw[static_cast<std::size_t>(k)] = point.values[0] / 1000;  // W → kW
    }
  }
  // Leading steps with nothing: not part of the history (a device that started recently).
  std::size_t first = 0;
  while (first < h.p_kw.size() && std::isnan(h.p_kw[first])) ++first;
  h.p_kw.erase(h.p_kw.begin(), h.p_kw.begin() + static_cast<std::ptrdiff_t>(first));
  h.start += static_cast<core::TimeUs>(first) * step;
  return h;
}

json AnalyticsService::latest_all(const std::string& origin, const std::string& device,
                                  std::string_view module) const {
  // Copied under the lock, serialised after it: the shards take that lock on every sample.
  const auto wanted = [&](const std::string& key) -> std::optional<std::string> {
    const auto nl = key.find('\n');
    if (nl != origin.size() || key.compare(0, nl, origin) != 0) return std::nullopt;
    if (!device.empty() && key.compare(nl + 1, std::string::npos, device) != 0) return std::nullopt;
    return key.substr(nl + 1);
  };
  json items = json::array();
  if (module == "monitoring") {
    std::vector<std::pair<std::string, Latest>> found;
    {
      const std::lock_guard lock(latest_mu_);
      for (const auto& [key, l] : latest_) {
        if (auto dev = wanted(key)) found.emplace_back(std::move(*dev), l);
      }
    }
    for (const auto& [dev, l] : found) {
      for (std::size_t k = 0; k < kMonitoringModels.size(); ++k) {
        if (l.versions[k] != 0) items.push_back(item_json(origin, dev, l, k));
      }
    }
    add_remote(items, origin, device, module);
    return items;
  }
  std::vector<std::pair<std::string, Scheduled>> found;
  std::int64_t network_id = 0;
  {
    const std::lock_guard lock(latest_mu_);
    if (const auto n = network_latest_.find(origin); n != network_latest_.end() && device.empty()) {
      network_id = n->second.network_id;
      for (const auto& r : n->second.results) {
        if (analytics::info(r.model).module == module) found.emplace_back("", r);
      }
    }
    for (const auto& [key, results] : scheduled_) {
      const auto dev = wanted(key);
      if (!dev) continue;
      for (const auto& r : results) {
        if (analytics::info(r.model).module == module) found.emplace_back(*dev, r);
      }
    }
  }
  for (const auto& [dev, r] : found) {
    if (dev.empty()) {
      items.push_back(network_item(origin, network_id, r.ts, analytics::info(r.model).name,
                                   r.version, result_json(r)));
    } else {
      items.push_back(item(origin, dev, r.ts, analytics::info(r.model).name, r.version,
                           result_json(r), r.samples_seen));
    }
  }
  add_remote(items, origin, device, module);
  return items;
}

void AnalyticsService::add_remote(json& items, const std::string& origin, const std::string& device,
                                  std::string_view module) const {
  // Per device (and "": the network), the newest of this replica's results and those another
  // shared: a device that moved here is answered from here once it has a sample here, one that
  // moved away (or a network model's lead that did) from its new owner once that has one.
  std::unordered_map<std::string, std::string> newest_here;
  for (const auto& i : items) {
    auto& newest = newest_here[device_of(i)];
    newest = std::max(newest, ts_of(i));
  }
  std::unordered_set<std::string> superseded;
  json shared = json::array();
  {
    const std::lock_guard lock(latest_mu_);
    for (const auto& [key, results] : remote_) {
      const auto a = key.find('\n');
      const auto b = key.rfind('\n');
      if (key.compare(0, a, origin) != 0 || a != origin.size()) continue;
      const auto dev = key.substr(a + 1, b - a - 1);
      // A device filter leaves the network's results out, as it does here.
      if ((!device.empty() && dev != device) ||
          key.compare(b + 1, std::string::npos, module) != 0 || !results.is_object()) {
        continue;
      }
      std::string newest;
      for (const auto& [name, item] : results.items()) newest = std::max(newest, ts_of(item));
      if (const auto here = newest_here.find(dev); here != newest_here.end()) {
        if (here->second >= newest) continue;
        superseded.insert(dev);
      }
      for (const auto& [name, item] : results.items()) shared.push_back(item);
    }
  }
  if (!superseded.empty()) {
    json kept = json::array();
    for (auto& i : items) {
      if (!superseded.count(device_of(i))) kept.push_back(std::move(i));
    }
    items = std::move(kept);
  }
  for (auto& i : shared) items.push_back(std::move(i));
}

void AnalyticsService::on_remote_results(const std::string& key, const std::string& data) {
  if (core::json_too_deep(data)) return;  // bounded like every JSON from outside the process
  auto m = json::parse(data, nullptr, false);
  if (!m.is_object() || !m.contains("device") ||
      !(m["device"].is_string() || m["device"].is_null()) || !m.contains("origin") ||
      !m["origin"].is_string() || !m.contains("module") || !m["module"].is_string() ||
      !m.contains("results") || !m["results"].is_object()) {
    return;
  }
  // A network's results (device null) are kept under the device "".
  const auto slot = m["origin"].get<std::string>() + '\n' +
                    (m["device"].is_null() ? std::string() : m["device"].get<std::string>()) +
                    '\n' + m["module"].get<std::string>();
  {
    const std::lock_guard lock(latest_mu_);
    auto it = remote_.find(slot);
    // Bounded by the devices the replicas share, with a ceiling against a flood of names.
    if (it == remote_.end() && remote_.size() < kMaxRemoteDevices) {
      it = remote_.emplace(slot, json::object()).first;
    }
    if (it != remote_.end()) {
      for (auto& [name, item] : m["results"].items()) it->second[name] = std::move(item);
    }
  }
  hub_.broadcast("analytics", key, data);
}

void AnalyticsService::on_network_state(const std::string& origin, std::int64_t network_id,
                                        const std::shared_ptr<const grid::Network>& net,
                                        const analytics::BusState& state, core::TimeUs at) {
  // Several replicas: the leader runs them, stores their history and shares their results; the
  // others take those (what they computed while they led would only shadow them) — or, with
  // nothing shared (no Redis), compute their own for their clients and store none.
  const bool leads = !opt_.leads_network || opt_.leads_network();
  if (!leads && opt_.share) {
    const std::lock_guard lock(latest_mu_);
    network_latest_.erase(origin);
    return;
  }
  std::shared_ptr<const analytics::ActiveModels> models;
  {
    const std::lock_guard lock(models_mu_);
    models = models_;
  }
  if (!models || !net) return;
  using analytics::ModelId;
  bool due = false, store_loss = false;
  double f_dev = 0, f_n = 0;
  std::shared_ptr<const ScheduledValue> head_forecast;  // the feeder head's latest load forecast
  core::TimeUs head_ts = 0;
  const auto head = twin_ ? analytics::head_device_id(*twin_) : std::string();
  {
    const std::lock_guard lock(latest_mu_);
    if (const auto it = scheduled_.find(origin + '\n' + head);
        !head.empty() && it != scheduled_.end()) {
      for (const auto& r : it->second) {
        if (r.model == ModelId::load_forecast) {
          head_forecast = r.result;
          head_ts = r.ts;
        }
      }
    }
    auto& n = network_latest_[origin];
    const auto every = static_cast<core::TimeUs>(opt_.network_schedule_s * core::kUsPerSecond);
    due = n.network_id != network_id || at - n.last_scheduled >= every;
    store_loss = due || at - n.last_stored >=
                            static_cast<core::TimeUs>(opt_.store_every_s * core::kUsPerSecond);
    // The frequency is the system's: the mean deviation the devices of this origin measure.
    const auto prefix = origin + '\n';
    for (const auto& [key, l] : latest_) {
      if (key.starts_with(prefix) && std::isfinite(l.f_dev_hz)) {
        f_dev += l.f_dev_hz;
        f_n += 1;
      }
    }
  }
  std::vector<Scheduled> done;
  try {
    std::optional<grid::Network> base;
    const auto injections = [&]() -> const grid::Network& {
      if (!base) base = analytics::injections_of(*net, state);
      return *base;
    };
    const bool twins =
        twin_ && twin_->network.buses.size() == net->buses.size() &&
        std::equal(net->buses.begin(), net->buses.end(), twin_->network.buses.begin(),
                   [](const auto& x, const auto& y) { return x.id == y.id; });
    const auto add = [&](ModelId id, json result) {
      done.push_back({id, at, models->get(id)->version, 0,
                      std::make_shared<const ScheduledValue>(std::move(result))});
    };
    if (models->get(ModelId::energy_loss)) {
      add(ModelId::energy_loss, analytics::to_json(analytics::energy_loss(*net, state)));
    }
    if (due && models->get(ModelId::power_flow)) {
      const auto& b = injections();
      analytics::Controls controls;
      if (twins) {
        controls = analytics::twin_controls(*twin_, b);
      } else {  // another model: its tap-changing transformers
        for (std::size_t k = 0; k < b.branches.size(); ++k) {
          if (b.branches[k].in_service && b.branches[k].ratio != 0) controls.taps.push_back(k);
        }
      }
      add(ModelId::power_flow,
          analytics::to_json(analytics::optimise_setpoints(b, controls), b, controls));
    }
    // The battery plan over the feeder head's forecast (the twin's batteries, when the model is
    // the twin's network and the head has a forecast).
    const auto* forecast =
        head_forecast ? std::get_if<analytics::LoadForecast>(head_forecast.get()) : nullptr;
    if (due && twins && forecast && forecast->status == "ok" &&
        models->get(ModelId::optimal_dispatch)) {
      const std::vector<double> p(forecast->p50.begin(), forecast->p50.end());
      const auto battery = analytics::twin_battery(*twin_);
      const auto step = static_cast<core::TimeUs>(analytics::kForecastStepS * core::kUsPerSecond);
      if (battery.power_kw > 0) {
        const auto plan = analytics::shave_peak(p, battery, analytics::kForecastStepS / 3600);
        auto result = analytics::to_json(plan, head_ts / step * step, battery);
        result["feeder_head_device"] = head;
        add(ModelId::optimal_dispatch, std::move(result));
      }
    }
    if (due && models->get(ModelId::stability_score)) {
      const double df = f_n > 0 ? f_dev / f_n : core::kAbsent;
      add(ModelId::stability_score,
          analytics::to_json(analytics::stability_score(injections(), df)));
    }
  } catch (const std::exception& e) {
    spdlog::warn("analytics: network models of {}: {}", origin, e.what());
    if (network_failures_) network_failures_->inc();
    return;
  }
  if (network_rounds_) network_rounds_->inc();
  if (done.empty()) return;
  std::vector<store::MlResult> rows;
  for (const auto& r : done) {
    if (!leads || (r.model == ModelId::energy_loss && !store_loss)) continue;
    rows.push_back({origin, "", std::string(analytics::info(r.model).name), r.ts, r.version,
                    dump_json(result_json(r))});
  }
  for (const auto mod : analytics::kModules) {
    if (hub_.clients() == 0 && !opt_.share) break;
    json data = {{"device", nullptr}, {"network_id", network_id},
                 {"origin", origin},  {"ts", core::format_rfc3339(at)},
                 {"module", mod},     {"results", json::object()}};
    for (const auto& r : done) {
      if (analytics::info(r.model).module != mod) continue;
      const auto name = analytics::info(r.model).name;
      data["results"][std::string(name)] =
          network_item(origin, network_id, r.ts, name, r.version, result_json(r));
    }
    if (data["results"].empty()) continue;
    auto text = dump_json(data);
    if (opt_.share) opt_.share(origin + "\n", text);
    hub_.broadcast("analytics", origin + "\n", std::move(text));
  }
  {
    const std::lock_guard lock(latest_mu_);
    auto& n = network_latest_[origin];
    if (n.network_id != network_id) n.results.clear();
    n.network_id = network_id;
    if (due) n.last_scheduled = at;
    if (store_loss) n.last_stored = at;
    for (auto& r : done) {
      const auto same = std::find_if(n.results.begin(), n.results.end(),
                                     [&](const Scheduled& c) { return c.model == r.model; });
      if (same != n.results.end()) {
        *same = std::move(r);
      } else {
        n.results.push_back(std::move(r));
      }
    }
  }
  if (rows.empty()) return;
  try {
    results_.insert(rows);
  } catch (const std::exception& e) {
    spdlog::warn("analytics: storing the network models' results: {}", e.what());
    if (network_failures_) network_failures_->inc();
  }
}

std::optional<json> AnalyticsService::evaluate_now(const std::string& origin,
                                                   const std::string& device,
                                                   std::string_view module) {
  std::shared_ptr<const analytics::ActiveModels> models;
  {
    const std::lock_guard lock(models_mu_);
    models = models_;
  }
  if (!models) return std::nullopt;
  auto& shard = *shards_[shard_index(device)];
  auto done = std::make_shared<std::promise<std::optional<json>>>();
  auto answer = done->get_future();
  const std::string key = origin + '\n' + device;
  shard.pool.post([this, &shard, models, key, origin, device, module = std::string(module), done] {
    try {
      const auto it = shard.states.find(key);
      if (it == shard.states.end() || it->second.features.samples() == 0) {
        done->set_value(std::nullopt);
        return;
      }
      done->set_value(run_scheduled(shard, *models, key, origin, device, it->second, module, false,
                                    true, true));
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  });
  // The device's shard may be busy with a backlog (a backfill): busy, not absent.
  if (answer.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    throw core::Error(core::ErrorKind::unavailable,
                      "the analytics of this device are busy with a backlog: retry shortly", "", 2);
  }
  return answer.get();
}

void AnalyticsService::train_if_untrained() {
  if (!registry_.names().empty()) {
    const std::lock_guard lock(training_mu_);
    training_ = "not_needed";
    return;
  }
  spdlog::info("analytics: no trained models: training them in the background");
  start_training(1, 1);
}

bool AnalyticsService::start_training(std::uint64_t seed, double scale, double run_minutes) {
  const std::lock_guard lock(training_mu_);
  if (training_.starts_with("running")) return false;
  training_ = "running";
  if (trainer_.joinable()) trainer_.join();  // the last training, finished
  trainer_ = std::jthread([this, twin = twin_, seed, scale, run_minutes] {
    analytics::TrainOptions opt;
    opt.seed = seed;
    opt.scale = scale;
    opt.run_s = run_minutes * 60;
    opt.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    opt.cancel = &cancel_training_;
    opt.progress = [this](std::string_view stage, double fraction) {
      const std::lock_guard lock(training_mu_);
      training_ = "running: " + std::string(stage) + " " +
                  std::to_string(static_cast<int>(fraction * 100)) + " %";
    };
    std::string outcome;
    try {
      const auto models = analytics::train_models(*twin, opt);
      const auto now = core::now_us();
      for (const auto& m : models) registry_.publish(m, now);
      reload();
      outcome = "done";
      spdlog::info("analytics: {} models trained and served", models.size());
    } catch (const analytics::TrainingCancelled&) {
      outcome = "cancelled";
    } catch (const std::exception& e) {
      outcome = std::string("failed: ") + e.what();
      spdlog::error("analytics: training failed: {}", e.what());
    } catch (...) {
      outcome = "failed: unknown error";
      spdlog::error("analytics: training failed with an unknown error");
    }
    const std::lock_guard lock(training_mu_);
    training_ = outcome;
  });
  return true;
}

void AnalyticsService::forget(const std::string& origin) {
  const auto prefix = origin + '\n';
  for (auto& s : shards_) {
    auto* shard = s.get();
    shard->pool.post([shard, prefix] {
      std::erase_if(shard->states, [&](const auto& kv) { return kv.first.starts_with(prefix); });
    });
  }
  const std::lock_guard lock(latest_mu_);
  std::erase_if(latest_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
  std::erase_if(scheduled_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
  std::erase_if(remote_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
  network_latest_.erase(origin);
}

std::string AnalyticsService::training_status() const {
  const std::lock_guard lock(training_mu_);
  return training_;
}

void AnalyticsService::drain() {
  model_watch_.reset();
  cancel_training_ = true;
  if (trainer_.joinable()) trainer_.join();
  for (auto& s : shards_) {
    auto* shard = s.get();
    shard->pool.post([this, shard] { flush(*shard); });
    shard->pool.drain();
  }
}

}  // namespace remhart::api
