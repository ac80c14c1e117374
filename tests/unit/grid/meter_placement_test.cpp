// Meters on a model: placement from a device's element, the measurement model, and estimation
// from meter readings.
#include <gtest/gtest.h>

#include <cmath>

#include "grid/meter_placement.hpp"
#include "grid_cases.hpp"

using namespace remhart::grid;
using namespace remhart::grid::testing;

TEST(MeterPlacement, BusAndBranchElements) {
  const Network net = two_bus(0.1, 80, 30);
  const auto bus = place_meter(net, "bus:2");
  ASSERT_TRUE(bus);
  EXPECT_FALSE(bus->branch);
  EXPECT_EQ(bus->index, 1u);
  const auto end = place_meter(net, "branch:1-2:to");
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->branch);
  EXPECT_FALSE(end->at_from);
  for (const char* bad : {"bus:9", "bus:", "bus:2x", "branch:2-1:from", "branch:1-2",
                          "branch:1-2:mid", "feeder-1", "", "branch:1:2-from"}) {
    EXPECT_FALSE(place_meter(net, bad)) << bad;
  }
}

TEST(MeterPlacement, ReadingsBecomeMeasurementsInPerUnitWithTheirSigns) {
  const Network net = two_bus(0.1, 80, 30);  // base 100 MVA
  const std::vector<MeterReading> readings = {{"bus:2", 0.97, 80e6, 30e6, 0.6, 0},
                                              {"nowhere", 1.0, 1, 1, 1, 0},
                                              {"branch:1-2:from", 1.0, 81e6, 35e6, 1, 1e9}};
  const auto m = meter_measurements(net, readings);
  EXPECT_EQ(m.placed, 2u);
  ASSERT_EQ(m.measurements.size(), 6u);
  using K = Measurement::Kind;
  EXPECT_EQ(m.measurements[0].kind, K::vm);
  EXPECT_DOUBLE_EQ(m.measurements[0].value, 0.97);
  EXPECT_EQ(m.measurements[1].kind, K::p_injection);
  EXPECT_DOUBLE_EQ(m.measurements[1].value, -0.8);  // a load draws: negative injection
  EXPECT_EQ(m.measurements[4].kind, K::p_flow_from);
  EXPECT_DOUBLE_EQ(m.measurements[4].value, 0.81);
  EXPECT_EQ(m.reading_of[4], 2u);
  EXPECT_EQ(m.measurements[3].element, 0u);  // the branch meter's |V| is at bus 1
  // σ a third of the class: of the reading for |V| and of |S| for P and Q, with |S| at least 5 %
  // of the meter's rating (1 GVA here: 50 MVA, below the 88 MVA it reads; at idle, the floor).
  EXPECT_DOUBLE_EQ(m.measurements[0].sigma, 0.006 / 3 * 0.97);
  EXPECT_DOUBLE_EQ(m.measurements[1].sigma, 0.006 / 3 * std::hypot(0.8, 0.3));
  EXPECT_DOUBLE_EQ(m.measurements[4].sigma, 0.01 / 3 * std::hypot(0.81, 0.35));
  const std::vector<MeterReading> idle = {{"branch:1-2:from", 1.0, 0, 0, 1, 1e9}};
  EXPECT_DOUBLE_EQ(meter_measurements(net, idle).measurements[1].sigma, 0.01 / 3 * 0.5);
}

TEST(MeterPlacement, EstimatesFromMetersOrSaysHowManyWerePlaced) {
  const Network net = two_bus(0.1, 80, 30);
  PowerFlow pf(net);
  const auto r = pf.solve();
  const std::vector<MeterReading> both = {
      {"bus:1", r.vm[0], -r.pg[0] * 1e6, -r.qg[0] * 1e6, 0.5, 0},
      {"bus:2", r.vm[1], 80e6, 30e6, 0.5, 0}};
  const auto e = estimate_from_meters(net, meter_measurements(net, both));
  ASSERT_TRUE(e.converged) << e.message;
  EXPECT_NEAR(e.vm[1], r.vm[1], 1e-6);
  try {
    estimate_from_meters(net, meter_measurements(net, std::vector<MeterReading>{}));
    FAIL() << "no meters, yet an estimate";
  } catch (const NetworkError& err) {
    EXPECT_EQ(err.field(), "measurements");
    EXPECT_NE(std::string(err.what()).find("0 device(s) placed"), std::string::npos) << err.what();
  }
}
