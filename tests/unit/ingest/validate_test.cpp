#include <gtest/gtest.h>

#include <limits>

#include "ingest/validate.hpp"

using namespace remhart;

namespace {

core::Sample good() {
  core::Sample s;
  s.device = "m1";
  s.ts = 1'000'000;
  s.values.v = {230, 231, 229};
  s.values.i = {10, 11, 12};
  s.values.p = {2000, 2100, 2200};
  s.values.q = {500, -600, 700};
  s.values.f = 50;
  return s;
}

std::string field_of(const core::Sample& s) {
  core::Device d;  // 230 V, 100 A
  const auto e = ingest::validate(s, d, 2'000'000, {});
  return e ? e->field : "<ok>";
}

}  // namespace

TEST(Validate, AcceptsPlausibleSamples) {
  EXPECT_EQ(field_of(good()), "<ok>");
}

TEST(Validate, NamesTheFieldOutOfRange) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    std::function<void(core::Sample&)> mutate;
    std::string field;
  } cases[] = {
      {[](auto& s) { s.values.v[0] = -1; }, "v[0]"},
      {[](auto& s) { s.values.v[2] = 461; }, "v[2]"},
      {[](auto& s) { s.values.v[1] = 1e308; }, "v[1]"},
      {[&](auto& s) { s.values.v[1] = nan; }, "v[1]"},
      {[&](auto& s) { s.values.i[2] = inf; }, "i[2]"},
      {[](auto& s) { s.values.i[0] = 1001; }, "i[0]"},
      {[](auto& s) { s.values.i[0] = -0.1; }, "i[0]"},
      {[](auto& s) { s.values.p[1] = 1.5 * 231 * 11 + 1; }, "p[1]"},
      {[](auto& s) { s.values.q[2] = -(1.5 * 229 * 12 + 1); }, "q[2]"},
      {[](auto& s) { s.values.f = 39.9; }, "f"},
      {[](auto& s) { s.values.f = 70.1; }, "f"},
      {[&](auto& s) { s.values.f = nan; }, "f"},
      {[](auto& s) { s.values.thd_v[1] = 101; }, "thd_v[1]"},
      {[](auto& s) { s.values.thd_i[0] = -1; }, "thd_i[0]"},
      {[](auto& s) { s.values.temp = 1e9; }, "temp"},
      {[](auto& s) { s.ts = 2'000'000 + 301 * core::kUsPerSecond; }, "ts"},
      {[](auto& s) { s.ts = -5; }, "ts"},
  };
  for (const auto& c : cases) {
    auto s = good();
    c.mutate(s);
    EXPECT_EQ(field_of(s), c.field);
  }
}

TEST(Validate, AllowsSensorNoiseWithinOneAndAHalfTimesVI) {
  auto s = good();
  s.values.p[0] = 1.4 * 230 * 10;  // P slightly above V·I is sensor noise, not an error
  EXPECT_EQ(field_of(s), "<ok>");
  s.values.thd_v = {1, 2, 3};
  s.values.temp = -20;
  EXPECT_EQ(field_of(s), "<ok>");
}
