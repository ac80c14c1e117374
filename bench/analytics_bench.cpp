// The analytics on one core. The monitoring models: features plus all four per sample (p50/p99
// latency, and samples/s as a stream). Every model of one device from its current state and its
// eight days of 15-minute history, together (p50/p99), against the original's 48 ms per sample.
// The network-level models on the demo twin's state, each (median ms). Models come from a
// registry (REMHART_BENCH_MODELS, made by `scripts/bench analytics` with `remhart train`, the
// default set); samples from simulated runs of the demo twin (a voltage sag, 13 meters, 30
// minutes at 1 s; eight days at 15 minutes for the history).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

#include "analytics/catalogue.hpp"
#include "analytics/dataset.hpp"
#include "analytics/decision.hpp"
#include "analytics/energy_training.hpp"
#include "analytics/forecast.hpp"
#include "analytics/maintenance.hpp"
#include "analytics/monitoring.hpp"
#include "analytics/network.hpp"
#include "analytics/registry.hpp"
#include "sim/io/twin_json.hpp"

using namespace remhart;
using Clock = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Sample {
  std::size_t device;
  core::TimeUs ts;
  core::Values values;
};

}  // namespace

int main() {
  const char* dir = std::getenv("REMHART_BENCH_MODELS");
  if (!dir) {
    std::cerr << "set REMHART_BENCH_MODELS to a model registry (scripts/bench analytics does)\n";
    return 1;
  }
  const analytics::ModelRegistry registry(dir);
  const auto active = analytics::load_active_models(registry);
  using analytics::ModelId;
  for (const auto& info : analytics::kModels) {
    if (!active.get(info.id)) {
      std::cerr << "the registry at " << dir << " lacks " << info.name << "\n";
      return 1;
    }
  }
  const auto& anomaly = *active.get(ModelId::voltage_anomaly);
  const auto& harmonic = *active.get(ModelId::harmonic_analysis);
  const auto& frequency = *active.get(ModelId::frequency_stability);
  const auto& imbalance = *active.get(ModelId::phase_imbalance);
  const auto& failure = *active.get(ModelId::equipment_failure);
  const auto& overload = *active.get(ModelId::overload_risk);
  const auto& sag = *active.get(ModelId::voltage_sag);
  const auto twin =
      sim::io::read_twin_file(std::string(REMHART_SOURCE_DIR) + "/share/twins/demo-feeder.json");
  analytics::RunSpec spec;
  spec.scenario = "voltage_sag";
  spec.params.numbers = {{"start_s", 900}, {"duration_s", 20}};
  spec.start = 1'768'413'600'000'000;  // a winter evening
  const auto run = analytics::simulate_run(twin, spec);
  std::vector<Sample> samples;  // in time order, devices interleaved, as they arrive
  for (std::size_t k = 0; k < run.ts.size(); ++k) {
    for (std::size_t d = 0; d < run.devices.size(); ++d) {
      if (run.steps[d][k].present) samples.push_back({d, run.ts[k], run.steps[d][k].values});
    }
  }
  const double threshold_a = anomaly.serving.value("threshold", 0.5);
  const double threshold_h = harmonic.serving.value("threshold", 0.5);
  const double threshold_f = failure.serving.value("threshold", 0.5);
  const double threshold_s = sag.serving.value("threshold", 0.5);
  double sink = 0;
  // One pass: every sample through its device's features and the four monitoring models.
  const auto pass = [&](std::vector<double>* latencies) {
    std::vector<features::DeviceFeatures> state;
    for (const auto& d : run.devices) state.emplace_back(features::ratings_of(d));
    features::FeatureVector f;
    const auto t0 = Clock::now();
    for (const auto& s : samples) {
      const auto a = latencies ? Clock::now() : Clock::time_point{};
      const auto& dev = run.devices[s.device];
      state[s.device].update(s.ts, s.values, {}, f);
      sink += analytics::voltage_anomaly(anomaly.gbt, threshold_a, f).score;
      sink += analytics::harmonic_analysis(harmonic.gbt, threshold_h, dev.nominal_voltage, f)
                  .pollution_probability;
      sink += analytics::frequency_stability(frequency.gbt, dev.nominal_frequency, f).predicted_hz;
      sink += analytics::phase_imbalance(imbalance.gbt, f).probabilities[0];
      if (latencies) {
        latencies->push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      }
    }
    return static_cast<double>(samples.size()) /
           std::chrono::duration<double>(Clock::now() - t0).count();
  };
  pass(nullptr);  // warm up
  std::vector<double> rates, p50s, p99s;
  for (int r = 0; r < 5; ++r) {
    rates.push_back(pass(nullptr));
    std::vector<double> lat;
    lat.reserve(samples.size());
    pass(&lat);
    p50s.push_back(percentile(lat, 0.5));
    p99s.push_back(percentile(lat, 0.99));
  }
  std::size_t trees = 0;
  for (const auto* lm : {&anomaly, &harmonic, &frequency, &imbalance}) {
    trees += lm->gbt.roots.size();
  }
  std::printf(
      "monitoring models (features + 4 models, %zu trees), %zu samples of 13 meters, "
      "one core, medians of 5 runs\n",
      trees, samples.size());
  std::printf("  per sample: p50 %.2f us, p99 %.2f us (runs: p99 %.2f – %.2f)\n", median(p50s),
              median(p99s), *std::min_element(p99s.begin(), p99s.end()),
              *std::max_element(p99s.begin(), p99s.end()));
  std::printf("  stream: %.0f samples/s (runs: %.0f – %.0f)\n", median(rates),
              *std::min_element(rates.begin(), rates.end()),
              *std::max_element(rates.begin(), rates.end()));

  // Every model of one device (the feeder head) from its current state: features of its next
  // sample, the 4 monitoring, 4 maintenance and 2 decision models, and the load forecast and
  // demand response from its eight days of history.
  const auto& forecast = *active.get(ModelId::load_forecast);
  const auto& response = *active.get(ModelId::demand_response);
  analytics::ForecastInterval interval;
  for (std::size_t b = 0; b < analytics::kHorizonBands; ++b) {
    interval.q10[b] = forecast.serving["q10"][b];
    interval.q90[b] = forecast.serving["q90"][b];
  }
  analytics::ProfileClusters clusters;
  for (const auto& c : response.serving["centroids"]) {
    analytics::DayShape d{};
    for (std::size_t j = 0; j < d.size(); ++j) d[j] = c[j];
    clusters.centroids.push_back(d);
  }
  clusters.names = response.serving["names"].get<std::vector<std::string>>();
  analytics::RunSpec days;
  days.scenario = "normal_day";
  days.start =
      spec.start - static_cast<core::TimeUs>(analytics::kHistorySteps) * 900 * core::kUsPerSecond;
  days.duration_s = static_cast<double>(analytics::kHistorySteps) * 900;
  days.step_s = 900;
  const auto history_run = analytics::simulate_run(twin, days);
  analytics::LoadHistory history{days.start, {}};
  for (const auto& st : history_run.steps[0]) {
    history.p_kw.push_back((st.values.p[0] + st.values.p[1] + st.values.p[2]) / 1000);
  }
  const auto& head = run.devices[0];
  const double rated_kva = 3 * head.nominal_voltage * head.rated_current / 1000;
  std::vector<double> one_p50, one_p99;
  {
    features::DeviceFeatures state(features::ratings_of(head));
    features::FeatureVector f;
    std::vector<const Sample*> own;
    for (const auto& x : samples) {
      if (x.device == 0) own.push_back(&x);
    }
    for (int r = 0; r < 5; ++r) {
      std::vector<double> lat;
      for (std::size_t k = 0; k < own.size(); ++k) {
        const auto& x = *own[k];
        const auto a = Clock::now();
        state = k == 0 ? features::DeviceFeatures(features::ratings_of(head)) : state;
        state.update(x.ts + r * 3600 * core::kUsPerSecond, x.values, {}, f);
        sink += analytics::voltage_anomaly(anomaly.gbt, threshold_a, f).score;
        sink += analytics::harmonic_analysis(harmonic.gbt, threshold_h, head.nominal_voltage, f)
                    .pollution_probability;
        sink +=
            analytics::frequency_stability(frequency.gbt, head.nominal_frequency, f).predicted_hz;
        sink += analytics::phase_imbalance(imbalance.gbt, f).probabilities[0];
        sink += analytics::equipment_failure(failure.gbt, threshold_f, f).probability;
        sink += analytics::overload_risk(overload.gbt, f).probabilities[0];
        sink += analytics::power_quality_index(f, head.nominal_frequency).index;
        sink += analytics::voltage_sag(sag.gbt, threshold_s, f).probability;
        sink += analytics::reactive_compensation(f, rated_kva).bank_kvar;
        sink += analytics::load_balancing(f).moved_kw;
        if (k % 60 == 0) {  // the day-ahead pair: timed on every 60th, the rest without
          sink += analytics::forecast_load(forecast.gbt, interval, history).peak_kw;
          sink += analytics::demand_response(clusters, history).flexible_kw;
          lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
        }
      }
      one_p50.push_back(percentile(lat, 0.5));
      one_p99.push_back(percentile(lat, 0.99));
    }
  }
  std::printf(
      "one device, all 12 of its models together (features, monitoring 4, maintenance 4, "
      "decision 2, load forecast of 96 steps and demand response from 8 days of history): "
      "p50 %.1f us, p99 %.1f us (medians of 5 runs)\n",
      median(one_p50), median(one_p99));
  std::printf("  the original's full per-sample pipeline took 48 ms: %.0f x faster (p50)\n",
              48000 / median(one_p50));

  // The network-level models on the demo twin's study state (peak load), each timed.
  const auto net = sim::study_model(twin);
  grid::PowerFlow pf(net);
  const auto solved = pf.solve();
  const analytics::BusState bus_state{solved.vm, solved.va_deg, 0};
  const auto time_ms = [&](auto&& fn) {
    std::vector<double> v;
    for (int r = 0; r < 21; ++r) {
      const auto a = Clock::now();
      fn();
      v.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
    }
    return median(v);
  };
  const double loss_ms = time_ms([&] { sink += analytics::energy_loss(net, bus_state).losses_kw; });
  const auto base = analytics::injections_of(net, bus_state);
  const auto controls = analytics::twin_controls(twin, base);
  analytics::SetPoints sp;
  const double setpoint_ms = time_ms([&] { sp = analytics::optimise_setpoints(base, controls); });
  const double stability_ms =
      time_ms([&] { sink += analytics::stability_score(base, 0.01).score; });
  const auto fc = analytics::forecast_load(forecast.gbt, interval, history);
  const double dispatch_ms = time_ms([&] {
    sink += analytics::shave_peak(fc.p50, analytics::twin_battery(twin), 0.25).peak_after_kw;
  });
  std::printf(
      "network models on the demo twin (median of 21): energy loss %.3f ms, set-point "
      "optimisation %.2f ms (%d power flows, saving %.1f %%), stability score with N-1 %.2f ms, "
      "battery dispatch %.3f ms (target ≤ 50 ms each)\n",
      loss_ms, setpoint_ms, sp.power_flows, sp.saving_pct, stability_ms, dispatch_ms);
  return sink == 12345 ? 1 : 0;  // keeps the work
}
