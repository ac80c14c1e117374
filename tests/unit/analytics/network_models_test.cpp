// The network-level models (10, 11, 15) on the demo twin at its peak: the losses agree with a
// power flow, the set-points keep their promise when applied to a network of one's own, the
// stability score sees the radial feeder's N-1 exposure.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "analytics/network.hpp"
#include "demo_twin.hpp"
#include "grid/powerflow.hpp"

namespace remhart::analytics {
namespace {

// The demo twin's study model (loads at peak) solved: a state of every bus.
struct Solved {
  grid::Network net = sim::study_model(sim::testing::demo());
  BusState state;
  Solved() {
    grid::PowerFlow pf(net);
    const auto r = pf.solve();
    EXPECT_TRUE(r.converged);
    state.vm = r.vm;
    state.va_deg = r.va_deg;
  }
};

TEST(NetworkModels, InjectionsReproduceTheState) {
  const Solved s;
  const auto base = injections_of(s.net, s.state);
  grid::PowerFlow pf(base);
  const auto r = pf.solve();
  ASSERT_TRUE(r.converged);
  for (std::size_t k = 0; k < r.vm.size(); ++k) {
    EXPECT_NEAR(r.vm[k], s.state.vm[k], 1e-6) << k;
    EXPECT_NEAR(r.va_deg[k], s.state.va_deg[k], 1e-4) << k;
  }
}

TEST(NetworkModels, LossesEqualThePowerFlowsAndSplit) {
  const Solved s;
  const auto l = energy_loss(s.net, s.state);
  grid::PowerFlow pf(s.net);
  const double solved_kw = 1000 * pf.solve().losses_mw;
  EXPECT_NEAR(l.losses_kw, solved_kw, 1e-6 * solved_kw);
  EXPECT_NEAR(l.power_flow_losses_kw, l.losses_kw, 0.01 * l.losses_kw);
  EXPECT_NEAR(l.lines_kw + l.transformers_kw, l.losses_kw, 1e-9);
  EXPECT_GT(l.demand_kw, 0);
  EXPECT_GT(l.losses_pct, 0);
  EXPECT_LT(l.losses_pct, 20);
  ASSERT_EQ(l.top.size(), 5u);
  EXPECT_GE(l.top[0].kw, l.top[4].kw);
  EXPECT_EQ(to_json(l)["split_kw"].size(), 3u);
}

TEST(NetworkModels, SetPointsKeepTheirPromiseInAPowerFlow) {
  const Solved s;
  const auto& twin = sim::testing::demo();
  const auto base = injections_of(s.net, s.state);
  const auto controls = twin_controls(twin, base);
  EXPECT_EQ(controls.taps.size(), 1u);
  EXPECT_EQ(controls.inverters.size(), twin.pv.size() + twin.batteries.size());
  const auto t0 = std::chrono::steady_clock::now();
  const auto sp = optimise_setpoints(base, controls);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(sp.saving_kw, 0);
  EXPECT_TRUE(sp.feasible);
  // Applied to a copy, solved afresh: the losses promised, within 1 %.
  auto applied = base;
  apply(applied, controls, sp);
  grid::PowerFlow pf(applied);
  const auto r = pf.solve();
  ASSERT_TRUE(r.converged);
  EXPECT_NEAR(1000 * r.losses_mw, sp.losses_after_kw, 0.01 * sp.losses_after_kw);
  for (double v : r.vm) {
    EXPECT_GE(v, 0.95 - 1e-6);
    EXPECT_LE(v, 1.05 + 1e-6);
  }
  RecordProperty("optimise_ms", std::to_string(ms));
  const auto j = to_json(sp, base, controls);
  EXPECT_EQ(j["set_points"]["inverters"].size(), controls.inverters.size());
}

TEST(NetworkModels, StabilityScoreCountsTheRadialFeedersExposure) {
  const Solved s;
  const auto base = injections_of(s.net, s.state);
  const auto calm = stability_score(base, 0.01);
  EXPECT_GT(calm.outages, 0u);
  EXPECT_GT(calm.islanding_outages, 0u);  // a radial feeder: a line out islands its load
  EXPECT_GT(calm.load_at_risk_mw, 0);
  EXPECT_GE(calm.score, 0);
  EXPECT_LE(calm.score, 100);
  const auto excursion = stability_score(base, -0.6);
  EXPECT_EQ(excursion.factors[3].score, 0);
  EXPECT_LT(excursion.score, calm.score);
  const auto unknown = stability_score(base, std::nan(""));
  EXPECT_EQ(unknown.factors[3].weight, 0);
  EXPECT_EQ(to_json(calm)["risk_factors"].size(), 4u);
}

}  // namespace
}  // namespace remhart::analytics
