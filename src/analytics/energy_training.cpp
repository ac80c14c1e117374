#include "analytics/energy_training.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "analytics/catalogue.hpp"
#include "analytics/dataset.hpp"
#include "analytics/forecast.hpp"
#include "analytics/results.hpp"
#include "ml/io/xgboost_json.hpp"
#include "ml/metrics.hpp"
#include "ml/xgboost_train.hpp"

namespace remhart::analytics {

namespace {

using detail::target;
using nlohmann::json;

constexpr std::size_t kIssueEvery = 16;  // a forecast every four hours of each run
constexpr std::size_t kWarmUpDays = 8;   // history before the first forecast scored

// Long runs of an ordinary life (no scenario events), a month and more each, starting over the
// year; split by run in rotation.
std::vector<RunSpec> long_plan(std::uint64_t seed, double scale) {
  std::mt19937_64 rng(seed ^ 0x10adf0ca57ULL);
  const auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  constexpr core::TimeUs kYear2025 = 1'735'689'600'000'000;
  const int runs = std::max(5, static_cast<int>(std::lround(15 * scale)));
  std::vector<RunSpec> plan;
  for (int r = 0; r < runs; ++r) {
    RunSpec s;
    s.scenario = "normal_day";
    s.seed = rng();
    const auto day = static_cast<core::TimeUs>(r * 365 / runs);
    s.start = kYear2025 + day * 86400 * core::kUsPerSecond;
    s.duration_s = (kWarmUpDays + 28) * 86400.0;
    s.step_s = kForecastStepS;
    s.split = r % 5 < 3 ? Split::train : r % 5 == 3 ? Split::validation : Split::test;
    s.params.numbers["load_scale"] = uniform(0.7, 1.3);
    s.params.numbers["cloudiness"] = uniform(0, 1);
    plan.push_back(std::move(s));
  }
  return plan;
}

struct DeviceSeries {
  std::vector<double> p_kw;
};

std::vector<DeviceSeries> series_of(const RunData& run) {
  std::vector<DeviceSeries> out(run.devices.size());
  for (std::size_t d = 0; d < run.devices.size(); ++d) {
    for (const auto& s : run.steps[d]) {
      out[d].p_kw.push_back(s.present ? (s.values.p[0] + s.values.p[1] + s.values.p[2]) / 1000
                                      : core::kAbsent);
    }
  }
  return out;
}

// The names of 96 inputs, one per 15-minute step.
std::vector<std::string> step_names(const std::string& prefix) {
  std::vector<std::string> names;
  for (std::size_t k = 0; k < kStepsPerDay; ++k) names.push_back(prefix + std::to_string(k));
  return names;
}

std::size_t head_device(const sim::Twin& twin) {
  for (std::size_t d = 0; d < twin.devices.size(); ++d) {
    try {
      const auto ref = sim::resolve_element(twin.network, twin.devices[d].device.element);
      if (ref.is_bus) continue;
      const auto& b = twin.network.branches[ref.branch];
      if (b.from == twin.transformer.from && b.to == twin.transformer.to) return d;
    } catch (const grid::NetworkError&) {
    }
  }
  return SIZE_MAX;
}

}  // namespace

std::string head_device_id(const sim::Twin& twin) {
  const auto d = head_device(twin);
  return d < twin.devices.size() ? twin.devices[d].device.id : std::string();
}

Battery twin_battery(const sim::Twin& twin) {
  Battery b;
  double soc_energy = 0;
  for (const auto& x : twin.batteries) {
    b.power_kw += x.power_kw;
    b.energy_kwh += x.energy_kwh;
    soc_energy += x.soc * x.energy_kwh;
  }
  b.soc = b.energy_kwh > 0 ? soc_energy / b.energy_kwh : 0.5;
  return b;
}

void train_energy_models(const sim::Twin& twin, const TrainOptions& opt,
                         std::vector<TrainedModel>& out) {
  const auto plan = long_plan(opt.seed, opt.scale);
  std::vector<std::vector<DeviceSeries>> runs;
  std::vector<core::TimeUs> starts;
  for (std::size_t r = 0; r < plan.size(); ++r) {
    if (opt.cancel && opt.cancel->load()) throw TrainingCancelled();
    runs.push_back(series_of(simulate_run(twin, plan[r])));
    starts.push_back(plan[r].start);
    if (opt.progress) {
      opt.progress("simulating month-long runs",
                   static_cast<double>(r + 1) / static_cast<double>(plan.size()));
    }
  }
  const auto step_us = static_cast<core::TimeUs>(kForecastStepS * core::kUsPerSecond);
  const auto issue_ts = [&](std::size_t r, std::size_t issue) {
    return starts[r] + static_cast<core::TimeUs>(issue + 1) * step_us;
  };
  // Every (run, device, issue) of a split with its level; `visit(r, d, issue, level)`.
  const auto issues = [&](Split split, std::size_t first, auto&& visit) {
    for (std::size_t r = 0; r < runs.size(); ++r) {
      if (plan[r].split != split) continue;
      for (std::size_t d = 0; d < runs[r].size(); ++d) {
        const auto& p = runs[r][d].p_kw;
        for (std::size_t i = first; i + kForecastSteps < p.size(); i += kIssueEvery) {
          const double level = history_level(p, i);
          if (std::isfinite(level)) visit(r, d, i, level);
        }
      }
    }
  };

  // 9. The load forecast: trees on the relative load, residual quantiles from validation.
  ml::Matrix rows;
  rows.cols = kForecastFeatureCount;
  issues(Split::train, kStepsPerDay,
         [&](std::size_t r, std::size_t d, std::size_t i, double level) {
           const auto& p = runs[r][d].p_kw;
           for (std::size_t h = 1; h <= kForecastSteps; h += 3) {
             const double y = p[i + h];
             if (std::isfinite(y))
               rows.add(forecast_features(p, i, h, issue_ts(r, i), level), y / level);
           }
         });
  ml::GbtParams params;
  params.objective = "reg:squarederror";
  params.rounds = 50;  // 96 steps × the trees: every round costs serving time
  params.eta = 0.15;
  params.max_depth = 6;
  params.threads = std::max(1, opt.threads);
  params.seed = opt.seed;
  std::vector<std::string> names;
  for (auto n : forecast_feature_names()) names.emplace_back(n);
  if (opt.progress) opt.progress("training load-forecast", 0);
  auto& fm = out[static_cast<std::size_t>(ModelId::load_forecast)];
  fm.model_json = ml::train_gbt(rows, params, names);
  fm.gbt = ml::io::parse_xgboost_json(fm.model_json, kForecastFeatureCount);
  if (opt.progress) opt.progress("training load-forecast", 1);
  const auto predict = [&](std::size_t r, std::size_t d, std::size_t i, std::size_t h,
                           double level) {
    double y = 0;
    fm.gbt.predict(forecast_features(runs[r][d].p_kw, i, h, issue_ts(r, i), level), {&y, 1});
    return y;
  };
  std::array<std::vector<double>, kHorizonBands> residuals;
  issues(Split::validation, kWarmUpDays * kStepsPerDay,
         [&](std::size_t r, std::size_t d, std::size_t i, double level) {
           const auto& p = runs[r][d].p_kw;
           for (std::size_t h = 1; h <= kForecastSteps; ++h) {
             if (!std::isfinite(p[i + h])) continue;
             residuals[(h - 1) * kHorizonBands / kForecastSteps].push_back(
                 p[i + h] / level - predict(r, d, i, h, level));
           }
         });
  ForecastInterval interval;
  for (std::size_t b = 0; b < kHorizonBands; ++b) {
    auto& v = residuals[b];
    if (v.empty()) throw std::runtime_error("load-forecast: no validation forecasts");
    std::sort(v.begin(), v.end());
    interval.q10[b] = v[static_cast<std::size_t>(0.1 * static_cast<double>(v.size() - 1))];
    interval.q90[b] = v[static_cast<std::size_t>(0.9 * static_cast<double>(v.size() - 1))];
  }
  // Test: the model and the seasonal-naive baseline, MAPE over steps whose load is at least a
  // tenth of the device's level (net load near zero, under PV, makes percentages meaningless).
  std::vector<double> truth, model, naive, lo, hi, truth_all;
  std::vector<double> model_all, naive_all;
  const Battery battery = twin_battery(twin);
  const std::size_t head = head_device(twin);
  std::vector<double> promised, single, realised, perfect;
  issues(Split::test, kWarmUpDays * kStepsPerDay,
         [&](std::size_t r, std::size_t d, std::size_t i, double level) {
           const auto& p = runs[r][d].p_kw;
           std::vector<double> fc(kForecastSteps), actual(kForecastSteps);
           bool complete = true;
           for (std::size_t h = 1; h <= kForecastSteps; ++h) {
             const double y = p[i + h];
             const double f = predict(r, d, i, h, level);
             const auto band = (h - 1) * kHorizonBands / kForecastSteps;
             fc[h - 1] = f * level;
             actual[h - 1] = y;
             complete = complete && std::isfinite(y);
             if (!std::isfinite(y)) continue;
             truth_all.push_back(y);
             model_all.push_back(f * level);
             naive_all.push_back(seasonal_naive(p, i, h));
             lo.push_back((f + interval.q10[band]) * level);
             hi.push_back((f + interval.q90[band]) * level);
             if (std::abs(y) >= 0.1 * level && std::isfinite(naive_all.back())) {
               truth.push_back(y);
               model.push_back(f * level);
               naive.push_back(naive_all.back());
             }
           }
           // 16. The dispatch of the feeder head's forecast, applied to what happened.
           if (d != head || !complete || !(battery.power_kw > 0)) return;
           const auto plan_fc = shave_peak(fc, battery, kForecastStepS / 3600);
           const auto plan_best = shave_peak(actual, battery, kForecastStepS / 3600);
           double after = 0, followed = 0;
           const auto kw =
               follow_threshold(actual, battery, kForecastStepS / 3600, plan_fc.peak_after_kw);
           for (std::size_t t = 0; t < kForecastSteps; ++t) {
             after = std::max(after, actual[t] - plan_fc.battery_kw[t]);
             followed = std::max(followed, actual[t] - kw[t]);
           }
           promised.push_back(plan_fc.peak_before_kw - plan_fc.peak_after_kw);
           single.push_back(plan_best.peak_before_kw - after);
           perfect.push_back(plan_best.peak_before_kw - plan_best.peak_after_kw);
           // As it is carried out: the battery holds the load at the plan's peak, following the
           // load as it comes.
           realised.push_back(plan_best.peak_before_kw - followed);
         });
  const double mape = ml::mean_absolute_percentage_error(truth, model);
  const double mape_naive = ml::mean_absolute_percentage_error(truth, naive);
  const double coverage = ml::interval_coverage(truth_all, lo, hi);
  const double mae = ml::mean_absolute_error(truth_all, model_all);
  std::size_t runs_of[3] = {0, 0, 0};
  for (const auto& s : plan) ++runs_of[static_cast<int>(s.split)];
  const json data = {
      {"source", "remhart simulator, twin '" + twin.name + "'"},
      {"seed", opt.seed},
      {"scale", opt.scale},
      {"scenarios", {"normal_day"}},
      {"split", "by run, in rotation (3 train : 1 validation : 1 test)"},
      {"runs", {{"train", runs_of[0]}, {"validation", runs_of[1]}, {"test", runs_of[2]}}},
      {"run_duration_days", kWarmUpDays + 28},
      {"step_s", kForecastStepS},
      {"train_rows", rows.rows()}};
  fm.module = "energy";
  fm.serving = {{"q10", interval.q10}, {"q90", interval.q90}};
  fm.card = {
      {"algorithm",
       "gradient-boosted trees (XGBoost 1.7 C API, hist) on the load relative to the device's "
       "level, one model for every horizon step; the 80 % interval from the validation runs' "
       "residual quantiles per three-hour horizon band (split conformal)"},
      {"hyper_parameters",
       {{"objective", params.objective},
        {"rounds", params.rounds},
        {"eta", params.eta},
        {"max_depth", params.max_depth}}},
      {"features", {{"count", kForecastFeatureCount}, {"names", names}}},
      {"data", data},
      {"truth", "the device's active power at each 15-minute step of the next 24 h"},
      {"outputs",
       json::array({{{"name", "forecast[].p_kw"}, {"unit", "kW"}, {"range", "96 steps of 15 min"}},
                    {{"name", "forecast[].p10_kw, p90_kw"},
                     {"unit", "kW"},
                     {"range", "the 80 % interval"}}})},
      {"baseline",
       {{"name", "seasonal naive (the same step a day before)"},
        {"test", {{"mape_pct", mape_naive}}}}},
      {"metrics",
       {{"test",
         {{"mape_pct", mape},
          {"mae_kw", mae},
          {"interval_coverage", coverage},
          {"points", truth_all.size()},
          {"points_in_mape", truth.size()},
          {"mape_floor", "steps with |P| ≥ 10 % of the device's level"}}}}},
      {"targets",
       json::array({target("MAPE at least 20 % below seasonal naive",
                           "≤ " + std::to_string(0.8 * mape_naive), mape, mape <= 0.8 * mape_naive),
                    target("80 % interval covers 75–85 % of actuals", "0.75–0.85", coverage,
                           coverage >= 0.75 && coverage <= 0.85)})}};

  // 12. Demand response: k-means of the train runs' daily shapes.
  std::vector<DayShape> train_days, test_days;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    if (plan[r].split == Split::validation) continue;
    for (const auto& dev : runs[r]) {
      for (std::size_t k = 0; k + kStepsPerDay <= dev.p_kw.size(); k += kStepsPerDay) {
        LoadHistory day{starts[r] + static_cast<core::TimeUs>(k) * step_us,
                        {dev.p_kw.begin() + static_cast<std::ptrdiff_t>(k),
                         dev.p_kw.begin() + static_cast<std::ptrdiff_t>(k + kStepsPerDay)}};
        DayShape shape;
        double mean = 0;
        if (typical_day(day, shape, mean)) {
          (plan[r].split == Split::train ? train_days : test_days).push_back(shape);
        }
      }
    }
  }
  constexpr std::size_t kClusters = 4;
  const auto clusters = fit_clusters(train_days, kClusters, opt.seed);
  // Baseline: the same number of clusters, centroids taken as every k-th day.
  ProfileClusters naive_clusters;
  for (std::size_t k = 0; k < kClusters && k < train_days.size(); ++k) {
    naive_clusters.centroids.push_back(train_days[k * train_days.size() / kClusters]);
    naive_clusters.names.push_back(cluster_name(naive_clusters.centroids.back()));
  }
  const double sil = silhouette(clusters, test_days);
  const double sil_naive = silhouette(naive_clusters, test_days);
  auto& dr = out[static_cast<std::size_t>(ModelId::demand_response)];
  dr.module = "energy";
  json centroids = json::array();
  for (const auto& c : clusters.centroids) centroids.push_back(c);
  dr.serving = {{"centroids", centroids}, {"names", clusters.names}};
  dr.card = {
      {"algorithm",
       "k-means (k-means++ seeding, deterministic) of daily load shapes (each day's 96 steps "
       "over its mean); flexible kW computed from the device's typical day"},
      {"hyper_parameters", {{"k", kClusters}, {"iterations", 50}}},
      {"features", {{"count", kStepsPerDay}, {"names", step_names("day_step_")}}},
      {"data", data},
      {"truth", "unsupervised: scored by the silhouette of the test runs' days"},
      {"outputs",
       json::array({{{"name", "cluster_name"}, {"unit", ""}, {"range", clusters.names}},
                    {{"name", "flexible_kw"},
                     {"unit", "kW"},
                     {"range", "≥ 0: the typical day's four-hour peak above its mean"}}})},
      {"baseline",
       {{"name", "the same number of centroids taken from the train days without fitting"},
        {"test", {{"silhouette", sil_naive}}}}},
      {"metrics",
       {{"test",
         {{"silhouette", sil}, {"days", test_days.size()}, {"train_days", train_days.size()}}}}},
      {"targets", json::array({target("silhouette above the unfitted centroids'",
                                      "> " + std::to_string(sil_naive), sil, sil > sil_naive)})}};

  // 16. Optimal dispatch: its card (the plan itself runs on the server's forecasts).
  double mean_promised = 0, mean_single = 0, mean_realised = 0, mean_perfect = 0;
  for (std::size_t k = 0; k < promised.size(); ++k) {
    const double n = static_cast<double>(promised.size());
    mean_promised += promised[k] / n;
    mean_single += single[k] / n;
    mean_realised += realised[k] / n;
    mean_perfect += perfect[k] / n;
  }
  const double share = mean_perfect > 0 ? mean_realised / mean_perfect : 0;
  auto& od = out[static_cast<std::size_t>(ModelId::optimal_dispatch)];
  od.module = "decision";
  od.serving = json::object();
  od.card = {
      {"algorithm",
       "optimisation: the battery plan of least peak over the feeder head's 24 h forecast "
       "(bisection on the peak; discharge above it, recharge below it as early as possible, "
       "ending no emptier than it started) — exact for one battery and a peak objective"},
      {"hyper_parameters",
       {{"battery_power_kw", battery.power_kw},
        {"battery_energy_kwh", battery.energy_kwh},
        {"efficiency", battery.efficiency},
        {"soc_range", {battery.soc_min, battery.soc_max}}}},
      {"features", {{"count", kForecastSteps}, {"names", step_names("head_forecast_step_")}}},
      {"data", data},
      {"truth",
       "the peak of the load that came with the plan carried out (the battery holding the load "
       "at the plan's peak as the load comes), against the plan made with perfect foresight "
       "(test runs, a day from every four hours)"},
      {"outputs",
       json::array({{{"name", "plan[].battery_kw"},
                     {"unit", "kW"},
                     {"range", "± battery power: + discharging"}},
                    {{"name", "peak_reduction_kw"}, {"unit", "kW"}, {"range", "≥ 0, promised"}}})},
      {"baseline", {{"name", "no battery dispatch"}, {"peak_reduction_kw", 0}}},
      {"metrics",
       {{"test",
         {{"plans", promised.size()},
          {"mean_promised_reduction_kw", mean_promised},
          {"mean_realised_reduction_kw", mean_realised},
          {"mean_realised_reduction_schedule_only_kw", mean_single},
          {"mean_perfect_foresight_reduction_kw", mean_perfect},
          {"realised_share_of_perfect", share}}}}},
      {"targets",
       json::array({target("realised peak reduction at least half of perfect foresight's", "≥ 0.5",
                           share, share >= 0.5)})}};
}

}  // namespace remhart::analytics
