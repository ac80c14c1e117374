#include "analytics/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "grid/network.hpp"

namespace remhart::analytics {

std::string_view split_name(Split s) {
  switch (s) {
    case Split::train:
      return "train";
    case Split::validation:
      return "validation";
    case Split::test:
      return "test";
  }
  return "train";
}

Placement place(const grid::Network& net, const std::string& element) {
  Placement at;
  if (element.empty()) return at;
  sim::ElementRef ref;
  try {
    ref = sim::resolve_element(net, element);
  } catch (const grid::NetworkError&) {
    return at;  // not on this model
  }
  for (std::size_t b = 0; b < net.buses.size(); ++b) {
    if (net.buses[b].id == ref.bus) at.bus = static_cast<std::ptrdiff_t>(b);
  }
  if (!ref.is_bus) {
    at.branch = static_cast<std::ptrdiff_t>(ref.branch);
  } else {
    for (std::size_t k = 0; k < net.branches.size(); ++k) {
      if (net.branches[k].to == ref.bus && net.branches[k].in_service) {
        at.branch = static_cast<std::ptrdiff_t>(k);
        break;
      }
    }
  }
  return at;
}

features::NetworkContext network_context(const grid::Network& net, const Placement& at,
                                         const std::vector<double>& vm,
                                         const std::vector<grid::BranchFlow>& flows,
                                         double losses_mw, double load_mw) {
  features::NetworkContext c;
  if (at.bus >= 0 && static_cast<std::size_t>(at.bus) < vm.size()) c.bus_v_pu = vm[at.bus];
  if (at.branch >= 0 && static_cast<std::size_t>(at.branch) < flows.size()) {
    const auto& f = flows[at.branch];
    const double rate = net.branches[at.branch].rate_a;
    const double s = std::max(std::hypot(f.p_from, f.q_from), std::hypot(f.p_to, f.q_to));
    if (rate > 0) c.loading_pct = 100 * s / rate;
  }
  double lo = core::kAbsent;
  for (double v : vm) {
    if (v > 0) lo = std::isnan(lo) ? v : std::min(lo, v);  // energised buses
  }
  c.network_min_v_pu = lo;
  c.losses_mw = losses_mw;
  c.load_mw = load_mw;
  return c;
}

RunData simulate_run(const sim::Twin& twin, const RunSpec& spec) {
  RunData run;
  run.spec = spec;
  auto scenario = sim::build_scenario(spec.scenario, spec.params, twin);
  scenario.duration_s = spec.duration_s;
  sim::Simulator simulator(twin, scenario, {spec.start, spec.step_s, spec.seed});
  const auto steps = static_cast<std::size_t>(std::llround(spec.duration_s / spec.step_s));
  const auto n = twin.devices.size();
  std::vector<Placement> at;
  for (const auto& d : twin.devices) {
    run.devices.push_back(d.device);
    at.push_back(place(twin.network, d.device.element));
  }
  run.steps.assign(n, {});
  for (auto& s : run.steps) s.reserve(steps);
  run.ts.reserve(steps);
  for (std::size_t k = 0; k < steps; ++k) {
    const auto& out = simulator.step();
    const auto& sol = simulator.solution();
    double load = 0;
    for (double p : simulator.load_mw()) load += p;
    run.ts.push_back(out.ts);
    for (std::size_t d = 0; d < n; ++d) {
      const auto& r = out.readings[d];
      DeviceStep s;
      s.present = r.present;
      s.values = r.values;
      s.label = r.label;
      s.true_unbalance_pct = r.true_unbalance_pct;
      s.true_v_pu = at[d].bus >= 0 ? sol.vm[at[d].bus] : core::kAbsent;
      s.net = network_context(twin.network, at[d], sol.vm, sol.flows, sol.losses_mw, load);
      run.steps[d].push_back(std::move(s));
    }
    if (spec.snapshot_every_s > 0 &&
        k % static_cast<std::size_t>(std::max(1.0, spec.snapshot_every_s / spec.step_s)) == 0) {
      run.snapshots.emplace_back(k, simulator.network());
    }
    if (run.failure_step < 0 && simulator.transformer_failed()) {
      run.failure_step = static_cast<std::int64_t>(k);
    }
  }
  return run;
}

namespace {

// Branches a lateral scenario may strike: every line with a rating (the transformer aside),
// as `from-to`.
std::vector<std::string> laterals(const sim::Twin& twin) {
  std::vector<std::string> out;
  for (const auto& b : twin.network.branches) {
    if (b.rate_a <= 0 || (b.from == twin.transformer.from && b.to == twin.transformer.to)) {
      continue;
    }
    out.push_back(std::to_string(b.from) + "-" + std::to_string(b.to));
  }
  return out;
}

}  // namespace

std::vector<RunSpec> training_plan(const sim::Twin& twin, std::uint64_t seed, double scale,
                                   double run_s) {
  std::mt19937_64 rng(seed);
  const auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  const auto log_uniform = [&](double lo, double hi) {
    return std::exp(uniform(std::log(lo), std::log(hi)));
  };
  const auto pick = [&](std::size_t n) {
    return static_cast<std::size_t>(std::uniform_int_distribution<std::size_t>(0, n - 1)(rng));
  };
  const auto lines = laterals(twin);
  std::vector<std::int64_t> buses;
  for (const auto& b : twin.network.buses) {
    if (b.type != grid::BusType::ref) buses.push_back(b.id);
  }
  constexpr core::TimeUs kYear2025 = 1'735'689'600'000'000;  // 2025-01-01T00:00:00Z
  struct Kind {
    std::string id;
    int runs;  // at scale 1
  };
  // Events are rare in time; their scenarios get more runs so each split sees enough of them.
  const std::vector<Kind> kinds = {{"normal_day", 15},
                                   {"peak_load", 5},
                                   {"voltage_sag", 20},
                                   {"voltage_swell", 15},
                                   {"overload", 10},
                                   {"frequency_excursion", 10},
                                   {"renewable_intermittency", 5},
                                   {"harmonic_pollution", 10},
                                   {"phase_imbalance", 10},
                                   {"line_fault", 20},
                                   {"transformer_degradation", 40}};
  std::vector<RunSpec> plan;
  for (const auto& kind : kinds) {
    const int runs = std::max(5, static_cast<int>(std::lround(kind.runs * scale)));
    for (int r = 0; r < runs; ++r) {
      RunSpec s;
      s.scenario = kind.id;
      s.seed = rng();
      const auto day = static_cast<core::TimeUs>(pick(365));
      const auto second = static_cast<core::TimeUs>(pick(86400));
      s.start = kYear2025 + (day * 86400 + second) * core::kUsPerSecond;
      s.duration_s = run_s;
      s.split = r % 5 < 3 ? Split::train : r % 5 == 3 ? Split::validation : Split::test;
      auto& num = s.params.numbers;
      auto& text = s.params.texts;
      num["load_scale"] = uniform(0.6, 1.3);
      num["cloudiness"] = uniform(0, 1);
      const double start = std::round(uniform(run_s / 3, 2 * run_s / 3));
      if (kind.id == "peak_load") {
        num["load_scale"] = uniform(1.1, 1.5);
        num["ambient_offset_c"] = uniform(0, 15);
      } else if (kind.id == "voltage_sag") {
        num["start_s"] = start;
        num["duration_s"] = std::round(log_uniform(1, 30));
        num["fault_impedance_ohm"] = log_uniform(0.5, 40);
        num["bus"] = static_cast<double>(buses[pick(buses.size())]);
      } else if (kind.id == "voltage_swell") {
        num["start_s"] = start;
        num["duration_s"] = std::round(log_uniform(10, std::max(20.0, run_s / 6)));
        num["capacitor_kvar"] = uniform(1000, 15000);
        num["load_rejection"] = uniform(0, 0.8);
      } else if (kind.id == "overload") {
        num["start_s"] = start;
        num["duration_s"] = std::round(uniform(run_s / 15, run_s / 3));
        num["loading"] = uniform(0.6, 2.5);
        text["branch"] = lines[pick(lines.size())];
      } else if (kind.id == "frequency_excursion") {
        num["start_s"] = start;
        num["generation_loss_pu"] = log_uniform(0.005, 0.2);
        num["inertia_h_s"] = uniform(2, 10);
      } else if (kind.id == "renewable_intermittency") {
        num["transients_per_h"] = uniform(5, 60);
        num["depth"] = uniform(0.3, 0.9);
      } else if (kind.id == "harmonic_pollution") {
        num["start_s"] = start;
        num["nonlinear_share"] = uniform(0.4, 1);  // the twin's loads run at 0.1–0.3
        num["bus"] = r % 2 ? 0.0 : static_cast<double>(buses[pick(buses.size())]);
      } else if (kind.id == "phase_imbalance") {
        num["start_s"] = start;
        num["unbalance"] = uniform(0.1, 0.66);
        num["added_kw"] = uniform(0, 5000);
        text["branch"] = lines[pick(lines.size())];
      } else if (kind.id == "line_fault") {
        num["start_s"] = start;
        num["fault_impedance_ohm"] = log_uniform(0.5, 40);
        num["trip_after_s"] = std::round(uniform(1, 3));
        num["reclose_after_s"] = std::round(uniform(2, 30));
        num["permanent"] = pick(4) == 0 ? 1 : 0;
        text["branch"] = lines[pick(lines.size())];
      } else if (kind.id == "transformer_degradation") {
        // Around the evening peak, hot enough to age: about half the runs fail within the run.
        s.start = kYear2025 + (day * 86400 + 15 * 3600 + static_cast<core::TimeUs>(pick(18000))) *
                                  core::kUsPerSecond;
        num["load_scale"] = uniform(1.4, 2.0);
        num["ambient_offset_c"] = uniform(10, 25);
        num["life_remaining_h"] = log_uniform(0.15, 4);
        num["fault_development_min"] = uniform(5, 30);
      }
      plan.push_back(std::move(s));
    }
  }
  return plan;
}

}  // namespace remhart::analytics
