#pragma once
// The energy-flow models of a device's load over days (SPEC §9, models 9 and 12) and the
// dispatch planned on them (16): the load forecast for the next 24 h at 15 minutes with an 80 %
// interval, the device's load-profile cluster and its flexible kW, and a battery plan that
// shaves the forecast peak. All read a device's history of 15-minute mean active power.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "ml/gbt.hpp"

namespace remhart::analytics {

inline constexpr double kForecastStepS = 900;
inline constexpr std::size_t kForecastSteps = 96;  ///< 24 h ahead
inline constexpr std::size_t kStepsPerDay = 96, kStepsPerWeek = 7 * 96;
/// History a forecast reads: eight days (a week's lag of the last horizon step).
inline constexpr std::size_t kHistorySteps = kStepsPerWeek + kStepsPerDay;

/// A device's active power at 15-minute steps (the mean of each step; NaN where it sent
/// nothing), the last element the newest; `start` is the start of element 0 (a multiple of
/// 15 minutes since the epoch).
struct LoadHistory {
  core::TimeUs start = 0;
  std::vector<double> p_kw;
};

// --- 9. Load forecast ---------------------------------------------------------------------
/// The features of one horizon step, relative to the device's level (its mean |P| over the
/// history, so one model serves devices of any size): horizon, the target time's calendar
/// (hour, weekday, weekend, season), the load a day and a week before the target, the latest
/// value, the last hour's and day's means, and the change since the same time yesterday.
inline constexpr std::size_t kForecastFeatureCount = 14;
const std::array<std::string_view, kForecastFeatureCount>& forecast_feature_names();
/// The level: mean |P| over the last week (at least a day of values); NaN with less.
double history_level(std::span<const double> p_kw, std::size_t issue);
/// Features for the step `horizon` (1 … 96) after the history's element `issue` (the newest
/// one the forecast may use), at `issue_ts` (the end of that element).
std::array<double, kForecastFeatureCount> forecast_features(std::span<const double> p_kw,
                                                            std::size_t issue, std::size_t horizon,
                                                            core::TimeUs issue_ts, double level);

/// The 80 % interval: quantiles of the validation runs' residuals (in units of the level) per
/// horizon band of three hours.
inline constexpr std::size_t kHorizonBands = 8;
struct ForecastInterval {
  std::array<double, kHorizonBands> q10{}, q90{};
};

struct LoadForecast {
  std::string_view status;  ///< ok, or insufficient_history (less than a day)
  core::TimeUs from = 0;    ///< the start of the first step forecast
  double level_kw = 0;
  std::array<double, kForecastSteps> p50{}, p10{}, p90{};
  double peak_kw = 0;
  std::size_t peak_step = 0;
};
LoadForecast forecast_load(const ml::GbtModel& model, const ForecastInterval& interval,
                           const LoadHistory& history);
/// The seasonal-naive baseline: the value a day before each target step.
double seasonal_naive(std::span<const double> p_kw, std::size_t issue, std::size_t horizon);

// --- 12. Demand response ------------------------------------------------------------------
/// A device's typical day: its 96 steps averaged over the history's days, each divided by the
/// day's mean (so the shape, not the size); NaN when fewer than one whole day is known.
using DayShape = std::array<double, kStepsPerDay>;
bool typical_day(const LoadHistory& history, DayShape& shape, double& mean_kw);
/// Load-profile clusters: k-means (k-means++ seeding, deterministic) of daily shapes.
struct ProfileClusters {
  std::vector<DayShape> centroids;
  std::vector<std::string> names;  ///< from each centroid's shape: evening_peak, daytime, …
};
/// The nearest centroid.
std::size_t nearest_cluster(const ProfileClusters& c, const DayShape& shape);
std::string cluster_name(const DayShape& centroid);
struct DemandResponse {
  std::string_view status;  ///< ok, insufficient_history
  std::size_t cluster = 0;
  std::string cluster_name;
  double mean_kw = 0;
  /// The flexible load at peak: what flattening the typical day's highest four hours down to
  /// the day's mean would take off, kW (their mean excess over the day's mean).
  double flexible_kw = 0;
  std::size_t peak_start_step = 0;  ///< the first step of those four hours (UTC)
};
DemandResponse demand_response(const ProfileClusters& clusters, const LoadHistory& history);
/// k-means over `shapes`; `k` clusters, at most `iterations` Lloyd steps.
ProfileClusters fit_clusters(const std::vector<DayShape>& shapes, std::size_t k, std::uint64_t seed,
                             int iterations = 50);
double silhouette(const ProfileClusters& c, const std::vector<DayShape>& shapes);

// --- 16. Optimal dispatch -----------------------------------------------------------------
struct Battery {
  double power_kw = 0, energy_kwh = 0, soc = 0.5;  ///< soc 0–1, the plan's start
  double efficiency = 0.95;                        ///< each way
  double soc_min = 0.1, soc_max = 0.9;
};
struct DispatchPlan {
  std::vector<double> battery_kw;  ///< per step: + discharging, − charging
  std::vector<double> soc;         ///< per step, at its end
  double peak_before_kw = 0, peak_after_kw = 0;
  double energy_kwh = 0;  ///< discharged
};
/// The plan that minimises the peak of `net_kw − battery` over the horizon (bisection on the
/// peak; for each candidate the battery discharges whatever exceeds it and recharges below it
/// as early as it can — optimal for one battery and a peak objective), ending at no less charge
/// than it started with. `step_h` hours per step.
DispatchPlan shave_peak(std::span<const double> net_kw, const Battery& battery, double step_h);
/// How a plan is carried out against the load as it comes: the battery holds the net load at
/// the plan's peak (`threshold_kw` = peak_after_kw), discharging what exceeds it and recharging
/// below it, within its power and charge limits. Returns the battery's kW per step.
std::vector<double> follow_threshold(std::span<const double> net_kw, const Battery& battery,
                                     double step_h, double threshold_kw);

nlohmann::json to_json(const LoadForecast& r);
nlohmann::json to_json(const DemandResponse& r);
nlohmann::json to_json(const DispatchPlan& r, core::TimeUs from, const Battery& battery);

}  // namespace remhart::analytics
