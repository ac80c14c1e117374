#include "analytics/maintenance.hpp"

#include <algorithm>
#include <cmath>
#include <deque>

#include "analytics/results.hpp"

namespace remhart::analytics {

namespace {

using detail::at;
using detail::kW60;
using detail::kW900;
using detail::number;
using features::F;
using features::index;
using features::Signal;
using features::Stat;
using nlohmann::json;

std::size_t steps_of(const RunData& run, double seconds) {
  return static_cast<std::size_t>(std::llround(seconds / run.spec.step_s));
}

}  // namespace

// --- 5 ------------------------------------------------------------------------------------

std::vector<int> failure_truth(const RunData& run) {
  const std::size_t n = run.ts.size(), h = steps_of(run, kFailureHorizonS);
  std::vector<int> truth(n, 0);
  const bool can_fail = run.spec.scenario == "transformer_degradation";
  for (std::size_t k = 0; k < n; ++k) {
    if (run.failure_step >= 0) {
      const auto fs = static_cast<std::size_t>(run.failure_step);
      truth[k] = k <= fs && fs - k <= h ? 1 : 0;
    } else if (can_fail && k + h >= n) {
      truth[k] = -1;  // the run ends before the horizon does: unknown
    }
  }
  return truth;
}

const std::vector<std::size_t>& failure_features() {
  static const std::vector<std::size_t> used = [] {
    std::vector<std::size_t> v = {index(F::temp_c), index(F::i_max_pu), index(F::s_total_kva),
                                  index(F::thd_i_max_pct), index(F::thd_i_vs_900s_pct)};
    for (std::size_t w = 0; w < features::kWindowsS.size(); ++w) {
      for (auto st : {Stat::mean, Stat::max, Stat::slope})
        v.push_back(index(Signal::i_max_pu, w, st));
      for (auto st : {Stat::mean, Stat::slope}) v.push_back(index(Signal::thd_i_max_pct, w, st));
    }
    return v;
  }();
  return used;
}

double ageing_acceleration(double hot_spot_c) {
  return std::exp(15000.0 / 383 - 15000.0 / (hot_spot_c + 273));
}

EquipmentFailure equipment_failure(const ml::GbtModel& model, double threshold,
                                   const features::FeatureVector& f) {
  EquipmentFailure r;
  model.predict(f, {&r.probability, 1});
  r.flag = r.probability >= threshold;
  const double temp = at(f, F::temp_c);
  const double loading = 100 * at(f, F::i_max_pu);
  const double trend = 100 * 3600 * at(f, Signal::i_max_pu, kW900, Stat::slope);
  r.factors = {Factor{"hot_spot_temperature", "°C", temp, 110},
               Factor{"ageing_acceleration", "1", ageing_acceleration(temp), 1},
               Factor{"loading", "%", loading, 100}, Factor{"loading_trend", "%/h", trend, 0}};
  for (auto& x : r.factors) x.above = x.value > x.reference;
  return r;
}

// --- 6 ------------------------------------------------------------------------------------

std::string_view overload_class_name(int c) {
  static constexpr std::string_view kNames[] = {"low", "elevated", "overload"};
  return kNames[std::clamp(c, 0, kOverloadClasses - 1)];
}

namespace {
int overload_class(double loading) {
  return loading > 1 ? 2 : loading >= 0.8 ? 1 : 0;
}
}  // namespace

std::vector<int> overload_truth(const RunData& run, std::size_t device) {
  const auto& steps = run.steps[device];
  const double rated = features::ratings_of(run.devices[device]).rated_current;
  const std::size_t n = steps.size(), h = steps_of(run, kOverloadHorizonS);
  std::vector<double> loading(n, -1);
  for (std::size_t k = 0; k < n; ++k) {
    if (!steps[k].present) continue;
    const auto& i = steps[k].values.i;
    loading[k] = std::max({i[0], i[1], i[2]}) / rated;
  }
  // The highest loading over [k, k + h], by a monotonic deque from the end.
  std::vector<int> truth(n, -1);
  std::deque<std::size_t> best;  // indices of decreasing loading
  for (std::size_t k = n; k-- > 0;) {
    while (!best.empty() && loading[best.back()] <= loading[k]) best.pop_back();
    best.push_back(k);
    while (best.front() > k + h) best.pop_front();
    // Past the run's end the class is known only when an overload is already in sight.
    const int c = overload_class(loading[best.front()]);
    if (k + h < n || c == kOverloadClasses - 1) truth[k] = c;
  }
  return truth;
}

int overload_baseline(const features::FeatureVector& f) {
  return overload_class(at(f, F::i_max_pu));
}

OverloadRisk overload_risk(const ml::GbtModel& model, const features::FeatureVector& f) {
  OverloadRisk r;
  model.predict(f, r.probabilities);
  r.risk_class = static_cast<int>(std::max_element(r.probabilities.begin(), r.probabilities.end()) -
                                  r.probabilities.begin());
  const double i = at(f, F::i_max_pu);
  r.loading_pct = 100 * i;
  const double slope = at(f, Signal::i_max_pu, kW900, Stat::slope);  // p.u./s
  r.time_to_limit_s = i < 1 && slope > 0 ? (1 - i) / slope : core::kAbsent;
  return r;
}

// --- 7 ------------------------------------------------------------------------------------

PowerQualityIndex power_quality_index(const features::FeatureVector& f, double nominal_hz) {
  PowerQualityIndex r;
  const auto stat = [&](Signal s, Stat st) { return at(f, s, kW60, st); };
  const double v_dev =
      std::max(1 - stat(Signal::v_min_pu, Stat::min), stat(Signal::v_max_pu, Stat::max) - 1);
  const double f_dev = std::max(std::abs(stat(Signal::f_hz, Stat::min) - nominal_hz),
                                std::abs(stat(Signal::f_hz, Stat::max) - nominal_hz));
  const double spread = stat(Signal::v_avg_pu, Stat::max) - stat(Signal::v_avg_pu, Stat::min);
  r.components = {
      PowerQualityIndex::Component{"voltage_deviation", "p.u.", std::max(0.0, v_dev), 0.10},
      {"voltage_unbalance", "%", stat(Signal::vu_nema_pct, Stat::mean), 2.0},
      {"voltage_thd", "%", stat(Signal::thd_v_max_pct, Stat::mean), 8.0},
      {"frequency_deviation", "Hz", f_dev, 0.5},
      {"voltage_fluctuation", "p.u.", spread, 0.03}};
  constexpr std::array<double, 5> kWeights = {0.35, 0.2, 0.2, 0.15, 0.1};
  double total = 0, weights = 0;
  for (std::size_t k = 0; k < r.components.size(); ++k) {
    auto& c = r.components[k];
    c.weight = kWeights[k];
    c.score = std::isnan(c.measured) ? core::kAbsent
                                     : 100 * std::clamp(2 * (1 - c.measured / c.limit), 0.0, 1.0);
    if (std::isnan(c.score)) continue;
    total += c.weight * c.score;
    weights += c.weight;
  }
  for (auto& c : r.components) {
    if (weights > 0 && !std::isnan(c.score)) c.weight /= weights;
  }
  r.index = weights > 0 ? total / weights : core::kAbsent;
  r.category = !(r.index >= 70) ? "poor" : r.index >= 90 ? "good" : "fair";
  return r;
}

int power_quality_truth(const DeviceStep& s) {
  const auto& e = s.label.event;
  return e == "voltage_sag" || e == "voltage_swell" || e == "line_fault" ||
                 e == "harmonic_pollution" || e == "phase_imbalance" || e == "frequency_excursion"
             ? 1
             : 0;
}

// --- 8 ------------------------------------------------------------------------------------

std::vector<int> sag_truth(const RunData& run, std::size_t device) {
  const auto& steps = run.steps[device];
  const std::size_t n = steps.size(), h = steps_of(run, kSagHorizonS);
  std::vector<int> truth(n, 0);
  std::size_t next = SIZE_MAX;  // the next step with a sag at the device's bus
  for (std::size_t k = n; k-- > 0;) {
    if (steps[k].true_v_pu < 0.9) next = k;
    truth[k] = next != SIZE_MAX && next - k <= h ? 1 : k + h < n ? 0 : -1;
  }
  return truth;
}

int sag_baseline(const features::FeatureVector& f) {
  return at(f, F::v_min_pu) < 0.9 ? 1 : 0;
}

VoltageSag voltage_sag(const ml::GbtModel& model, double threshold,
                       const features::FeatureVector& f) {
  VoltageSag r;
  model.predict(f, {&r.probability, 1});
  r.flag = r.probability >= threshold;
  const std::array<double, 3> v = {at(f, F::v_a_pu), at(f, F::v_b_pu), at(f, F::v_c_pu)};
  for (int ph = 0; ph < 3; ++ph) {
    r.below[ph] = v[ph] < 0.9;
    if (v[ph] < v[r.weakest_phase]) r.weakest_phase = ph;
  }
  r.weakest_v_pu = v[r.weakest_phase];
  return r;
}

// --- JSON ---------------------------------------------------------------------------------

json to_json(const EquipmentFailure& r) {
  json factors = json::array();
  for (const auto& x : r.factors) {
    factors.push_back({{"name", x.name},
                       {"value", number(x.value)},
                       {"unit", x.unit},
                       {"reference", x.reference},
                       {"above_reference", x.above}});
  }
  return {{"failure_probability", r.probability},
          {"at_risk", r.flag},
          {"horizon_s", r.horizon_s},
          {"equipment", "supply transformer"},
          {"contributing_factors", std::move(factors)}};
}

json to_json(const OverloadRisk& r) {
  json probs = json::object();
  for (int c = 0; c < kOverloadClasses; ++c) {
    probs[std::string(overload_class_name(c))] = r.probabilities[c];
  }
  return {{"risk_class", overload_class_name(r.risk_class)},
          {"probabilities", std::move(probs)},
          {"loading_pct", number(r.loading_pct)},
          {"time_to_limit_s", number(r.time_to_limit_s)},
          {"horizon_s", r.horizon_s}};
}

json to_json(const PowerQualityIndex& r) {
  json parts = json::array();
  for (const auto& c : r.components) {
    parts.push_back({{"name", c.name},
                     {"measured", number(c.measured)},
                     {"unit", c.unit},
                     {"limit", c.limit},
                     {"score", number(c.score)},
                     {"weight", c.weight}});
  }
  return {{"pqi", number(r.index)}, {"category", r.category}, {"components", std::move(parts)}};
}

json to_json(const VoltageSag& r) {
  static constexpr std::string_view kPhases[] = {"a", "b", "c"};
  json below = json::array();
  for (int ph = 0; ph < 3; ++ph) {
    if (r.below[ph]) below.push_back(kPhases[ph]);
  }
  return {{"sag_probability", r.probability},
          {"sag_expected", r.flag},
          {"horizon_s", r.horizon_s},
          {"affected_phases", std::move(below)},
          {"weakest_phase", kPhases[r.weakest_phase]},
          {"weakest_v_pu", number(r.weakest_v_pu)}};
}

}  // namespace remhart::analytics
