#include "analytics/monitoring.hpp"

#include <algorithm>
#include <cmath>

#include "analytics/results.hpp"

namespace remhart::analytics {

namespace {

using detail::at;
using features::F;
using features::index;

}  // namespace

std::vector<int> events_in_force(const RunData& run) {
  std::vector<int> active(run.ts.size(), 0);
  for (const auto& steps : run.steps) {
    for (std::size_t k = 0; k < steps.size(); ++k) {
      const auto& e = steps[k].label.event;
      if (e != "none" && e != "transformer_degradation") active[k] = 1;
    }
  }
  return active;
}

std::vector<int> voltage_anomaly_truth(const std::vector<DeviceStep>& steps,
                                       const std::vector<int>& active) {
  std::vector<int> truth(steps.size(), 0);
  double before = core::kAbsent;  // the bus's |V| just before the event in force
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const auto& s = steps[k];
    if (!active[k]) {
      before = s.true_v_pu;
      continue;
    }
    const bool outside = std::abs(s.true_v_pu - 1) >= 0.1;
    const bool moved =
        !std::isnan(before) && std::abs(s.true_v_pu - before) >= kRapidVoltageChangePu;
    truth[k] = outside || moved ? 1 : 0;
  }
  return truth;
}

int voltage_anomaly_baseline(const features::FeatureVector& f) {
  return at(f, F::v_min_pu) < 0.9 || at(f, F::v_max_pu) > 1.1 ? 1 : 0;
}

VoltageAnomaly voltage_anomaly(const ml::GbtModel& model, double threshold,
                               const features::FeatureVector& f) {
  VoltageAnomaly r;
  double p = 0;
  model.predict(f, {&p, 1});
  r.score = p;
  r.flag = p >= threshold;
  r.v_min_pu = at(f, F::v_min_pu);
  r.v_max_pu = at(f, F::v_max_pu);
  const double low = r.v_min_pu, high = r.v_max_pu;
  if (low < 0.1) {
    r.kind = "interruption";
    r.severity = "severe";
  } else if (low < 0.9 && 1 - low >= high - 1) {
    r.kind = "sag";
    r.severity = low < 0.5 ? "severe" : "moderate";
  } else if (high > 1.1) {
    r.kind = "swell";
    r.severity = high > 1.5 ? "severe" : "moderate";
  } else {
    r.kind = "none";
    r.severity = r.flag ? "minor" : "none";
  }
  return r;
}

int harmonic_truth(const DeviceStep& s) {
  return s.label.event == "harmonic_pollution" ? 1 : 0;
}

double ieee519_thd_v_limit_pct(double nominal_voltage_ln) {
  const double kv_ll = nominal_voltage_ln * std::sqrt(3.0) / 1000;
  return kv_ll <= 1 ? 8.0 : kv_ll <= 69 ? 5.0 : kv_ll <= 161 ? 2.5 : 1.5;
}

HarmonicAnalysis harmonic_analysis(const ml::GbtModel& model, double threshold,
                                   double nominal_voltage_ln, const features::FeatureVector& f) {
  HarmonicAnalysis r;
  r.thd_v_pct = at(f, F::thd_v_max_pct);
  r.thd_i_pct = at(f, F::thd_i_max_pct);
  r.thd_v_limit_pct = ieee519_thd_v_limit_pct(nominal_voltage_ln);
  if (std::isnan(r.thd_v_pct) && std::isnan(r.thd_i_pct)) {
    r.category = "not_reported";
  } else if (r.thd_v_pct > kEn50160ThdVPct) {
    r.category = "above_en50160";
  } else if (r.thd_v_pct > r.thd_v_limit_pct || r.thd_i_pct > kIeee519ThdIPct) {
    r.category = "above_ieee519";
  } else {
    r.category = "within_limits";
  }
  double p = 0;
  model.predict(f, {&p, 1});
  r.pollution_probability = p;
  r.pollution = p >= threshold;
  return r;
}

const std::vector<std::size_t>& frequency_features() {
  static const std::vector<std::size_t> used = [] {
    std::vector<std::size_t> v = {index(F::rocof_hz_s), index(F::f_vs_10s_hz),
                                  index(F::f_vs_60s_hz), index(F::f_vs_900s_hz)};
    for (std::size_t w = 0; w < features::kWindowsS.size(); ++w) {
      for (auto s : {features::Stat::std, features::Stat::slope}) {
        v.push_back(index(features::Signal::f_hz, w, s));
      }
    }
    return v;
  }();
  return used;
}

FrequencyStability frequency_stability(const ml::GbtModel& model, double nominal_hz,
                                       const features::FeatureVector& f) {
  FrequencyStability r;
  r.f_hz = at(f, F::f_hz);
  double change = 0;
  model.predict(f, {&change, 1});
  r.predicted_hz = r.f_hz + change;
  const double rocof = at(f, F::rocof_hz_s);
  r.rocof_hz_s = std::isnan(rocof) ? 0 : rocof;
  const double worst = std::max(std::abs(r.predicted_hz - nominal_hz) / kFrequencyBandHz,
                                std::abs(r.rocof_hz_s) / 1.0);
  r.stability_score = 100 * std::clamp(1 - worst, 0.0, 1.0);
  r.trend = change > 0.005 ? "rising" : change < -0.005 ? "falling" : "steady";
  return r;
}

int imbalance_class(double unbalance_pct) {
  if (!(unbalance_pct >= 1)) return 0;  // NaN (nothing measured) included
  return unbalance_pct < 2 ? 1 : unbalance_pct <= 4 ? 2 : 3;
}

int imbalance_truth(const DeviceStep& s) {
  return imbalance_class(s.true_unbalance_pct);
}

int imbalance_baseline(const features::FeatureVector& f) {
  return imbalance_class(at(f, F::vu_nema_pct));
}

std::string_view imbalance_class_name(int c) {
  static constexpr std::string_view kNames[] = {"none", "minor", "moderate", "severe"};
  return kNames[std::clamp(c, 0, kImbalanceClasses - 1)];
}

PhaseImbalance phase_imbalance(const ml::GbtModel& model, const features::FeatureVector& f) {
  PhaseImbalance r;
  r.vuf_pct = at(f, F::vuf_pct);
  r.vu_nema_pct = at(f, F::vu_nema_pct);
  r.iuf_pct = at(f, F::iuf_pct);
  r.iu_nema_pct = at(f, F::iu_nema_pct);
  model.predict(f, r.probabilities);
  r.severity_class = static_cast<int>(
      std::max_element(r.probabilities.begin(), r.probabilities.end()) - r.probabilities.begin());
  const double ia = at(f, F::i_a_pu), ib = at(f, F::i_b_pu), ic = at(f, F::i_c_pu);
  const double without = at(f, F::phases_without_current);
  if (without >= 1 && without <= 2) {
    r.likely_cause = "open_phase";
  } else if (r.iu_nema_pct > 10) {
    r.likely_cause = ia >= ib && ia >= ic ? "load_on_phase_a"
                     : ib >= ic           ? "load_on_phase_b"
                                          : "load_on_phase_c";
  } else if (r.vu_nema_pct > 1) {
    r.likely_cause = "supply_side";
  } else {
    r.likely_cause = "none";
  }
  return r;
}

}  // namespace remhart::analytics
