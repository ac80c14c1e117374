// Feature formulas: see features.hpp and docs/analytics.md. Unbalance: the CIGRÉ magnitude
// formula for the IEC 61000-4-30 voltage unbalance factor, VUF = √((1 − √(3 − 6β)) / (1 +
// √(3 − 6β))), β = (a⁴ + b⁴ + c⁴) / (a² + b² + c²)², and NEMA MG-1's maximum deviation from the
// mean over the mean. Rolling slope: ordinary least squares of the signal on time.
#include "features/features.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

namespace remhart::features {

namespace {

constexpr double kNaN = core::kAbsent;
constexpr double kTwoPi = 2 * std::numbers::pi;

double cigre_unbalance_pct(double a, double b, double c) {
  const double s2 = a * a + b * b + c * c;
  if (!(s2 > 0)) return kNaN;
  const double beta = (a * a * a * a + b * b * b * b + c * c * c * c) / (s2 * s2);
  const double r = std::sqrt(std::max(0.0, 3 - 6 * beta));
  return 100 * std::sqrt((1 - r) / (1 + r));
}

double nema_unbalance_pct(double a, double b, double c) {
  const double mean = (a + b + c) / 3;
  if (!(mean > 0)) return kNaN;
  const double dev = std::max({std::abs(a - mean), std::abs(b - mean), std::abs(c - mean)});
  return 100 * dev / mean;
}

double ratio_or_nan(double num, double den) {
  return std::abs(den) > 1e-12 ? num / den : kNaN;
}

bool same_values(const core::Values& a, const core::Values& b) {
  const double* x = core::as_array(a);
  const double* y = core::as_array(b);
  for (std::size_t k = 0; k < core::kValueCount; ++k) {
    if (!(x[k] == y[k] || (std::isnan(x[k]) && std::isnan(y[k])))) return false;
  }
  return true;
}

struct Docs {
  std::array<FeatureDef, kFeatureCount> defs{};
  std::array<std::string, kRollingCount> rolling_names, rolling_formulas;
};

constexpr std::array<std::string_view, kSignalCount> kSignalNames = {
    "v_avg_pu",     "v_min_pu", "v_max_pu",    "i_max_pu",      "p_total_kw",
    "q_total_kvar", "f_hz",     "vu_nema_pct", "thd_v_max_pct", "thd_i_max_pct"};
constexpr std::array<std::string_view, kSignalCount> kSignalUnits = {
    "p.u.", "p.u.", "p.u.", "p.u.", "kW", "kvar", "Hz", "%", "%", "%"};
constexpr std::array<std::string_view, kStatCount> kStatNames = {"mean", "std", "min", "max",
                                                                 "slope"};

Docs make_docs() {
  Docs d;
  const auto set = [&](F f, std::string_view name, std::string_view unit, std::string_view window,
                       std::string_view formula) {
    d.defs[index(f)] = {name, unit, window, formula};
  };
  // clang-format off
  set(F::v_a_pu, "v_a_pu", "p.u.", "sample", "V_a / V_nominal");
  set(F::v_b_pu, "v_b_pu", "p.u.", "sample", "V_b / V_nominal");
  set(F::v_c_pu, "v_c_pu", "p.u.", "sample", "V_c / V_nominal");
  set(F::v_avg_pu, "v_avg_pu", "p.u.", "sample", "mean of the three phase voltages, per unit");
  set(F::v_min_pu, "v_min_pu", "p.u.", "sample", "lowest phase voltage, per unit");
  set(F::v_max_pu, "v_max_pu", "p.u.", "sample", "highest phase voltage, per unit");
  set(F::v_dev_max_pu, "v_dev_max_pu", "p.u.", "sample", "largest |V_k / V_nominal − 1| over the phases");
  set(F::v_spread_pu, "v_spread_pu", "p.u.", "sample", "v_max_pu − v_min_pu");
  set(F::phases_without_voltage, "phases_without_voltage", "1", "sample", "phases below 0.1 p.u. (0–3)");
  set(F::i_a_pu, "i_a_pu", "p.u.", "sample", "I_a / I_rated");
  set(F::i_b_pu, "i_b_pu", "p.u.", "sample", "I_b / I_rated");
  set(F::i_c_pu, "i_c_pu", "p.u.", "sample", "I_c / I_rated");
  set(F::i_avg_pu, "i_avg_pu", "p.u.", "sample", "mean phase current / I_rated");
  set(F::i_max_pu, "i_max_pu", "p.u.", "sample", "highest phase current / I_rated (loading)");
  set(F::phases_without_current, "phases_without_current", "1", "sample", "phases below 0.01 × I_rated (0–3)");
  set(F::p_a_kw, "p_a_kw", "kW", "sample", "P_a / 1000");
  set(F::p_b_kw, "p_b_kw", "kW", "sample", "P_b / 1000");
  set(F::p_c_kw, "p_c_kw", "kW", "sample", "P_c / 1000");
  set(F::p_total_kw, "p_total_kw", "kW", "sample", "(P_a + P_b + P_c) / 1000; negative when exporting");
  set(F::q_a_kvar, "q_a_kvar", "kvar", "sample", "Q_a / 1000");
  set(F::q_b_kvar, "q_b_kvar", "kvar", "sample", "Q_b / 1000");
  set(F::q_c_kvar, "q_c_kvar", "kvar", "sample", "Q_c / 1000");
  set(F::q_total_kvar, "q_total_kvar", "kvar", "sample", "(Q_a + Q_b + Q_c) / 1000");
  set(F::s_total_kva, "s_total_kva", "kVA", "sample", "√(P_total² + Q_total²) / 1000");
  set(F::pf_abs, "pf_abs", "1", "sample", "|P_total| / S_total (NaN when S = 0)");
  set(F::pf_sign, "pf_sign", "1", "sample", "+1 importing active power, −1 exporting (NaN when S = 0)");
  set(F::pf_a, "pf_a", "1", "sample", "|P_a| / √(P_a² + Q_a²)");
  set(F::pf_b, "pf_b", "1", "sample", "|P_b| / √(P_b² + Q_b²)");
  set(F::pf_c, "pf_c", "1", "sample", "|P_c| / √(P_c² + Q_c²)");
  set(F::vuf_pct, "vuf_pct", "%", "sample", "IEC voltage unbalance factor |V₂|/|V₁| by the CIGRÉ magnitude formula on the phase voltages (exact without zero sequence; meters report no angles)");
  set(F::vu_nema_pct, "vu_nema_pct", "%", "sample", "NEMA MG-1: 100 × max |V_k − V_avg| / V_avg");
  set(F::iuf_pct, "iuf_pct", "%", "sample", "the CIGRÉ magnitude formula on the phase currents");
  set(F::iu_nema_pct, "iu_nema_pct", "%", "sample", "100 × max |I_k − I_avg| / I_avg");
  set(F::p_unbalance_pct, "p_unbalance_pct", "%", "sample", "100 × max |P_k − P̄| / mean |P_k|");
  set(F::f_hz, "f_hz", "Hz", "sample", "frequency");
  set(F::f_dev_hz, "f_dev_hz", "Hz", "sample", "f − f_nominal");
  set(F::rocof_hz_s, "rocof_hz_s", "Hz/s", "2 samples", "(f − f_previous) / Δt");
  set(F::thd_v_a_pct, "thd_v_a_pct", "%", "sample", "voltage THD, phase a (NaN when not reported)");
  set(F::thd_v_b_pct, "thd_v_b_pct", "%", "sample", "voltage THD, phase b");
  set(F::thd_v_c_pct, "thd_v_c_pct", "%", "sample", "voltage THD, phase c");
  set(F::thd_v_max_pct, "thd_v_max_pct", "%", "sample", "largest voltage THD of the reported phases");
  set(F::thd_i_a_pct, "thd_i_a_pct", "%", "sample", "current THD, phase a");
  set(F::thd_i_b_pct, "thd_i_b_pct", "%", "sample", "current THD, phase b");
  set(F::thd_i_c_pct, "thd_i_c_pct", "%", "sample", "current THD, phase c");
  set(F::thd_i_max_pct, "thd_i_max_pct", "%", "sample", "largest current THD of the reported phases");
  set(F::thd_present, "thd_present", "1", "sample", "1 when any THD is reported, else 0");
  set(F::temp_c, "temp_c", "°C", "sample", "reported temperature (NaN when not reported)");
  set(F::dv_dt_pu_s, "dv_dt_pu_s", "p.u./s", "2 samples", "(v_avg_pu − previous) / Δt");
  set(F::di_dt_pu_s, "di_dt_pu_s", "p.u./s", "2 samples", "(i_max_pu − previous) / Δt");
  set(F::dp_dt_kw_s, "dp_dt_kw_s", "kW/s", "2 samples", "(p_total_kw − previous) / Δt");
  set(F::dt_s, "dt_s", "s", "2 samples", "time since the device's previous sample (NaN for the first)");
  set(F::repeat_count, "repeat_count", "1", "run of samples", "consecutive samples identical to their predecessor in every field (a stuck meter)");
  set(F::v_avg_vs_900s_pu, "v_avg_vs_900s_pu", "p.u.", "900s", "v_avg_pu − v_avg_pu_mean_900s");
  set(F::v_min_vs_900s_pu, "v_min_vs_900s_pu", "p.u.", "900s", "v_min_pu − v_avg_pu_mean_900s");
  set(F::i_max_vs_900s_ratio, "i_max_vs_900s_ratio", "1", "900s", "i_max_pu / i_max_pu_mean_900s");
  set(F::f_vs_10s_hz, "f_vs_10s_hz", "Hz", "10s", "f_hz − f_hz_mean_10s");
  set(F::f_vs_60s_hz, "f_vs_60s_hz", "Hz", "60s", "f_hz − f_hz_mean_60s");
  set(F::f_vs_900s_hz, "f_vs_900s_hz", "Hz", "900s", "f_hz − f_hz_mean_900s");
  set(F::p_vs_900s_kw, "p_vs_900s_kw", "kW", "900s", "p_total_kw − p_total_kw_mean_900s");
  set(F::thd_i_vs_900s_pct, "thd_i_vs_900s_pct", "%", "900s", "thd_i_max_pct − thd_i_max_pct_mean_900s");
  set(F::hour_sin, "hour_sin", "1", "sample", "sin(2π · hour of day / 24), UTC");
  set(F::hour_cos, "hour_cos", "1", "sample", "cos(2π · hour of day / 24), UTC");
  set(F::weekday_sin, "weekday_sin", "1", "sample", "sin(2π · (weekday + hour/24) / 7), Monday = 0");
  set(F::weekday_cos, "weekday_cos", "1", "sample", "cos(2π · (weekday + hour/24) / 7)");
  set(F::weekend, "weekend", "1", "sample", "1 on Saturday and Sunday (UTC), else 0");
  set(F::year_sin, "year_sin", "1", "sample", "sin(2π · days since 1 January 1970 / 365.2425): the season");
  set(F::year_cos, "year_cos", "1", "sample", "cos(2π · days since 1 January 1970 / 365.2425)");
  set(F::net_bus_v_pu, "net_bus_v_pu", "p.u.", "latest estimate", "estimated |V| of the device's bus");
  set(F::net_voltage_margin_pu, "net_voltage_margin_pu", "p.u.", "latest estimate", "min(1.1 − |V|, |V| − 0.9) at the device's bus (EN 50160 band; negative outside)");
  set(F::net_loading_pct, "net_loading_pct", "%", "latest estimate", "loading of the branch the device measures or that feeds its bus, % of rate A");
  set(F::net_min_v_pu, "net_min_v_pu", "p.u.", "latest estimate", "lowest estimated |V| of the network");
  set(F::net_losses_mw, "net_losses_mw", "MW", "latest estimate", "technical losses of the network");
  set(F::net_losses_pct, "net_losses_pct", "%", "latest estimate", "100 × losses / network demand");
  // clang-format on
  constexpr std::array<std::string_view, kStatCount> kStatFormula = {
      "mean of", "population standard deviation of", "minimum of", "maximum of",
      "least-squares slope over time (per second) of"};
  for (std::size_t s = 0; s < kSignalCount; ++s) {
    for (std::size_t w = 0; w < kWindowsS.size(); ++w) {
      for (std::size_t k = 0; k < kStatCount; ++k) {
        const auto at = index(static_cast<Signal>(s), w, static_cast<Stat>(k));
        auto& name = d.rolling_names[at - kInstantCount];
        auto& formula = d.rolling_formulas[at - kInstantCount];
        name = std::string(kSignalNames[s]) + "_" + std::string(kStatNames[k]) + "_" +
               std::string(kWindowNames[w]);
        formula = std::string(kStatFormula[k]) + " " + std::string(kSignalNames[s]) +
                  " over the last " + std::string(kWindowNames[w]);
        d.defs[at] = {
            name, k == static_cast<std::size_t>(Stat::slope) ? std::string_view{} : kSignalUnits[s],
            kWindowNames[w], formula};
      }
    }
  }
  // Slope units: the signal's unit per second, kept in static strings.
  static const std::array<std::string, kSignalCount> slope_units = [] {
    std::array<std::string, kSignalCount> u;
    for (std::size_t s = 0; s < kSignalCount; ++s) u[s] = std::string(kSignalUnits[s]) + "/s";
    return u;
  }();
  for (std::size_t s = 0; s < kSignalCount; ++s) {
    for (std::size_t w = 0; w < kWindowsS.size(); ++w) {
      d.defs[index(static_cast<Signal>(s), w, Stat::slope)].unit = slope_units[s];
    }
  }
  return d;
}

}  // namespace

DeviceRatings ratings_of(const core::Device& d) {
  return {d.nominal_voltage, d.rated_current, d.nominal_frequency};
}

const std::array<FeatureDef, kFeatureCount>& feature_defs() {
  static const Docs docs = make_docs();
  return docs.defs;
}

DeviceFeatures::Window::Window(double window_s, std::size_t buckets)
    : count_(static_cast<std::int64_t>(std::clamp<std::size_t>(buckets, 1, kMaxBuckets))),
      span_s_(window_s / static_cast<double>(count_)) {
  shift_.fill(kNaN);
}

void DeviceFeatures::Window::add(double t_s, const Signals& y) {
  const auto number = static_cast<std::int64_t>(std::floor(t_s / span_s_));
  auto& b = slot(number);
  // The slot's previous bucket is at least a window older: out of every later window.
  if (b.number != number) b = Bucket{number};
  const double t = t_s - static_cast<double>(number) * span_s_;
  for (std::size_t s = 0; s < kSignalCount; ++s) {
    if (!std::isfinite(y[s])) continue;  // absent (or invalid) values leave the window as it was
    if (std::isnan(shift_[s])) shift_[s] = y[s];
    const double v = y[s] - shift_[s];
    const bool first = b.n[s] == 0;
    b.min[s] = first ? v : std::min(b.min[s], v);
    b.max[s] = first ? v : std::max(b.max[s], v);
    b.n[s] += 1;
    b.sy[s] += v;
    b.syy[s] += v * v;
    b.st[s] += t;
    b.stt[s] += t * t;
    b.sty[s] += t * v;
  }
}

void DeviceFeatures::Window::Totals::add(const Bucket& b, double o) {
  for (std::size_t s = 0; s < kSignalCount; ++s) {
    // A signal absent from the bucket adds nothing (its sums are zero, its extremes unset).
    const bool has = b.n[s] > 0, first = n[s] == 0;
    lo[s] = has ? (first ? b.min[s] : std::min(lo[s], b.min[s])) : lo[s];
    hi[s] = has ? (first ? b.max[s] : std::max(hi[s], b.max[s])) : hi[s];
    n[s] += b.n[s];
    sy[s] += b.sy[s];
    syy[s] += b.syy[s];
    st[s] += b.n[s] * o + b.st[s];
    stt[s] += b.n[s] * o * o + 2 * o * b.st[s] + b.stt[s];
    sty[s] += o * b.sy[s] + b.sty[s];
  }
}

void DeviceFeatures::Window::stats(double t_s, std::size_t window, FeatureVector& out) {
  const auto now = static_cast<std::int64_t>(std::floor(t_s / span_s_));
  if (now != cached_now_) {
    cached_ = Totals{};
    for (std::int64_t k = 0; k < count_; ++k) {
      const auto& b = buckets_[static_cast<std::size_t>(k)];
      if (b.number >= now || b.number <= now - count_) continue;
      cached_.add(b, static_cast<double>(b.number - now) * span_s_);  // offset ≤ 0
    }
    cached_now_ = now;
  }
  Totals t = cached_;
  const auto& current = slot(now);
  if (current.number == now) t.add(current, 0);
  for (std::size_t s = 0; s < kSignalCount; ++s) {
    double* o = &out[index(static_cast<Signal>(s), window, Stat::mean)];
    const double n = t.n[s];
    if (n == 0) {
      std::fill(o, o + kStatCount, kNaN);
      continue;
    }
    const double mean = t.sy[s] / n;
    const double var = std::max(0.0, t.syy[s] / n - mean * mean);
    const double den = n * t.stt[s] - t.st[s] * t.st[s];
    o[static_cast<std::size_t>(Stat::mean)] = mean + shift_[s];
    o[static_cast<std::size_t>(Stat::std)] = std::sqrt(var);
    o[static_cast<std::size_t>(Stat::min)] = t.lo[s] + shift_[s];
    o[static_cast<std::size_t>(Stat::max)] = t.hi[s] + shift_[s];
    o[static_cast<std::size_t>(Stat::slope)] =
        den > 1e-9 * n * n ? (n * t.sty[s] - t.st[s] * t.sy[s]) / den : 0;
  }
}

DeviceFeatures::DeviceFeatures(DeviceRatings ratings) : r_(ratings) {
  for (std::size_t w = 0; w < kWindowsS.size(); ++w) {
    windows_[w] = Window(kWindowsS[w], kWindowBuckets[w]);
  }
}

bool DeviceFeatures::update(core::TimeUs ts, const core::Values& v, const NetworkContext& net,
                            FeatureVector& out) {
  if (samples_ > 0 && ts <= last_ts_) return false;
  const auto at = [&](F f) -> double& { return out[index(f)]; };
  const double vn = r_.nominal_voltage, in = r_.rated_current;

  // Voltage.
  std::array<double, 3> vpu{}, ipu{};
  for (std::size_t k = 0; k < 3; ++k) {
    vpu[k] = v.v[k] / vn;
    ipu[k] = v.i[k] / in;
  }
  at(F::v_a_pu) = vpu[0];
  at(F::v_b_pu) = vpu[1];
  at(F::v_c_pu) = vpu[2];
  const double v_avg = (vpu[0] + vpu[1] + vpu[2]) / 3;
  const double v_min = std::min({vpu[0], vpu[1], vpu[2]});
  const double v_max = std::max({vpu[0], vpu[1], vpu[2]});
  at(F::v_avg_pu) = v_avg;
  at(F::v_min_pu) = v_min;
  at(F::v_max_pu) = v_max;
  at(F::v_dev_max_pu) = std::max(std::abs(v_min - 1), std::abs(v_max - 1));
  at(F::v_spread_pu) = v_max - v_min;
  at(F::phases_without_voltage) = (vpu[0] < 0.1) + (vpu[1] < 0.1) + (vpu[2] < 0.1);

  // Current.
  at(F::i_a_pu) = ipu[0];
  at(F::i_b_pu) = ipu[1];
  at(F::i_c_pu) = ipu[2];
  const double i_max = std::max({ipu[0], ipu[1], ipu[2]});
  at(F::i_avg_pu) = (ipu[0] + ipu[1] + ipu[2]) / 3;
  at(F::i_max_pu) = i_max;
  at(F::phases_without_current) = (ipu[0] < 0.01) + (ipu[1] < 0.01) + (ipu[2] < 0.01);

  // Power.
  const double p_kw = (v.p[0] + v.p[1] + v.p[2]) / 1000;
  const double q_kvar = (v.q[0] + v.q[1] + v.q[2]) / 1000;
  const double s_kva = std::hypot(p_kw, q_kvar);
  at(F::p_a_kw) = v.p[0] / 1000;
  at(F::p_b_kw) = v.p[1] / 1000;
  at(F::p_c_kw) = v.p[2] / 1000;
  at(F::p_total_kw) = p_kw;
  at(F::q_a_kvar) = v.q[0] / 1000;
  at(F::q_b_kvar) = v.q[1] / 1000;
  at(F::q_c_kvar) = v.q[2] / 1000;
  at(F::q_total_kvar) = q_kvar;
  at(F::s_total_kva) = s_kva;
  at(F::pf_abs) = s_kva > 0 ? std::abs(p_kw) / s_kva : kNaN;
  at(F::pf_sign) = s_kva > 0 ? (p_kw < 0 ? -1.0 : 1.0) : kNaN;
  const F phase_pf[] = {F::pf_a, F::pf_b, F::pf_c};
  for (std::size_t k = 0; k < 3; ++k) {
    const double s = std::hypot(v.p[k], v.q[k]);
    at(phase_pf[k]) = s > 0 ? std::abs(v.p[k]) / s : kNaN;
  }

  // Unbalance.
  at(F::vuf_pct) = cigre_unbalance_pct(v.v[0], v.v[1], v.v[2]);
  const double vu_nema = nema_unbalance_pct(v.v[0], v.v[1], v.v[2]);
  at(F::vu_nema_pct) = vu_nema;
  at(F::iuf_pct) = cigre_unbalance_pct(v.i[0], v.i[1], v.i[2]);
  at(F::iu_nema_pct) = nema_unbalance_pct(v.i[0], v.i[1], v.i[2]);
  {
    const double mean_abs = (std::abs(v.p[0]) + std::abs(v.p[1]) + std::abs(v.p[2])) / 3;
    const double mean = (v.p[0] + v.p[1] + v.p[2]) / 3;
    const double dev =
        std::max({std::abs(v.p[0] - mean), std::abs(v.p[1] - mean), std::abs(v.p[2] - mean)});
    at(F::p_unbalance_pct) = mean_abs > 0 ? 100 * dev / mean_abs : kNaN;
  }

  // Frequency, rates and sampling.
  const bool first = samples_ == 0;
  const double dt = first ? kNaN : static_cast<double>(ts - last_ts_) / core::kUsPerSecond;
  at(F::f_hz) = v.f;
  at(F::f_dev_hz) = v.f - r_.nominal_frequency;
  at(F::rocof_hz_s) = first ? kNaN : (v.f - last_f_) / dt;
  at(F::dv_dt_pu_s) = first ? kNaN : (v_avg - last_v_pu_) / dt;
  at(F::di_dt_pu_s) = first ? kNaN : (i_max - last_i_pu_) / dt;
  at(F::dp_dt_kw_s) = first ? kNaN : (p_kw - last_p_kw_) / dt;
  at(F::dt_s) = dt;
  repeats_ = !first && same_values(v, last_) ? repeats_ + 1 : 0;
  at(F::repeat_count) = repeats_;

  // Harmonics and temperature.
  const F thd_v[] = {F::thd_v_a_pct, F::thd_v_b_pct, F::thd_v_c_pct};
  const F thd_i[] = {F::thd_i_a_pct, F::thd_i_b_pct, F::thd_i_c_pct};
  double thd_v_max = kNaN, thd_i_max = kNaN;
  for (std::size_t k = 0; k < 3; ++k) {
    at(thd_v[k]) = v.thd_v[k];
    at(thd_i[k]) = v.thd_i[k];
    if (core::is_present(v.thd_v[k]))
      thd_v_max = std::isnan(thd_v_max) ? v.thd_v[k] : std::max(thd_v_max, v.thd_v[k]);
    if (core::is_present(v.thd_i[k]))
      thd_i_max = std::isnan(thd_i_max) ? v.thd_i[k] : std::max(thd_i_max, v.thd_i[k]);
  }
  at(F::thd_v_max_pct) = thd_v_max;
  at(F::thd_i_max_pct) = thd_i_max;
  at(F::thd_present) = core::is_present(thd_v_max) || core::is_present(thd_i_max) ? 1 : 0;
  at(F::temp_c) = v.temp;

  // Rolling windows (the current sample included).
  const double t_s = static_cast<double>(ts) / core::kUsPerSecond;
  const Window::Signals signal = {v_avg,  v_min, v_max,   i_max,     p_kw,
                                  q_kvar, v.f,   vu_nema, thd_v_max, thd_i_max};
  for (std::size_t w = 0; w < kWindowsS.size(); ++w) {
    windows_[w].add(t_s, signal);
    windows_[w].stats(t_s, w, out);
  }
  const auto rolling = [&](Signal s, std::size_t w) { return out[index(s, w, Stat::mean)]; };
  at(F::v_avg_vs_900s_pu) = v_avg - rolling(Signal::v_avg_pu, 2);
  at(F::v_min_vs_900s_pu) = v_min - rolling(Signal::v_avg_pu, 2);
  at(F::i_max_vs_900s_ratio) = ratio_or_nan(i_max, rolling(Signal::i_max_pu, 2));
  at(F::f_vs_10s_hz) = v.f - rolling(Signal::f_hz, 0);
  at(F::f_vs_60s_hz) = v.f - rolling(Signal::f_hz, 1);
  at(F::f_vs_900s_hz) = v.f - rolling(Signal::f_hz, 2);
  at(F::p_vs_900s_kw) = p_kw - rolling(Signal::p_total_kw, 2);
  at(F::thd_i_vs_900s_pct) = thd_i_max - rolling(Signal::thd_i_max_pct, 2);

  // Calendar (UTC).
  const double days = std::floor(t_s / 86400);
  const double hour = (t_s - days * 86400) / 3600;
  const double weekday = std::fmod(std::fmod(days + 3, 7) + 7, 7);  // 1970-01-01: Thursday
  at(F::hour_sin) = std::sin(kTwoPi * hour / 24);
  at(F::hour_cos) = std::cos(kTwoPi * hour / 24);
  at(F::weekday_sin) = std::sin(kTwoPi * (weekday + hour / 24) / 7);
  at(F::weekday_cos) = std::cos(kTwoPi * (weekday + hour / 24) / 7);
  at(F::weekend) = weekday >= 5 ? 1 : 0;
  const double year_phase = kTwoPi * std::fmod(t_s / 86400, 365.2425) / 365.2425;
  at(F::year_sin) = std::sin(year_phase);
  at(F::year_cos) = std::cos(year_phase);

  // The twin's network state.
  at(F::net_bus_v_pu) = net.bus_v_pu;
  at(F::net_voltage_margin_pu) = std::min(1.1 - net.bus_v_pu, net.bus_v_pu - 0.9);
  at(F::net_loading_pct) = net.loading_pct;
  at(F::net_min_v_pu) = net.network_min_v_pu;
  at(F::net_losses_mw) = net.losses_mw;
  at(F::net_losses_pct) = net.load_mw > 0 ? 100 * net.losses_mw / net.load_mw : kNaN;

  ++samples_;
  last_ts_ = ts;
  last_ = v;
  last_v_pu_ = v_avg;
  last_i_pu_ = i_max;
  last_p_kw_ = p_kw;
  last_f_ = v.f;
  return true;
}

}  // namespace remhart::features
