#include "analytics/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace remhart::analytics {

namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846;

double at(std::span<const double> p, std::ptrdiff_t k) {
  return k >= 0 && static_cast<std::size_t>(k) < p.size() ? p[static_cast<std::size_t>(k)] : kNaN;
}

// Mean of the finite values of p[from, to).
double mean_of(std::span<const double> p, std::ptrdiff_t from, std::ptrdiff_t to) {
  double sum = 0, n = 0;
  for (auto k = std::max<std::ptrdiff_t>(0, from); k < to; ++k) {
    const double v = at(p, k);
    if (std::isfinite(v)) {
      sum += v;
      n += 1;
    }
  }
  return n > 0 ? sum / n : kNaN;
}

}  // namespace

const std::array<std::string_view, kForecastFeatureCount>& forecast_feature_names() {
  static const std::array<std::string_view, kForecastFeatureCount> names = {
      "horizon_steps",          "target_hour_sin",
      "target_hour_cos",        "target_weekday",
      "target_weekend",         "target_year_sin",
      "target_year_cos",        "day_before_target",
      "week_before_target",     "latest",
      "mean_last_hour",         "mean_last_day",
      "change_since_yesterday", "target_day_before_mean"};
  return names;
}

double history_level(std::span<const double> p, std::size_t issue) {
  const auto end = static_cast<std::ptrdiff_t>(issue) + 1;
  double sum = 0, n = 0;
  for (auto k = std::max<std::ptrdiff_t>(0, end - static_cast<std::ptrdiff_t>(kStepsPerWeek));
       k < end; ++k) {
    const double v = at(p, k);
    if (std::isfinite(v)) {
      sum += std::abs(v);
      n += 1;
    }
  }
  return n >= static_cast<double>(kStepsPerDay) * 0.75 && sum > 0 ? sum / n : kNaN;
}

namespace {

// The entries that depend on the target step (0–8 and 13); the others on the issue only.
void set_target(std::array<double, kForecastFeatureCount>& f, std::span<const double> p,
                std::size_t issue, std::size_t horizon, core::TimeUs issue_ts, double level) {
  const auto target = static_cast<std::ptrdiff_t>(issue + horizon);
  // The target step's middle, in UTC.
  const double t_s =
      static_cast<double>(issue_ts) / 1e6 + (static_cast<double>(horizon) - 0.5) * kForecastStepS;
  const double day_frac = std::fmod(t_s, 86400) / 86400;
  const auto days = static_cast<std::int64_t>(std::floor(t_s / 86400));
  const int weekday = static_cast<int>(((days % 7) + 7 + 3) % 7);  // 0 = Monday (1970-01-01 Thu)
  const double year_frac = std::fmod(t_s / 86400, 365.2425) / 365.2425;
  const auto day = static_cast<std::ptrdiff_t>(kStepsPerDay);
  f[0] = static_cast<double>(horizon);
  f[1] = std::sin(2 * kPi * day_frac);
  f[2] = std::cos(2 * kPi * day_frac);
  f[3] = static_cast<double>(weekday);
  f[4] = weekday >= 5 ? 1.0 : 0.0;
  f[5] = std::sin(2 * kPi * year_frac);
  f[6] = std::cos(2 * kPi * year_frac);
  f[7] = at(p, target - day) / level;
  f[8] = at(p, target - 7 * day) / level;
  f[13] = mean_of(p, target - day - 2, target - day + 3) / level;
}

void set_issue(std::array<double, kForecastFeatureCount>& f, std::span<const double> p,
               std::size_t issue, double level) {
  const auto i = static_cast<std::ptrdiff_t>(issue);
  const auto day = static_cast<std::ptrdiff_t>(kStepsPerDay);
  f[9] = at(p, i) / level;
  f[10] = mean_of(p, i - 3, i + 1) / level;
  f[11] = mean_of(p, i - day + 1, i + 1) / level;
  f[12] = (at(p, i) - at(p, i - day)) / level;
}

}  // namespace

std::array<double, kForecastFeatureCount> forecast_features(std::span<const double> p,
                                                            std::size_t issue, std::size_t horizon,
                                                            core::TimeUs issue_ts, double level) {
  std::array<double, kForecastFeatureCount> f{};
  set_issue(f, p, issue, level);
  set_target(f, p, issue, horizon, issue_ts, level);
  return f;
}

double seasonal_naive(std::span<const double> p, std::size_t issue, std::size_t horizon) {
  return at(
      p, static_cast<std::ptrdiff_t>(issue + horizon) - static_cast<std::ptrdiff_t>(kStepsPerDay));
}

LoadForecast forecast_load(const ml::GbtModel& model, const ForecastInterval& interval,
                           const LoadHistory& h) {
  LoadForecast r;
  const auto step_us = static_cast<core::TimeUs>(kForecastStepS * core::kUsPerSecond);
  r.from = h.start + static_cast<core::TimeUs>(h.p_kw.size()) * step_us;
  if (h.p_kw.empty()) {
    r.status = "insufficient_history";
    return r;
  }
  const std::size_t issue = h.p_kw.size() - 1;
  r.level_kw = history_level(h.p_kw, issue);
  if (!std::isfinite(r.level_kw)) {
    r.status = "insufficient_history";
    return r;
  }
  r.status = "ok";
  std::array<double, kForecastFeatureCount> f{};
  set_issue(f, h.p_kw, issue, r.level_kw);  // the same for every step
  for (std::size_t s = 1; s <= kForecastSteps; ++s) {
    set_target(f, h.p_kw, issue, s, r.from, r.level_kw);
    double y = 0;
    model.predict(f, {&y, 1});
    const auto band = std::min(kHorizonBands - 1, (s - 1) * kHorizonBands / kForecastSteps);
    r.p50[s - 1] = y * r.level_kw;
    r.p10[s - 1] = (y + interval.q10[band]) * r.level_kw;
    r.p90[s - 1] = (y + interval.q90[band]) * r.level_kw;
  }
  r.peak_step =
      static_cast<std::size_t>(std::max_element(r.p50.begin(), r.p50.end()) - r.p50.begin());
  r.peak_kw = r.p50[r.peak_step];
  return r;
}

// --- 12 -----------------------------------------------------------------------------------

bool typical_day(const LoadHistory& h, DayShape& shape, double& mean_kw) {
  const auto step_us = static_cast<core::TimeUs>(kForecastStepS * core::kUsPerSecond);
  // Element k's position in its UTC day.
  const auto first =
      static_cast<std::size_t>((h.start / step_us) % static_cast<core::TimeUs>(kStepsPerDay));
  std::array<double, kStepsPerDay> sum{}, n{};
  std::vector<double> day(kStepsPerDay, kNaN);
  std::size_t whole = 0;
  double total = 0;
  // Whole days only: each divided by its own mean.
  for (std::size_t k = (kStepsPerDay - first) % kStepsPerDay; k + kStepsPerDay <= h.p_kw.size();
       k += kStepsPerDay) {
    double s = 0;
    bool complete = true;
    for (std::size_t j = 0; j < kStepsPerDay; ++j) {
      day[j] = h.p_kw[k + j];
      complete = complete && std::isfinite(day[j]);
      s += day[j];
    }
    const double m = s / kStepsPerDay;
    if (!complete || !(std::abs(m) > 1e-9)) continue;
    for (std::size_t j = 0; j < kStepsPerDay; ++j) {
      sum[j] += day[j] / m;
      n[j] += 1;
    }
    total += m;
    ++whole;
  }
  if (whole == 0) return false;
  for (std::size_t j = 0; j < kStepsPerDay; ++j) shape[j] = sum[j] / n[j];
  mean_kw = total / static_cast<double>(whole);
  return true;
}

namespace {
double distance2(const DayShape& a, const DayShape& b) {
  double d = 0;
  for (std::size_t j = 0; j < kStepsPerDay; ++j) d += (a[j] - b[j]) * (a[j] - b[j]);
  return d;
}
}  // namespace

std::size_t nearest_cluster(const ProfileClusters& c, const DayShape& shape) {
  std::size_t best = 0;
  double best_d = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < c.centroids.size(); ++k) {
    const double d = distance2(c.centroids[k], shape);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

std::string cluster_name(const DayShape& c) {
  const auto peak = static_cast<std::size_t>(std::max_element(c.begin(), c.end()) - c.begin());
  const double lo = *std::min_element(c.begin(), c.end());
  const double hi = c[peak];
  const double hour = static_cast<double>(peak) / 4;
  double midday = 0;
  for (std::size_t j = 44; j < 56; ++j) midday += c[j] / 12;  // 11:00–14:00
  if (lo < 0 && midday < 0.5) return "pv_export_midday";
  if (hi - lo < 0.3) return "flat";
  if (hour >= 16 && hour < 22) return "evening_peak";
  if (hour >= 7 && hour < 16) return "daytime";
  return "night";
}

ProfileClusters fit_clusters(const std::vector<DayShape>& shapes, std::size_t k, std::uint64_t seed,
                             int iterations) {
  ProfileClusters c;
  if (shapes.empty()) return c;
  k = std::min(k, shapes.size());
  std::mt19937_64 rng(seed);
  // k-means++: the first at random, each next with probability ∝ its squared distance.
  c.centroids.push_back(
      shapes[std::uniform_int_distribution<std::size_t>(0, shapes.size() - 1)(rng)]);
  std::vector<double> d2(shapes.size());
  while (c.centroids.size() < k) {
    double total = 0;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      d2[i] = distance2(shapes[i], c.centroids[nearest_cluster(c, shapes[i])]);
      total += d2[i];
    }
    if (!(total > 0)) break;
    double pick = std::uniform_real_distribution<double>(0, total)(rng);
    std::size_t i = 0;
    while (i + 1 < shapes.size() && pick > d2[i]) pick -= d2[i++];
    c.centroids.push_back(shapes[i]);
  }
  std::vector<std::size_t> of(shapes.size(), SIZE_MAX);
  for (int it = 0; it < iterations; ++it) {
    bool moved = false;
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const auto n = nearest_cluster(c, shapes[i]);
      moved = moved || n != of[i];
      of[i] = n;
    }
    if (!moved) break;
    std::vector<DayShape> sum(c.centroids.size(), DayShape{});
    std::vector<double> count(c.centroids.size(), 0);
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      for (std::size_t j = 0; j < kStepsPerDay; ++j) sum[of[i]][j] += shapes[i][j];
      count[of[i]] += 1;
    }
    for (std::size_t m = 0; m < c.centroids.size(); ++m) {
      if (count[m] == 0) continue;  // keeps its place
      for (std::size_t j = 0; j < kStepsPerDay; ++j) c.centroids[m][j] = sum[m][j] / count[m];
    }
  }
  for (const auto& centroid : c.centroids) c.names.push_back(cluster_name(centroid));
  return c;
}

double silhouette(const ProfileClusters& c, const std::vector<DayShape>& shapes) {
  if (c.centroids.size() < 2 || shapes.size() < 2) return kNaN;
  std::vector<std::size_t> of(shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i) of[i] = nearest_cluster(c, shapes[i]);
  double total = 0;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    std::vector<double> sum(c.centroids.size(), 0), n(c.centroids.size(), 0);
    for (std::size_t j = 0; j < shapes.size(); ++j) {
      if (i == j) continue;
      sum[of[j]] += std::sqrt(distance2(shapes[i], shapes[j]));
      n[of[j]] += 1;
    }
    const double a = n[of[i]] > 0 ? sum[of[i]] / n[of[i]] : 0;
    double b = std::numeric_limits<double>::infinity();
    for (std::size_t m = 0; m < c.centroids.size(); ++m) {
      if (m != of[i] && n[m] > 0) b = std::min(b, sum[m] / n[m]);
    }
    if (std::isfinite(b) && std::max(a, b) > 0) total += (b - a) / std::max(a, b);
  }
  return total / static_cast<double>(shapes.size());
}

DemandResponse demand_response(const ProfileClusters& clusters, const LoadHistory& history) {
  DemandResponse r;
  DayShape shape;
  if (clusters.centroids.empty() || !typical_day(history, shape, r.mean_kw)) {
    r.status = "insufficient_history";
    return r;
  }
  r.status = "ok";
  r.cluster = nearest_cluster(clusters, shape);
  r.cluster_name = clusters.names[r.cluster];
  // The highest four hours (16 steps), wrapping past midnight.
  double best = -std::numeric_limits<double>::infinity();
  for (std::size_t s = 0; s < kStepsPerDay; ++s) {
    double sum = 0;
    for (std::size_t j = 0; j < 16; ++j) sum += shape[(s + j) % kStepsPerDay];
    if (sum > best) {
      best = sum;
      r.peak_start_step = s;
    }
  }
  r.flexible_kw = std::max(0.0, (best / 16 - 1) * r.mean_kw);
  return r;
}

// --- 16 -----------------------------------------------------------------------------------

namespace {

// The greedy plan for peak `z`; false when the battery cannot hold the load under it.
bool plan_for(std::span<const double> net, const Battery& b, double step_h, double z,
              DispatchPlan* out) {
  double e = b.soc * b.energy_kwh;
  const double e_min = b.soc_min * b.energy_kwh, e_max = b.soc_max * b.energy_kwh;
  const double start = e;
  if (out) {
    out->battery_kw.assign(net.size(), 0);
    out->soc.assign(net.size(), 0);
    out->energy_kwh = 0;
  }
  for (std::size_t t = 0; t < net.size(); ++t) {
    double kw = 0;
    if (net[t] > z) {  // discharge the excess
      kw = net[t] - z;
      if (kw > b.power_kw + 1e-9) return false;
      e -= kw * step_h / b.efficiency;
      if (e < e_min - 1e-9) return false;
    } else {  // charge as early as possible, keeping under the peak
      const double room = (e_max - e) / (step_h * b.efficiency);
      const double charge = std::max(0.0, std::min({b.power_kw, z - net[t], room}));
      kw = -charge;
      e += charge * step_h * b.efficiency;
    }
    if (out) {
      out->battery_kw[t] = kw;
      out->soc[t] = e / b.energy_kwh;
      if (kw > 0) out->energy_kwh += kw * step_h;
    }
  }
  return e >= start - 1e-6;
}

}  // namespace

DispatchPlan shave_peak(std::span<const double> net, const Battery& b, double step_h) {
  DispatchPlan plan;
  if (net.empty()) return plan;
  plan.peak_before_kw = *std::max_element(net.begin(), net.end());
  if (!(b.power_kw > 0 && b.energy_kwh > 0)) {  // no battery: nothing to plan
    plan.battery_kw.assign(net.size(), 0);
    plan.soc.assign(net.size(), b.soc);
    plan.peak_after_kw = plan.peak_before_kw;
    return plan;
  }
  double hi = plan.peak_before_kw, lo = plan.peak_before_kw - b.power_kw;
  if (plan_for(net, b, step_h, lo, nullptr)) hi = lo;
  for (int it = 0; it < 50 && hi - lo > 1e-6 * std::max(1.0, std::abs(hi)); ++it) {
    const double mid = (lo + hi) / 2;
    (plan_for(net, b, step_h, mid, nullptr) ? hi : lo) = mid;
  }
  plan_for(net, b, step_h, hi, &plan);
  plan.peak_after_kw = 0;
  for (std::size_t t = 0; t < net.size(); ++t) {
    plan.peak_after_kw = std::max(plan.peak_after_kw, net[t] - plan.battery_kw[t]);
  }
  return plan;
}

std::vector<double> follow_threshold(std::span<const double> net, const Battery& b, double step_h,
                                     double z) {
  std::vector<double> out(net.size(), 0);
  double e = b.soc * b.energy_kwh;
  const double e_min = b.soc_min * b.energy_kwh, e_max = b.soc_max * b.energy_kwh;
  for (std::size_t t = 0; t < net.size(); ++t) {
    if (net[t] > z) {
      const double kw =
          std::min({net[t] - z, b.power_kw, std::max(0.0, (e - e_min) * b.efficiency / step_h)});
      e -= kw * step_h / b.efficiency;
      out[t] = kw;
    } else {
      const double kw =
          std::min({z - net[t], b.power_kw, std::max(0.0, (e_max - e) / (step_h * b.efficiency))});
      e += kw * step_h * b.efficiency;
      out[t] = -kw;
    }
  }
  return out;
}

// --- JSON ---------------------------------------------------------------------------------

json to_json(const LoadForecast& r) {
  if (r.status != "ok") return {{"status", r.status}};
  json steps = json::array();
  const auto step_us = static_cast<core::TimeUs>(kForecastStepS * core::kUsPerSecond);
  for (std::size_t s = 0; s < kForecastSteps; ++s) {
    steps.push_back({{"ts", core::format_rfc3339(r.from + static_cast<core::TimeUs>(s) * step_us)},
                     {"p_kw", r.p50[s]},
                     {"p10_kw", r.p10[s]},
                     {"p90_kw", r.p90[s]}});
  }
  return {
      {"status", r.status},
      {"step_s", kForecastStepS},
      {"interval", "80 % (p10–p90)"},
      {"level_kw", r.level_kw},
      {"peak_kw", r.peak_kw},
      {"peak_at", core::format_rfc3339(r.from + static_cast<core::TimeUs>(r.peak_step) * step_us)},
      {"forecast", std::move(steps)}};
}

json to_json(const DemandResponse& r) {
  if (r.status != "ok") return {{"status", r.status}};
  return {{"status", r.status},
          {"cluster", r.cluster},
          {"cluster_name", r.cluster_name},
          {"mean_kw", r.mean_kw},
          {"flexible_kw", r.flexible_kw},
          {"peak_window_utc",
           {{"from_hour", static_cast<double>(r.peak_start_step) / 4}, {"hours", 4}}}};
}

json to_json(const DispatchPlan& r, core::TimeUs from, const Battery& b) {
  json steps = json::array();
  const auto step_us = static_cast<core::TimeUs>(kForecastStepS * core::kUsPerSecond);
  for (std::size_t t = 0; t < r.battery_kw.size(); ++t) {
    steps.push_back({{"ts", core::format_rfc3339(from + static_cast<core::TimeUs>(t) * step_us)},
                     {"battery_kw", r.battery_kw[t]},
                     {"soc", r.soc[t]}});
  }
  return {{"peak_before_kw", r.peak_before_kw},
          {"peak_after_kw", r.peak_after_kw},
          {"threshold_kw", r.peak_after_kw},  // what the battery holds the load at, as it comes
          {"peak_reduction_kw", r.peak_before_kw - r.peak_after_kw},
          {"discharged_kwh", r.energy_kwh},
          {"battery",
           {{"power_kw", b.power_kw},
            {"energy_kwh", b.energy_kwh},
            {"soc_start", b.soc},
            {"soc_start_note", "the configured state of charge: batteries report no telemetry"}}},
          {"plan", std::move(steps)}};
}

}  // namespace remhart::analytics
