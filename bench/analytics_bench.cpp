// The monitoring models on one core: features plus all four models per sample, for one device
// from its current state (p50/p99 latency) and as a stream of samples (samples/s), against the
// original's 48 ms per sample. Models come from a registry (REMHART_BENCH_MODELS, made by
// `scripts/bench analytics` with `remhart train`, the default set); samples from a simulated
// voltage-sag run of the demo twin (13 meters, 30 minutes at 1 s).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

#include "analytics/catalogue.hpp"
#include "analytics/dataset.hpp"
#include "analytics/maintenance.hpp"
#include "analytics/monitoring.hpp"
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
  // One pass: every sample through its device's features and the four monitoring models (and,
  // with `all`, every other per-device model too, as if each sample were a scheduled one).
  const auto pass = [&](std::vector<double>* latencies, bool all) {
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
      if (all) {
        sink += analytics::equipment_failure(failure.gbt, threshold_f, f).probability;
        sink += analytics::overload_risk(overload.gbt, f).probabilities[0];
        sink += analytics::power_quality_index(f, dev.nominal_frequency).index;
        sink += analytics::voltage_sag(sag.gbt, threshold_s, f).probability;
      }
      if (latencies) {
        latencies->push_back(std::chrono::duration<double, std::micro>(Clock::now() - a).count());
      }
    }
    return static_cast<double>(samples.size()) /
           std::chrono::duration<double>(Clock::now() - t0).count();
  };
  pass(nullptr, true);  // warm up
  std::vector<double> rates, p50s, p99s, all_p50s, all_p99s;
  for (int r = 0; r < 5; ++r) {
    rates.push_back(pass(nullptr, false));
    std::vector<double> lat;
    lat.reserve(samples.size());
    pass(&lat, false);
    p50s.push_back(percentile(lat, 0.5));
    p99s.push_back(percentile(lat, 0.99));
    lat.clear();
    pass(&lat, true);
    all_p50s.push_back(percentile(lat, 0.5));
    all_p99s.push_back(percentile(lat, 0.99));
  }
  std::size_t trees = 0, all_trees = 0;
  for (const auto* lm : {&anomaly, &harmonic, &frequency, &imbalance}) {
    trees += lm->gbt.roots.size();
  }
  all_trees = trees + failure.gbt.roots.size() + overload.gbt.roots.size() + sag.gbt.roots.size();
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
  std::printf(
      "all %zu per-device models (features + monitoring + maintenance, %zu trees), per sample: "
      "p50 %.2f us, p99 %.2f us (runs: p99 %.2f – %.2f)\n",
      analytics::kModelCount, all_trees, median(all_p50s), median(all_p99s),
      *std::min_element(all_p99s.begin(), all_p99s.end()),
      *std::max_element(all_p99s.begin(), all_p99s.end()));
  std::printf("  the original's full per-sample pipeline took 48 ms: %.0f x faster (p50)\n",
              48000 / median(all_p50s));
  return sink == 12345 ? 1 : 0;  // keeps the work
}
