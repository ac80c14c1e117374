#include <gtest/gtest.h>

#include <cmath>

#include "core/measurement.hpp"

using namespace remhart::core;

TEST(Measurement, DerivesAveragesTotalsAndPowerFactor) {
  Values v;
  v.v = {230, 231, 229};
  v.i = {10, 11, 12};
  v.p = {2000, 2100, 2200};
  v.q = {500, 600, 700};
  const auto d = derive(v);
  EXPECT_DOUBLE_EQ(d.v_avg, 230.0);
  EXPECT_DOUBLE_EQ(d.i_avg, 11.0);
  EXPECT_DOUBLE_EQ(d.p_total, 6300.0);
  EXPECT_DOUBLE_EQ(d.q_total, 1800.0);
  EXPECT_NEAR(d.pf, 6300.0 / std::sqrt(6300.0 * 6300.0 + 1800.0 * 1800.0), 1e-15);
}

TEST(Measurement, PowerFactorSignFollowsActivePowerAndIsNullWithoutPower) {
  Values v;
  v.p = {-1000, -1000, -1000};
  v.q = {0, 0, 0};
  EXPECT_DOUBLE_EQ(derive(v).pf, -1.0);
  v.p = {0, 0, 0};
  EXPECT_TRUE(std::isnan(derive(v).pf));
  v.q = {100, 0, 0};
  EXPECT_DOUBLE_EQ(derive(v).pf, 0.0);
}

TEST(Measurement, DeviceIdsAndOrigins) {
  EXPECT_TRUE(valid_device_id("fdr1-m03"));
  EXPECT_TRUE(valid_device_id("A.b_c-9"));
  EXPECT_TRUE(valid_device_id(std::string(64, 'x')));
  EXPECT_FALSE(valid_device_id(std::string(65, 'x')));
  EXPECT_FALSE(valid_device_id(""));
  EXPECT_FALSE(valid_device_id("a b"));
  EXPECT_FALSE(valid_device_id("a/b"));
  EXPECT_FALSE(valid_device_id("é"));
  EXPECT_TRUE(valid_origin("real"));
  EXPECT_TRUE(valid_origin("sim:run-1"));
  EXPECT_FALSE(valid_origin("sim:"));
  EXPECT_FALSE(valid_origin("fake"));
}

TEST(Measurement, FieldIndexCoversStoredAndDerivedFields) {
  EXPECT_EQ(field_index("va"), 0u);
  EXPECT_EQ(field_index("f"), 12u);
  EXPECT_EQ(field_index("temp"), 19u);
  EXPECT_EQ(field_index("pf"), 24u);
  EXPECT_FALSE(field_index("nope"));
  Values v;
  v.v = {1, 2, 3};
  v.temp = 42;
  const auto all = all_fields(v);
  EXPECT_EQ(all[*field_index("vc")], 3);
  EXPECT_EQ(all[*field_index("temp")], 42);
  EXPECT_EQ(all[*field_index("v_avg")], 2);
  EXPECT_TRUE(std::isnan(all[*field_index("thd_va")]));
}
