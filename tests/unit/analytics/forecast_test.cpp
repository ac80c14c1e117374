// The day-ahead models' parts: forecast features, the load-profile clusters, the peak-shaving
// plan and its controller.
#include <gtest/gtest.h>

#include <cmath>

#include "analytics/forecast.hpp"

namespace remhart::analytics {
namespace {

constexpr core::TimeUs kMonday = 1'767'571'200'000'000;  // 2026-01-05T00:00:00Z, a Monday
constexpr core::TimeUs kStep = 900 * core::kUsPerSecond;

TEST(Forecast, FeaturesReadTheLagsAndTheTargetsCalendar) {
  std::vector<double> p(8 * kStepsPerDay);
  for (std::size_t k = 0; k < p.size(); ++k) p[k] = 100 + static_cast<double>(k % kStepsPerDay);
  const std::size_t issue = p.size() - 1;  // the last step of the next Monday
  const auto ts = kMonday + static_cast<core::TimeUs>(p.size()) * kStep;  // Tuesday 00:00
  const double level = history_level(p, issue);
  EXPECT_NEAR(level, 100 + 47.5, 1e-9);
  const auto f = forecast_features(p, issue, 4, ts, level);  // the target: 00:45–01:00 Tuesday
  EXPECT_EQ(f[0], 4);
  EXPECT_NEAR(f[1], std::sin(2 * M_PI * 52.5 / 1440), 1e-9);  // its middle, 00:52:30
  EXPECT_EQ(f[3], 1);                                         // Tuesday
  EXPECT_EQ(f[4], 0);
  EXPECT_NEAR(f[7], 103 / level, 1e-12);  // a day before the target
  EXPECT_NEAR(f[9], 195 / level, 1e-12);  // the latest
  EXPECT_TRUE(std::isnan(history_level(std::vector<double>(10, 1.0), 9)));  // under a day
  EXPECT_EQ(seasonal_naive(p, issue, 4), 103);
}

TEST(Forecast, NeedsADayOfHistory) {
  ml::GbtModel constant;
  constant.roots = {0};
  constant.tree_class = {0};
  constant.nodes = {{-1, 0, 1.0f}};  // relative load 1: the level
  LoadHistory h{kMonday, std::vector<double>(50, 200.0)};
  EXPECT_EQ(forecast_load(constant, {}, h).status, "insufficient_history");
  h.p_kw.assign(2 * kStepsPerDay, 200.0);
  ForecastInterval in;
  in.q10.fill(-0.1);
  in.q90.fill(0.2);
  const auto r = forecast_load(constant, in, h);
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.from, kMonday + 2 * 86400 * core::kUsPerSecond);
  EXPECT_NEAR(r.p50[0], 200, 1e-4);
  EXPECT_NEAR(r.p10[95], 180, 1e-4);
  EXPECT_NEAR(r.p90[95], 240, 1e-4);
  EXPECT_EQ(to_json(r)["forecast"].size(), kForecastSteps);
}

TEST(Forecast, ClustersSeparateEveningAndDaytimeDays) {
  std::vector<DayShape> days;
  for (int k = 0; k < 20; ++k) {
    DayShape evening, daytime;
    for (std::size_t j = 0; j < kStepsPerDay; ++j) {
      const double hour = static_cast<double>(j) / 4;
      evening[j] = hour >= 17 && hour < 21 ? 2.5 + 0.01 * k : 0.7;
      daytime[j] = hour >= 9 && hour < 17 ? 1.8 - 0.01 * k : 0.6;
    }
    days.push_back(evening);
    days.push_back(daytime);
  }
  const auto c = fit_clusters(days, 2, 7);
  ASSERT_EQ(c.centroids.size(), 2u);
  EXPECT_NE(nearest_cluster(c, days[0]), nearest_cluster(c, days[1]));
  EXPECT_GT(silhouette(c, days), 0.8);
  std::vector<std::string> names = c.names;
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"daytime", "evening_peak"}));
  // A device with two such evening days: its cluster, and the peak above its mean.
  LoadHistory h{kMonday, {}};
  for (int d = 0; d < 2; ++d) {
    for (double v : days[0]) h.p_kw.push_back(100 * v);
  }
  const auto dr = demand_response(c, h);
  EXPECT_EQ(dr.status, "ok");
  EXPECT_EQ(dr.cluster_name, "evening_peak");
  EXPECT_EQ(dr.peak_start_step, 17u * 4);
  EXPECT_NEAR(dr.flexible_kw, 250 - dr.mean_kw, 1e-6);
}

TEST(Dispatch, ShavesThePeakWithinTheBatterysLimits) {
  const std::vector<double> load = {100, 100, 400, 500, 300, 100, 100, 100};
  Battery b;
  b.power_kw = 150;
  b.energy_kwh = 1000;
  b.soc = 0.5;
  const auto plan = shave_peak(load, b, 1.0);
  EXPECT_EQ(plan.peak_before_kw, 500);
  EXPECT_NEAR(plan.peak_after_kw, 350, 1e-3);  // the power limit
  for (std::size_t t = 0; t < load.size(); ++t) {
    EXPECT_LE(std::abs(plan.battery_kw[t]), 150 + 1e-9);
    EXPECT_LE(load[t] - plan.battery_kw[t], plan.peak_after_kw + 1e-6);
  }
  EXPECT_GE(plan.soc.back(), 0.5 - 1e-9);  // ends no emptier
  // Carried out against the load as it came (a higher peak than forecast): held at the
  // threshold as long as power allows.
  const std::vector<double> actual = {100, 100, 420, 480, 360, 100, 100, 100};
  const auto kw = follow_threshold(actual, b, 1.0, plan.peak_after_kw);
  EXPECT_NEAR(actual[3] - kw[3], 350, 1e-6);
  EXPECT_NEAR(actual[4] - kw[4], 350, 1e-6);
  // Energy-limited: a small battery shaves less.
  b.energy_kwh = 100;
  EXPECT_GT(shave_peak(load, b, 1.0).peak_after_kw, 350);
  b.power_kw = 0;
  EXPECT_EQ(shave_peak(load, b, 1.0).peak_after_kw, 500);
}

}  // namespace
}  // namespace remhart::analytics
