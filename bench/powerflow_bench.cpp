// Power-flow benchmarks (Google Benchmark): per MATPOWER case, cold solves (model build +
// symbolic analysis + solve; parsing excluded) and warm solves (every load and generator scaled by
// its own random factor in [0.9, 1.1], fixed seed, starting from the previous solution), the same
// warm solves with a plain baseline (Eigen SparseLU analysed and factorised afresh every
// iteration), and a 1,000-step time series on a generated 1,000-bus radial feeder. Single thread.
// Cases are read from ../shared/data/matpower (or REMHART_MATPOWER_DIR); absent ones are skipped.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>

#include "core/allocator.hpp"
#include "feeder.hpp"
#include "grid/contingency.hpp"
#include "grid/io/matpower.hpp"
#include "grid/meter_placement.hpp"
#include "grid/powerflow.hpp"
#include "grid/pseudo_measurements.hpp"
#include "sim/io/twin_json.hpp"

using namespace remhart;

namespace {

std::filesystem::path matpower_dir() {
  if (const char* dir = std::getenv("REMHART_MATPOWER_DIR")) return dir;
  return std::filesystem::path(REMHART_SOURCE_DIR) / ".." / "shared" / "data" / "matpower";
}

// Scales every load and generator of `pf` from `base` by its own factor in [0.9, 1.1].
void perturb(grid::PowerFlow& pf, const grid::Network& base, std::mt19937& rng) {
  std::uniform_real_distribution<double> f(0.9, 1.1);
  auto& net = pf.network();
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    const double s = f(rng);
    net.buses[k].pd = base.buses[k].pd * s;
    net.buses[k].qd = base.buses[k].qd * s;
  }
  for (std::size_t g = 0; g < net.gens.size(); ++g) net.gens[g].pg = base.gens[g].pg * f(rng);
}

void cold(benchmark::State& state, const grid::Network& net) {
  int iterations = 0;
  for (auto _ : state) {
    grid::PowerFlow pf(net);
    const auto r = pf.solve();
    if (!r.converged) state.SkipWithError(r.message.c_str());
    iterations = r.iterations;
  }
  state.counters["nr_iterations"] = iterations;
}

void warm(benchmark::State& state, const grid::Network& net, grid::LinearSolver how) {
  grid::PowerFlow pf(net);
  grid::PowerFlowOptions opt;
  opt.linear_solver = how;
  if (!pf.solve(opt).converged) state.SkipWithError("the base case does not converge");
  const auto base_v = pf.voltages();
  std::mt19937 rng(42);
  double iterations = 0, solves = 0, failed = 0;
  for (auto _ : state) {
    perturb(pf, net, rng);
    const auto r = pf.solve(opt, true);
    iterations += r.iterations;
    ++solves;
    if (!r.converged) {
      // Some random ±10 % points of a stressed case (case300) have no solution; count them and
      // start the next one from the base case.
      ++failed;
      pf.set_voltages(base_v);
    }
  }
  state.counters["nr_iterations"] = iterations / std::max(1.0, solves);
  state.counters["not_converged"] = failed;
}

// 1,000 branch outages spread evenly over the case (every in-service branch would take minutes
// on case9241pegase), warm from the base case, on `threads` threads.
constexpr std::size_t kOutages = 1000;

std::vector<std::size_t> outage_sample(const grid::Network& net) {
  std::vector<std::size_t> all;
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    if (net.branches[k].in_service) all.push_back(k);
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < kOutages && i < all.size(); ++i)
    out.push_back(all[i * all.size() / kOutages]);
  return out;
}

void n1(benchmark::State& state, const grid::Network& net, unsigned threads) {
  grid::ContingencyOptions opt;
  opt.threads = threads;
  opt.branches = outage_sample(net);
  double studied = 0;
  for (auto _ : state) {
    const auto report = grid::run_n1(net, opt);
    if (!report.base.converged) state.SkipWithError("the base case does not converge");
    studied += static_cast<double>(report.outages.size());
  }
  state.counters["contingencies_per_s"] = benchmark::Counter(studied, benchmark::Counter::kIsRate);
}

// 1,000 warm steps of a daily-like load curve with per-load noise on the feeder.
void time_series(benchmark::State& state, const grid::Network& net) {
  for (auto _ : state) {
    grid::PowerFlow pf(net);
    pf.solve();
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0, 0.03);
    for (int step = 0; step < 1000; ++step) {
      const double shape = 0.8 + 0.2 * std::sin(step * 2 * 3.141592653589793 / 1000);
      auto& buses = pf.network().buses;
      for (std::size_t k = 0; k < buses.size(); ++k) {
        const double s = shape * (1 + noise(rng));
        buses[k].pd = net.buses[k].pd * s;
        buses[k].qd = net.buses[k].qd * s;
      }
      if (!pf.solve({}, true).converged) state.SkipWithError("a step did not converge");
    }
  }
}

// Distribution state estimation as GET /api/grid/state runs it: meters at `elements` reading the
// power flow's solution, pseudo-measurements from the model's loads (50 %) scaled to the head,
// the estimate with every bus's deviations.
void estimate(benchmark::State& state, const grid::Network& net,
              const std::vector<std::string>& elements) {
  grid::PowerFlow pf(net);
  const auto truth = pf.solve();
  const grid::BusIndex index(net.buses);
  std::vector<grid::MeterReading> readings;
  for (const auto& e : elements) {
    const auto where = grid::place_meter(net, e);
    if (!where) continue;
    if (where->branch) {
      const auto& br = net.branches[where->index];
      const auto& f = truth.flows[where->index];
      const auto bus = index.at(where->at_from ? br.from : br.to);
      readings.push_back({e, truth.vm[bus], (where->at_from ? f.p_from : f.p_to) * 1e6,
                          (where->at_from ? f.q_from : f.q_to) * 1e6, 0.5, 0});
    } else {
      readings.push_back({e, truth.vm[where->index], net.buses[where->index].pd * 1e6,
                          net.buses[where->index].qd * 1e6, 0.5, 0});
    }
  }
  for (auto _ : state) {
    const auto meters = grid::meter_measurements(net, readings);
    auto forecast = grid::model_forecast(net);
    grid::scale_to_feeder_head(net, meters.measurements, forecast);
    const auto pseudo = grid::pseudo_measurements(net, forecast, meters.measurements);
    const auto e = grid::estimate_from_meters(net, meters, pseudo);
    if (!e.converged) state.SkipWithError("the estimate did not converge");
    benchmark::DoNotOptimize(e.vm_sigma.data());
  }
}

double min_of(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

// Collects the median real time of every benchmark for the summary.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        median_ms[r.run_name.function_name] =
            r.GetAdjustedRealTime() * (r.time_unit == benchmark::kMillisecond ? 1 : 1e-3);
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> median_ms;
};

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  benchmark::Initialize(&argc, argv);
  std::vector<std::string> names;
  static std::map<std::string, grid::Network> nets;  // outlive the registered benchmarks
  for (const char* c : {"case14", "case30", "case57", "case118", "case300", "case1354pegase",
                        "case2869pegase", "case9241pegase"}) {
    const auto path = matpower_dir() / (std::string(c) + ".m");
    if (!std::filesystem::exists(path)) continue;
    nets[c] = grid::io::read_matpower(path.string());
    names.push_back(c);
  }
  if (names.empty()) std::cerr << "no MATPOWER cases found in " << matpower_dir() << "\n";
  nets["feeder1000"] = bench::make_feeder(1000, 2026);
  for (const auto& c : names) {
    const auto& net = nets[c];
    benchmark::RegisterBenchmark(("cold/" + c).c_str(),
                                 [&net](benchmark::State& s) { cold(s, net); })
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(5)
        ->ComputeStatistics("min", min_of)
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark(
        ("warm/" + c).c_str(),
        [&net](benchmark::State& s) { warm(s, net, grid::LinearSolver::klu); })
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(5)
        ->ComputeStatistics("min", min_of)
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark(
        ("warm_baseline_sparselu/" + c).c_str(),
        [&net](benchmark::State& s) { warm(s, net, grid::LinearSolver::sparse_lu_baseline); })
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(5)
        ->ComputeStatistics("min", min_of)
        ->ReportAggregatesOnly(true);
  }
  for (const char* c : {"case2869pegase", "case9241pegase"}) {
    if (!nets.count(c)) continue;
    const auto& net = nets[c];
    for (unsigned threads : {1u, 2u}) {
      benchmark::RegisterBenchmark(("n1_threads" + std::to_string(threads) + "/" + c).c_str(),
                                   [&net, threads](benchmark::State& s) { n1(s, net, threads); })
          ->Unit(benchmark::kMillisecond)
          ->Iterations(1)
          ->Repetitions(3)
          ->UseRealTime()
          ->ReportAggregatesOnly(true);
    }
  }
  const auto& feeder = nets["feeder1000"];
  benchmark::RegisterBenchmark("timeseries_1000_steps/feeder1000",
                               [&feeder](benchmark::State& s) { time_series(s, feeder); })
      ->Unit(benchmark::kMillisecond)
      ->Repetitions(5)
      ->ComputeStatistics("min", min_of)
      ->ReportAggregatesOnly(true);

  // State estimation: the demo twin with its 13 meters, and the 1,000-bus feeder with 5 % of its
  // buses metered (every 20th, plus the head).
  static std::map<std::string, std::vector<std::string>> metered;
  const auto twin_path =
      std::filesystem::path(REMHART_SOURCE_DIR) / "share" / "twins" / "demo-feeder.json";
  const auto twin = sim::io::read_twin_file(twin_path.string());
  nets["demo_twin"] = sim::study_model(twin);
  for (const auto& d : twin.devices) metered["demo_twin"].push_back(d.device.element);
  metered["feeder1000"].push_back("branch:1-2:from");
  for (int k = 20; k <= 1000; k += 20) metered["feeder1000"].push_back("bus:" + std::to_string(k));
  for (const char* c : {"demo_twin", "feeder1000"}) {
    const auto& net = nets[c];
    const auto& elements = metered[c];
    benchmark::RegisterBenchmark(
        ("state_estimate/" + std::string(c)).c_str(),
        [&net, &elements](benchmark::State& s) { estimate(s, net, elements); })
        ->Unit(benchmark::kMillisecond)
        ->Repetitions(5)
        ->ComputeStatistics("min", min_of)
        ->ReportAggregatesOnly(true);
  }

  Collector reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::cout << "\nsummary (medians of 5 repetitions, single thread)\n"
            << std::left << std::setw(18) << "case" << std::right << std::setw(12) << "cold ms"
            << std::setw(12) << "warm ms" << std::setw(14) << "baseline ms" << std::setw(10)
            << "speed-up\n";
  for (const auto& c : names) {
    const double w = reporter.median_ms["warm/" + c],
                 b = reporter.median_ms["warm_baseline_sparselu/" + c];
    std::cout << std::left << std::setw(18) << c << std::right << std::fixed << std::setprecision(4)
              << std::setw(12) << reporter.median_ms["cold/" + c] << std::setw(12) << w
              << std::setw(14) << b << std::setw(9) << std::setprecision(1) << (w > 0 ? b / w : 0)
              << "x\n";
  }
  for (const char* c : {"case2869pegase", "case9241pegase"}) {
    for (const char* t : {"1", "2"}) {
      const double ms = reporter.median_ms[std::string("n1_threads") + t + "/" + c];
      if (ms <= 0) continue;
      const std::size_t outages = outage_sample(nets[c]).size();
      std::cout << c << " N-1, " << t << " thread(s): " << outages << " outages in "
                << std::setprecision(0) << ms << " ms = " << outages / (ms / 1e3)
                << " contingencies/s\n";
    }
  }
  std::cout << "feeder1000: 1,000 warm steps " << std::setprecision(1)
            << reporter.median_ms["timeseries_1000_steps/feeder1000"] << " ms\n";
  std::cout << std::setprecision(3) << "state estimate with pseudo-measurements: demo twin "
            << reporter.median_ms["state_estimate/demo_twin"] << " ms, feeder1000 (5 % metered) "
            << reporter.median_ms["state_estimate/feeder1000"] << " ms\n";
  benchmark::Shutdown();
  return 0;
}
