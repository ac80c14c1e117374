#include "features/features.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <set>
#include <sstream>
#include <string>

namespace remhart::features {
namespace {

constexpr core::TimeUs kMondayNoon = 1'781'524'800'000'000;  // 2026-06-15 12:00 UTC, a Monday
constexpr core::TimeUs kSecond = core::kUsPerSecond;

core::Values balanced(double v = 230, double i = 50, double pf = 0.9) {
  core::Values x;
  for (std::size_t k = 0; k < 3; ++k) {
    x.v[k] = v;
    x.i[k] = i;
    x.p[k] = v * i * pf;
    x.q[k] = v * i * std::sqrt(1 - pf * pf);
  }
  x.f = 50;
  return x;
}

double at(const FeatureVector& f, F which) {
  return f[index(which)];
}

TEST(Features, AtLeastEightyWithUniqueNamesUnitsAndFormulas) {
  EXPECT_GE(kFeatureCount, 80u);
  std::set<std::string_view> names;
  for (const auto& d : feature_defs()) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_FALSE(d.unit.empty()) << d.name;
    EXPECT_FALSE(d.window.empty()) << d.name;
    EXPECT_FALSE(d.formula.empty()) << d.name;
    EXPECT_TRUE(names.insert(d.name).second) << "duplicate " << d.name;
  }
  EXPECT_EQ(feature_defs()[index(Signal::p_total_kw, 2, Stat::slope)].name,
            "p_total_kw_slope_900s");
  EXPECT_EQ(feature_defs()[index(Signal::p_total_kw, 2, Stat::slope)].unit, "kW/s");
}

// docs/analytics.md carries the table feature_defs() makes, between two markers; on a mismatch
// the expected table is written beside the test binary to paste in.
TEST(Features, DocsListEveryFeature) {
  std::ostringstream table;
  table << "| # | feature | unit | window | formula |\n|---|---|---|---|---|\n";
  std::size_t n = 0;
  for (const auto& d : feature_defs()) {
    table << "| " << n++ << " | `" << d.name << "` | " << d.unit << " | " << d.window << " | "
          << d.formula << " |\n";
  }
  std::ifstream in(std::filesystem::path(REMHART_SOURCE_DIR) / "docs" / "analytics.md");
  ASSERT_TRUE(in) << "docs/analytics.md is missing";
  const std::string doc((std::istreambuf_iterator<char>(in)), {});
  const std::string begin = "<!-- features:begin -->\n", end = "<!-- features:end -->";
  const auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  const auto documented = doc.substr(b + begin.size(), e - b - begin.size());
  if (documented != table.str()) {
    std::ofstream("features_table.md") << table.str();
    FAIL() << "docs/analytics.md's feature table is out of date: the current one is in "
           << std::filesystem::absolute("features_table.md");
  }
}

TEST(Features, PerUnitPowerAndPowerFactor) {
  DeviceFeatures d({230, 100, 50});
  FeatureVector f;
  auto x = balanced(230 * 1.02, 80, 0.9);
  x.p[0] = -x.p[0] * 5;  // phase a exports more than the others import: the total exports
  ASSERT_TRUE(d.update(kMondayNoon, x, {}, f));
  EXPECT_NEAR(at(f, F::v_avg_pu), 1.02, 1e-12);
  EXPECT_NEAR(at(f, F::v_dev_max_pu), 0.02, 1e-12);
  EXPECT_NEAR(at(f, F::i_max_pu), 0.8, 1e-12);
  const double p = (x.p[0] + x.p[1] + x.p[2]) / 1000, q = (x.q[0] + x.q[1] + x.q[2]) / 1000;
  EXPECT_NEAR(at(f, F::p_total_kw), p, 1e-9);
  EXPECT_NEAR(at(f, F::pf_abs), std::abs(p) / std::hypot(p, q), 1e-12);
  EXPECT_EQ(at(f, F::pf_sign), -1);
  EXPECT_NEAR(at(f, F::pf_b), 0.9, 1e-12);
  EXPECT_EQ(at(f, F::phases_without_voltage), 0);
  EXPECT_TRUE(std::isnan(at(f, F::dt_s)));
  EXPECT_TRUE(std::isnan(at(f, F::rocof_hz_s)));
}

// The CIGRÉ formula gives |V₂|/|V₁| exactly for a set without zero sequence.
TEST(Features, VoltageUnbalanceFactorEqualsTheNegativeSequenceRatio) {
  using C = std::complex<double>;
  const C a = std::polar(1.0, 2 * std::numbers::pi / 3);
  const C v1 = 230, v2 = std::polar(230 * 0.03, 0.7);  // 3 % negative sequence
  const C va = v1 + v2, vb = a * a * v1 + a * v2, vc = a * v1 + a * a * v2;
  core::Values x = balanced();
  x.v = {std::abs(va), std::abs(vb), std::abs(vc)};
  DeviceFeatures d({230, 100, 50});
  FeatureVector f;
  ASSERT_TRUE(d.update(kMondayNoon, x, {}, f));
  EXPECT_NEAR(at(f, F::vuf_pct), 3.0, 1e-9);
  const double mean = (x.v[0] + x.v[1] + x.v[2]) / 3;
  const double dev =
      std::max({std::abs(x.v[0] - mean), std::abs(x.v[1] - mean), std::abs(x.v[2] - mean)});
  EXPECT_NEAR(at(f, F::vu_nema_pct), 100 * dev / mean, 1e-12);
  // Balanced: both zero.
  DeviceFeatures e({230, 100, 50});
  ASSERT_TRUE(e.update(kMondayNoon, balanced(), {}, f));
  EXPECT_NEAR(at(f, F::vuf_pct), 0, 1e-6);
  EXPECT_EQ(at(f, F::vu_nema_pct), 0);
}

// A ramp at 1 Hz: every window's mean, min, max and slope are those of the samples inside it.
TEST(Features, RollingWindowsFollowARamp) {
  DeviceFeatures d({230, 100, 50});
  FeatureVector f;
  constexpr double kSlope = 0.5;  // kW/s
  for (int k = 0; k < 2000; ++k) {
    auto x = balanced();
    const double extra_w = kSlope * 1000 * k / 3;
    for (auto& p : x.p) p += extra_w;
    ASSERT_TRUE(d.update(kMondayNoon + k * kSecond, x, {}, f));
  }
  const double p_now = at(f, F::p_total_kw);
  for (std::size_t w = 0; w < kWindowsS.size(); ++w) {
    const double max = f[index(Signal::p_total_kw, w, Stat::max)];
    const double min = f[index(Signal::p_total_kw, w, Stat::min)];
    const double mean = f[index(Signal::p_total_kw, w, Stat::mean)];
    EXPECT_NEAR(max, p_now, 1e-9) << kWindowNames[w];
    // The window covers between (1 − 1/kBuckets) and 1 of its length.
    const double span = (p_now - min) / kSlope + 1;
    EXPECT_GE(span, kWindowsS[w] * 0.9 - 1e-9) << kWindowNames[w];
    EXPECT_LE(span, kWindowsS[w] + 1e-9) << kWindowNames[w];
    EXPECT_NEAR(mean, (min + max) / 2, 1e-6) << kWindowNames[w];
    EXPECT_NEAR(f[index(Signal::p_total_kw, w, Stat::slope)], kSlope, 1e-6) << kWindowNames[w];
    EXPECT_NEAR(f[index(Signal::f_hz, w, Stat::std)], 0, 1e-9);
    EXPECT_NEAR(f[index(Signal::f_hz, w, Stat::slope)], 0, 1e-9);
  }
  EXPECT_NEAR(at(f, F::dp_dt_kw_s), kSlope, 1e-9);
  EXPECT_NEAR(at(f, F::p_vs_900s_kw), p_now - f[index(Signal::p_total_kw, 2, Stat::mean)], 1e-9);
}

TEST(Features, StandardDeviationOfAnAlternatingSignal) {
  DeviceFeatures d({230, 100, 50});
  FeatureVector f;
  for (int k = 0; k < 100; ++k) {
    auto x = balanced();
    x.f = k % 2 ? 50.1 : 49.9;
    ASSERT_TRUE(d.update(kMondayNoon + k * kSecond, x, {}, f));
  }
  EXPECT_NEAR(f[index(Signal::f_hz, 1, Stat::std)], 0.1, 1e-9);
  EXPECT_NEAR(f[index(Signal::f_hz, 1, Stat::mean)], 50.0, 1e-9);
  EXPECT_NEAR(at(f, F::rocof_hz_s), 0.2, 1e-9);  // 49.9 → 50.1 in a second
}

TEST(Features, AGapEmptiesTheWindows) {
  DeviceFeatures d({230, 100, 50});
  FeatureVector f;
  ASSERT_TRUE(d.update(kMondayNoon, balanced(230), {}, f));
  ASSERT_TRUE(d.update(kMondayNoon + 3600 * kSecond, balanced(240), {}, f));
  for (std::size_t w = 0; w < kWindowsS.size(); ++w) {
    EXPECT_NEAR(f[index(Signal::v_avg_pu, w, Stat::min)], 240.0 / 230, 1e-12);
    EXPECT_EQ(f[index(Signal::v_avg_pu, w, Stat::std)], 0);
    EXPECT_EQ(f[index(Signal::v_avg_pu, w, Stat::slope)], 0);
  }
  EXPECT_EQ(at(f, F::dt_s), 3600);
}

TEST(Features, OutOfOrderSamplesAreRefusedAndChangeNothing) {
  DeviceFeatures a({230, 100, 50}), b({230, 100, 50});
  FeatureVector fa, fb;
  ASSERT_TRUE(a.update(kMondayNoon, balanced(230), {}, fa));
  ASSERT_TRUE(b.update(kMondayNoon, balanced(230), {}, fb));
  FeatureVector untouched;
  untouched.fill(7);
  EXPECT_FALSE(a.update(kMondayNoon - kSecond, balanced(100), {}, untouched));
  EXPECT_FALSE(a.update(kMondayNoon, balanced(100), {}, untouched));
  for (double x : untouched) EXPECT_EQ(x, 7);
  ASSERT_TRUE(a.update(kMondayNoon + kSecond, balanced(231), {}, fa));
  ASSERT_TRUE(b.update(kMondayNoon + kSecond, balanced(231), {}, fb));
  EXPECT_EQ(0, std::memcmp(fa.data(), fb.data(), sizeof(fa)));  // bit for bit, NaNs included
  EXPECT_EQ(a.samples(), 2);
}

TEST(Features, AbsentOptionalFieldsAreNaNAndStuckMetersCount) {
  DeviceFeatures d({230, 100, 50});
  FeatureVector f;
  const auto x = balanced();
  for (int k = 0; k < 4; ++k) ASSERT_TRUE(d.update(kMondayNoon + k * kSecond, x, {}, f));
  EXPECT_EQ(at(f, F::repeat_count), 3);
  EXPECT_TRUE(std::isnan(at(f, F::thd_v_max_pct)));
  EXPECT_EQ(at(f, F::thd_present), 0);
  EXPECT_TRUE(std::isnan(at(f, F::temp_c)));
  EXPECT_TRUE(std::isnan(at(f, F::net_bus_v_pu)));
  EXPECT_TRUE(std::isnan(at(f, F::net_losses_pct)));
  auto y = x;
  y.thd_v = {2.0, core::kAbsent, 4.5};
  y.temp = 61;
  NetworkContext net;
  net.bus_v_pu = 0.93;
  net.losses_mw = 0.05;
  net.load_mw = 2.5;
  ASSERT_TRUE(d.update(kMondayNoon + 4 * kSecond, y, net, f));
  EXPECT_EQ(at(f, F::repeat_count), 0);
  EXPECT_EQ(at(f, F::thd_v_max_pct), 4.5);
  EXPECT_EQ(at(f, F::thd_present), 1);
  EXPECT_EQ(at(f, F::temp_c), 61);
  EXPECT_NEAR(at(f, F::net_voltage_margin_pu), 0.03, 1e-12);
  EXPECT_NEAR(at(f, F::net_losses_pct), 2.0, 1e-12);
}

TEST(Features, CalendarInUtc) {
  DeviceFeatures d({230, 100, 50});
  FeatureVector f;
  ASSERT_TRUE(d.update(kMondayNoon, balanced(), {}, f));
  EXPECT_NEAR(at(f, F::hour_sin), 0, 1e-9);
  EXPECT_NEAR(at(f, F::hour_cos), -1, 1e-9);
  EXPECT_EQ(at(f, F::weekend), 0);
  EXPECT_NEAR(at(f, F::weekday_sin), std::sin(2 * std::numbers::pi * 0.5 / 7), 1e-9);
  ASSERT_TRUE(d.update(kMondayNoon + 5 * 86400 * kSecond, balanced(), {}, f));  // Saturday
  EXPECT_EQ(at(f, F::weekend), 1);
}

// A dead phase, a zero current and non-finite values give NaNs or counts, never a crash.
TEST(Features, DegenerateSamples) {
  DeviceFeatures d({230, 100, 50});
  FeatureVector f;
  core::Values x{};
  x.f = 50;
  ASSERT_TRUE(d.update(kMondayNoon, x, {}, f));
  EXPECT_EQ(at(f, F::phases_without_voltage), 3);
  EXPECT_EQ(at(f, F::phases_without_current), 3);
  EXPECT_TRUE(std::isnan(at(f, F::pf_abs)));
  EXPECT_TRUE(std::isnan(at(f, F::vuf_pct)));
  x.v = {core::kAbsent, std::numeric_limits<double>::infinity(), 230};
  ASSERT_TRUE(d.update(kMondayNoon + kSecond, x, {}, f));
  ASSERT_TRUE(d.update(kMondayNoon + 2 * kSecond, balanced(), {}, f));
  EXPECT_NEAR(at(f, F::v_avg_pu), 1, 1e-12);
}

}  // namespace
}  // namespace remhart::features
