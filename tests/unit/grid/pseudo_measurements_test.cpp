// Pseudo-measurements: forecasts scaled to the metered feeder head, exact zero injections where
// nothing is connected, nothing where a meter or a generator fixes the injection.
#include <gtest/gtest.h>

#include "grid/pseudo_measurements.hpp"

using namespace remhart::grid;
using K = Measurement::Kind;

namespace {

// 1 (reference, generator) — 2 (load 1 MW) — 3 (nothing) — 4 (load 1 MW, 0.5 Mvar); 10 MVA base.
Network radial() {
  Network n;
  n.base_mva = 10;
  for (std::int64_t id = 1; id <= 4; ++id) {
    Bus b;
    b.id = id;
    b.type = id == 1 ? BusType::ref : BusType::pq;
    n.buses.push_back(b);
  }
  n.buses[1].pd = 1;
  n.buses[3].pd = 1;
  n.buses[3].qd = 0.5;
  for (std::int64_t id = 1; id < 4; ++id) {
    Branch br;
    br.from = id;
    br.to = id + 1;
    br.r = 0.01;
    br.x = 0.02;
    n.branches.push_back(br);
  }
  Gen g;
  g.bus = 1;
  n.gens.push_back(g);
  return n;
}

}  // namespace

TEST(PseudoMeasurements, ScaledToTheHeadZeroWhereNothingIsConnected) {
  const auto net = radial();
  auto forecast = model_forecast(net, 0.5);
  EXPECT_EQ(forecast[2].p_mw, 0);
  EXPECT_EQ(forecast[1].sigma_p_mw, 0.5);
  // The head meter at the reference end of 1–2 reads 3 MW into the feeder.
  const std::vector<Measurement> meters = {
      {K::vm, 0, 1.0, 0.004}, {K::p_flow_from, 0, 0.3, 0.01}, {K::q_flow_from, 0, 0.1, 0.01}};
  const auto scale = scale_to_feeder_head(net, meters, forecast);
  ASSERT_TRUE(scale.has_value());
  EXPECT_DOUBLE_EQ(*scale, 1.5);
  EXPECT_DOUBLE_EQ(forecast[3].q_mvar, 0.75);
  EXPECT_DOUBLE_EQ(forecast[3].sigma_p_mw, 0.75);

  const auto pseudo = pseudo_measurements(net, forecast, meters, 1e-4);
  ASSERT_EQ(pseudo.size(), 6u);  // buses 2, 3 and 4; the generator's bus is solved for
  EXPECT_EQ(pseudo[0].kind, K::p_injection);
  EXPECT_EQ(pseudo[0].element, 1u);
  EXPECT_DOUBLE_EQ(pseudo[0].value, -0.15);  // 1.5 MW drawn, on 10 MVA
  EXPECT_DOUBLE_EQ(pseudo[0].sigma, 0.075);
  EXPECT_EQ(pseudo[2].element, 2u);  // nothing connected: an exact zero
  EXPECT_EQ(pseudo[2].value, 0);
  EXPECT_EQ(pseudo[2].sigma, 1e-4);
  EXPECT_DOUBLE_EQ(pseudo[5].value, -0.075);

  // A metered injection leaves its bus out; with the head metered at its far end, the sign turns.
  const std::vector<Measurement> more = {{K::p_flow_to, 0, -0.2, 0.01},
                                         {K::p_injection, 3, -0.1, 0.01},
                                         {K::q_injection, 3, -0.05, 0.01}};
  auto again = model_forecast(net, 0.5);
  EXPECT_DOUBLE_EQ(*scale_to_feeder_head(net, more, again), 1.0);
  for (const auto& m : pseudo_measurements(net, again, more)) EXPECT_NE(m.element, 3u);

  // The meters and pseudo-measurements together observe the feeder.
  auto all = meters;
  all.insert(all.end(), pseudo.begin(), pseudo.end());
  const auto e = estimate_state(net, all);
  EXPECT_TRUE(e.converged);
  ASSERT_EQ(e.vm_sigma.size(), 4u);
  EXPECT_GT(e.vm_sigma[3], e.vm_sigma[0]);  // far from the meter, less certain
  EXPECT_EQ(e.va_sigma_deg[0], 0);          // the reference angle is fixed
}

TEST(PseudoMeasurements, NoHeadMeterNoScaling) {
  const auto net = radial();
  auto forecast = model_forecast(net);
  EXPECT_FALSE(scale_to_feeder_head(net, {}, forecast).has_value());
  const std::vector<Measurement> reverse = {{K::p_flow_from, 0, -0.3, 0.01}};  // exporting
  EXPECT_FALSE(scale_to_feeder_head(net, reverse, forecast).has_value());
  EXPECT_EQ(forecast[1].p_mw, 1);
}
