#include "analytics/decision.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "analytics/results.hpp"

namespace remhart::analytics {

namespace {

using detail::at;
using detail::kW60;
using detail::number;
using features::F;
using features::index;
using features::Signal;
using features::Stat;
using nlohmann::json;

double mean60(const features::FeatureVector& f, Signal s) {
  return f[index(s, kW60, Stat::mean)];
}

// NEMA unbalance of three values: the largest deviation from their mean, % of the mean.
double nema(const std::array<double, 3>& x) {
  const double mean = (x[0] + x[1] + x[2]) / 3;
  if (!(mean > 0)) return 0;
  double worst = 0;
  for (double v : x) worst = std::max(worst, std::abs(v - mean));
  return 100 * worst / mean;
}

}  // namespace

ReactiveCompensation reactive_compensation(const features::FeatureVector& f, double rated_kva,
                                           double target_pf) {
  return reactive_compensation(mean60(f, Signal::p_total_kw), mean60(f, Signal::q_total_kvar),
                               mean60(f, Signal::v_avg_pu), rated_kva, target_pf);
}

ReactiveCompensation reactive_compensation(double p_kw, double q_kvar, double v_pu,
                                           double rated_kva, double target_pf) {
  ReactiveCompensation r;
  r.target_pf = target_pf;
  r.p_kw = p_kw;
  r.q_kvar = q_kvar;
  r.v_pu = v_pu;
  const double s = std::hypot(r.p_kw, r.q_kvar);
  r.pf = s > 0 ? std::abs(r.p_kw) / s : core::kAbsent;
  r.pf_after = r.pf;
  r.q_after_kvar = r.q_kvar;
  if (!(s >= 0.01 * rated_kva) || !(r.v_pu > 0.1)) {
    r.status = "no_load";
    return r;
  }
  if (r.p_kw < 0) {
    r.status = "exporting";
    return r;
  }
  if (r.q_kvar < 0) {
    r.status = "leading";
    return r;
  }
  if (r.pf >= target_pf) {
    r.status = "ok";
    return r;
  }
  r.status = "compensate";
  // Q_c = P (tan φ − tan φ_target), delivered by a bank of nameplate Q_c / V² at voltage V.
  const double tan_target = std::sqrt(1 - target_pf * target_pf) / target_pf;
  r.kvar_needed = r.q_kvar - r.p_kw * tan_target;
  const double nameplate = r.kvar_needed / (r.v_pu * r.v_pu);
  // Steps of a standard size: four or more for what is needed, and no larger than the band of
  // Q that meets the target (0 … P tan φ_target), so some number of steps lands in it.
  static constexpr double kSteps[] = {1, 2.5, 5, 10, 25, 50, 100, 200, 400};
  r.step_kvar = kSteps[0];
  for (double st : kSteps) {
    if (st <= nameplate / 4 && st <= r.p_kw * tan_target) r.step_kvar = st;
  }
  // The fewer steps when they reach the target, else one more (rounding up can overshoot into
  // leading, which a small P makes costly).
  const auto after = [&](int steps) {
    const double q = r.q_kvar - steps * r.step_kvar * r.v_pu * r.v_pu;
    return std::pair{q, r.p_kw / std::hypot(r.p_kw, q)};
  };
  const int fewer = static_cast<int>(std::floor(nameplate / r.step_kvar + 1e-9));
  r.steps = fewer > 0 && after(fewer).second >= target_pf - 1e-12 ? fewer : fewer + 1;
  r.bank_kvar = r.steps * r.step_kvar;
  std::tie(r.q_after_kvar, r.pf_after) = after(r.steps);
  return r;
}

LoadBalancing load_balancing(const features::FeatureVector& f, double tolerance_pct) {
  LoadBalancing r;
  // Each phase's share now, of the last minute's mean total.
  const std::array<double, 3> now = {at(f, F::p_a_kw), at(f, F::p_b_kw), at(f, F::p_c_kw)};
  const double total_now = now[0] + now[1] + now[2];
  const double total = mean60(f, Signal::p_total_kw);
  for (int k = 0; k < 3; ++k) {
    r.p_kw[k] = total_now > 0 && total > 0 ? now[k] / total_now * total : 0;
  }
  r.p_after_kw = r.p_kw;
  r.unbalance_pct = nema(r.p_kw);
  r.unbalance_after_pct = r.unbalance_pct;
  const std::array<double, 3> amps = {at(f, F::i_a_pu), at(f, F::i_b_pu), at(f, F::i_c_pu)};
  r.current_unbalance_pct = nema(amps);
  if (!(total > 0) || r.unbalance_pct <= tolerance_pct) return r;
  // Surplus above the mean moves to the phases below it: at most two moves balance three.
  const double mean = total / 3;
  auto& p = r.p_after_kw;
  while (r.move_count < 2) {
    const int hi = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
    const int lo = static_cast<int>(std::min_element(p.begin(), p.end()) - p.begin());
    const double kw = std::min(p[hi] - mean, mean - p[lo]);
    if (!(kw > 1e-9 * mean)) break;
    p[hi] -= kw;
    p[lo] += kw;
    r.moves[r.move_count++] = {hi, lo, kw};
    r.moved_kw += kw;
  }
  r.unbalance_after_pct = nema(p);
  return r;
}

json to_json(const ReactiveCompensation& r) {
  return {{"status", r.status},
          {"p_kw", number(r.p_kw)},
          {"q_kvar", number(r.q_kvar)},
          {"power_factor", number(r.pf)},
          {"target_power_factor", r.target_pf},
          {"kvar_needed", r.kvar_needed},
          {"capacitor_step_kvar", r.step_kvar},
          {"capacitor_steps", r.steps},
          {"capacitor_kvar", r.bank_kvar},
          {"power_factor_after", number(r.pf_after)},
          {"q_after_kvar", number(r.q_after_kvar)}};
}

json to_json(const LoadBalancing& r) {
  static constexpr std::string_view kPhases[] = {"a", "b", "c"};
  json moves = json::array();
  for (int k = 0; k < r.move_count; ++k) {
    moves.push_back({{"from", kPhases[r.moves[k].from]},
                     {"to", kPhases[r.moves[k].to]},
                     {"kw", r.moves[k].kw}});
  }
  return {{"phase_p_kw", r.p_kw},
          {"phase_p_after_kw", r.p_after_kw},
          {"power_unbalance_pct", r.unbalance_pct},
          {"expected_unbalance_pct", r.unbalance_after_pct},
          {"current_unbalance_pct", r.current_unbalance_pct},
          {"moved_kw", r.moved_kw},
          {"plan", std::move(moves)}};
}

}  // namespace remhart::analytics
