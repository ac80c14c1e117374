// Power flow: analytic small cases (closed forms, taps, shunts, islands, Q limits, distributed
// slack) and the golden cases against MATPOWER's own solutions in ../shared/data/matpower.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <random>
#include <set>
#include <sstream>

#include "grid/io/matpower.hpp"
#include "grid/powerflow.hpp"

#include "grid_cases.hpp"

using namespace remhart::grid;
using namespace remhart::grid::testing;
using remhart::testkit::matpower_dir;
using remhart::testkit::running_in_ci;

TEST(PowerFlow, TwoBusRadialMatchesTheClosedForm) {
  PowerFlow pf(two_bus(0.1, 80, 30));
  const auto r = pf.solve({Method::newton_raphson, 1e-12, 20});
  ASSERT_TRUE(r.converged) << r.message;
  const auto [v2, th2] = radial_solution(1.0, 0, 0.1, 0.8, 0.3);
  EXPECT_NEAR(r.vm[1], v2, 1e-10);
  EXPECT_NEAR(r.va_deg[1], th2 * 180 / kPi, 1e-8);
  EXPECT_NEAR(r.losses_mw, 0, 1e-9);  // a pure reactance has no series losses
  EXPECT_NEAR(r.pg[0], 80, 1e-8);     // the slack supplies the load
  EXPECT_NEAR(r.flows[0].p_from, 80, 1e-8);
  EXPECT_NEAR(r.flows[0].p_to, -80, 1e-8);
}

// A shunt changed in place (a capacitor bank switched, a fault) solves like a model built with it.
TEST(PowerFlow, ShuntChangedInPlaceMatchesARebuiltModel) {
  PowerFlow pf(two_bus(0.1, 80, 30));
  ASSERT_TRUE(pf.solve().converged);
  pf.set_shunt(1, 5, 40);  // 5 MW of resistive fault, 40 Mvar of capacitor at 1 p.u.
  const auto changed = pf.solve({}, true);
  auto net = two_bus(0.1, 80, 30);
  net.buses[1].gs = 5;
  net.buses[1].bs = 40;
  PowerFlow fresh(net);
  const auto rebuilt = fresh.solve();
  ASSERT_TRUE(changed.converged && rebuilt.converged);
  EXPECT_NEAR(changed.vm[1], rebuilt.vm[1], 1e-8);
  EXPECT_NEAR(changed.va_deg[1], rebuilt.va_deg[1], 1e-6);
  EXPECT_GT(changed.vm[1], PowerFlow(two_bus(0.1, 80, 30)).solve().vm[1]);  // the bank lifts V
  pf.set_shunt(1, 0, 0);
  EXPECT_NEAR(pf.solve({}, true).vm[1], radial_solution(1.0, 0, 0.1, 0.8, 0.3).first, 1e-8);
}

TEST(PowerFlow, TransformerTapAndPhaseShiftMatchTheIdealTransformer) {
  // Unloaded: the secondary sits at 1/t ∠ −φ.
  {
    PowerFlow pf(two_bus(0.05, 0, 0, 1.05, 10));
    const auto r = pf.solve({Method::newton_raphson, 1e-12, 20});
    ASSERT_TRUE(r.converged);
    EXPECT_NEAR(r.vm[1], 1 / 1.05, 1e-12);
    EXPECT_NEAR(r.va_deg[1], -10, 1e-10);
  }
  // Loaded, and a line behind the transformer (3 buses): the reactances add on the secondary
  // side of the ideal transformer, whose source is 1/t ∠ −φ.
  Network n = two_bus(0.05, 0, 0, 0.95, -5);
  n.buses.push_back({3, BusType::pq, 60, 20, 0, 0, 1.0, 0, 11, 1.1, 0.9, "", {}});
  Branch line;
  line.from = 2;
  line.to = 3;
  line.x = 0.08;
  n.branches.push_back(line);
  PowerFlow pf(n);
  const auto r = pf.solve({Method::newton_raphson, 1e-12, 20});
  ASSERT_TRUE(r.converged) << r.message;
  const auto [v3, th3] = radial_solution(1 / 0.95, 5 * kPi / 180, 0.13, 0.6, 0.2);
  EXPECT_NEAR(r.vm[2], v3, 1e-10);
  EXPECT_NEAR(r.va_deg[2], th3 * 180 / kPi, 1e-8);
  // Bus 2 is the source minus the drop across the transformer's own reactance.
  const std::complex<double> src = std::polar(1 / 0.95, 5 * kPi / 180);
  const std::complex<double> v3c = std::polar(r.vm[2], r.va_deg[2] * kPi / 180);
  const std::complex<double> i = (src - v3c) / std::complex<double>(0, 0.13);
  const std::complex<double> v2c = src - std::complex<double>(0, 0.05) * i;
  EXPECT_NEAR(r.vm[1], std::abs(v2c), 1e-10);
  EXPECT_NEAR(r.va_deg[1], std::arg(v2c) * 180 / kPi, 1e-8);
}

// Flows at given voltages (a state estimate's) are the power flow's own at its solution, taps,
// phase shifters, line charging and an outage included.
TEST(PowerFlow, BranchFlowsAtGivenVoltagesMatchTheSolution) {
  // A ring of three buses: a line with charging, a tapped phase shifter, a line, and a parallel
  // line out of service.
  Network n = io::parse_matpower(kTiny, "tiny");
  n.buses.push_back({3, BusType::pq, 30, 10, 0, 0, 1.0, 0, 11, 1.1, 0.9, "", {}});
  Branch shifter, line, spare;
  shifter.from = 2;
  shifter.to = 3;
  shifter.x = 0.08;
  shifter.ratio = 0.97;
  shifter.shift = 3;
  line.from = 1;
  line.to = 3;
  line.r = 0.02;
  line.x = 0.15;
  line.b = 0.01;
  spare = line;
  spare.to = 2;
  spare.in_service = false;
  n.branches.insert(n.branches.begin() + 1, spare);
  n.branches.push_back(shifter);
  n.branches.push_back(line);
  PowerFlow pf(n);
  const auto r = pf.solve({Method::newton_raphson, 1e-10, 30});
  ASSERT_TRUE(r.converged) << r.message;
  const auto f = branch_flows(n, r.vm, r.va_deg);
  ASSERT_EQ(f.flows.size(), r.flows.size());
  for (std::size_t k = 0; k < r.flows.size(); ++k) {
    EXPECT_NEAR(f.flows[k].p_from, r.flows[k].p_from, 1e-9) << k;
    EXPECT_NEAR(f.flows[k].q_from, r.flows[k].q_from, 1e-9) << k;
    EXPECT_NEAR(f.flows[k].p_to, r.flows[k].p_to, 1e-9) << k;
    EXPECT_NEAR(f.flows[k].q_to, r.flows[k].q_to, 1e-9) << k;
  }
  EXPECT_EQ(f.flows[1].p_from, 0);
  EXPECT_NEAR(f.losses_mw, r.losses_mw, 1e-9);
  EXPECT_GT(f.losses_mw, 0);
}

// The DC start is MATPOWER's DC power flow (makeBdc): B from 1/(x·tap), phase shifters as
// injections b·(−φ) at both ends, shunt conductance as load, the reference angle kept. A
// three-bus loop with a tap, a phase shifter and a conductance, solved here by Cramer's rule.
TEST(PowerFlow, DcStartIsMatpowersDcPowerFlow) {
  Network n = two_bus(0.1, 50, 20);
  n.buses[0].va = 5;  // reference angle, degrees
  n.buses[1].gs = 10;
  n.buses.push_back({3, BusType::pv, 0, 0, 0, 0, 1.0, 0, 11, 1.1, 0.9, "", {}});
  Branch b23;
  b23.from = 2;
  b23.to = 3;
  b23.r = 0.02;  // ignored by the DC model, like charging
  b23.x = 0.2;
  b23.b = 0.1;
  b23.ratio = 1.05;
  Branch b13;
  b13.from = 1;
  b13.to = 3;
  b13.x = 0.25;
  b13.shift = 3;
  n.branches.push_back(b23);
  n.branches.push_back(b13);
  Gen g3;
  g3.bus = 3;
  g3.pg = 30;
  g3.vg = 1.02;
  n.gens.push_back(g3);

  const double b12 = 1 / 0.1, b_23 = 1 / (0.2 * 1.05), b_13 = 1 / 0.25;
  const double th1 = 5 * kPi / 180, phi = 3 * kPi / 180;
  // Injections in p.u.: bus 2 = −load − conductance; bus 3 = generation − the shifter's
  // injection at its to end (+b·φ at the from end, −b·φ at the to end, moved to the right).
  const double p2 = -0.5 - 0.1 + b12 * th1;
  const double p3 = 0.3 - b_13 * phi + b_13 * th1;
  const double a = b12 + b_23, bb = -b_23, c = b_23 + b_13;
  const double det = a * c - bb * bb;
  const double th2 = (p2 * c - bb * p3) / det, th3 = (a * p3 - bb * p2) / det;

  PowerFlow pf(n);
  const auto dc = pf.dc_angles();
  ASSERT_EQ(dc.size(), 3u);
  EXPECT_NEAR(dc[0], 5, 1e-12);
  EXPECT_NEAR(dc[1], th2 * 180 / kPi, 1e-10);
  EXPECT_NEAR(dc[2], th3 * 180 / kPi, 1e-10);
  // The DC start is those angles with the case's magnitudes (generator set-points), refined by
  // one fast-decoupled P step where that lowers the largest mismatch: here it would raise a
  // reactive one, so the bare DC angles are kept; with lossy lines (which the DC model leaves
  // out) the step helps and is kept.
  PowerFlowOptions opt;
  opt.max_iterations = 0;  // the starting point itself
  auto bare_mismatch = [&](const Network& net) {
    PowerFlow q(net);
    const auto d = q.dc_angles();
    q.set_voltages({std::polar(1.0, d[0] * kPi / 180), std::polar(1.0, d[1] * kPi / 180),
                    std::polar(1.02, d[2] * kPi / 180)});
    return q.solve(opt, true).max_mismatch;
  };
  opt.start = Start::dc;
  const auto start = pf.solve(opt);
  EXPECT_NEAR(start.va_deg[0], 5, 1e-12);
  EXPECT_NEAR(start.vm[2], 1.02, 1e-12);
  EXPECT_NEAR(start.va_deg[1], dc[1], 1e-12);
  EXPECT_NEAR(start.va_deg[2], dc[2], 1e-12);
  EXPECT_NEAR(start.max_mismatch, bare_mismatch(n), 1e-12);
  Network lossy = n;
  lossy.branches[0].r = lossy.branches[2].r = 0.1;
  const auto refined = PowerFlow(lossy).solve(opt);
  EXPECT_LT(refined.max_mismatch, bare_mismatch(lossy));
  EXPECT_GT(std::abs(refined.va_deg[1] - PowerFlow(lossy).dc_angles()[1]), 0.1);  // the step
  // Every start reaches the same AC solution.
  opt.max_iterations = 20;
  opt.tolerance = 1e-12;
  std::vector<double> va;
  for (const auto s : {Start::automatic, Start::case_voltages, Start::dc}) {
    opt.start = s;
    const auto r = PowerFlow(n).solve(opt);
    ASSERT_TRUE(r.converged) << r.message;
    if (va.empty()) va = r.va_deg;
    for (std::size_t k = 0; k < va.size(); ++k) EXPECT_NEAR(r.va_deg[k], va[k], 1e-9);
  }
  // A bus reached only through a resistance is outside the DC model (B is singular there): the
  // start falls back to the case's voltages, and the solve still converges.
  n.buses.push_back({4, BusType::pq, 5, 1, 0, 0, 1.0, 0, 11, 1.1, 0.9, "", {}});
  n.branches.push_back({3, 4, 0.05, 0, 0, 0, 0, 0, true});
  opt.start = Start::dc;
  opt.max_iterations = 0;
  const auto fallback = PowerFlow(n).solve(opt);
  for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(fallback.va_deg[k], n.buses[k].va) << k;
  EXPECT_TRUE(PowerFlow(n).dc_angles().empty());
  opt.max_iterations = 20;
  EXPECT_TRUE(PowerFlow(n).solve(opt).converged);
  EXPECT_EQ(start_from_name("dc"), Start::dc);
  EXPECT_EQ(start_from_name("case"), Start::case_voltages);
  EXPECT_EQ(start_from_name("auto"), Start::automatic);
  EXPECT_FALSE(start_from_name("flat").has_value());
}

TEST(PowerFlow, WarmStartsConvergeFasterAndNonConvergenceIsAResult) {
  PowerFlow pf(two_bus(0.1, 80, 30));
  const auto cold = pf.solve();
  ASSERT_TRUE(cold.converged);
  pf.network().buses[1].pd = 82;
  const auto warm = pf.solve({}, true);
  ASSERT_TRUE(warm.converged);
  EXPECT_LE(warm.iterations, cold.iterations);
  // Far beyond the nose of the PV curve: no solution exists.
  pf.network().buses[1].pd = 2000;
  const auto r = pf.solve();
  EXPECT_FALSE(r.converged);
  EXPECT_FALSE(r.message.empty());
}

TEST(PowerFlow, ReactiveLimitsSwitchPvBusesToPq) {
  // A generator at the load bus holding 1.05 p.u. would need far more than its 20 Mvar.
  Network n = two_bus(0.1, 80, 30);
  n.buses[1].type = BusType::pv;
  Gen g;
  g.bus = 2;
  g.vg = 1.05;
  g.qmax = 20;
  g.qmin = -20;
  n.gens.push_back(g);
  PowerFlow pf(n);
  const auto free = pf.solve();
  ASSERT_TRUE(free.converged);
  EXPECT_NEAR(free.vm[1], 1.05, 1e-9);
  EXPECT_GT(free.qg[1], 20);  // off by default: the limit is ignored, as in MATPOWER
  PowerFlowOptions opt;
  opt.enforce_q_limits = true;
  const auto held = pf.solve(opt);
  ASSERT_TRUE(held.converged) << held.message;
  EXPECT_NEAR(held.qg[1], 20, 1e-9);
  EXPECT_LT(held.vm[1], 1.05);
  ASSERT_EQ(held.switched_to_pq.size(), 1u);
  EXPECT_EQ(held.switched_to_pq[0], 2);
  // The closed form with the generator's 20 Mvar netted against the load.
  const auto [v2, th2] = radial_solution(1.0, 0, 0.1, 0.8, 0.1);
  EXPECT_NEAR(held.vm[1], v2, 1e-9);
  EXPECT_NEAR(held.va_deg[1], th2 * 180 / kPi, 1e-7);
}

TEST(PowerFlow, DistributedSlackSharesTheBalanceByParticipation) {
  // Two generators (Pmax 300 and 100 MW) feed loads; the 40 MW set-point of the second leaves a
  // balance that both pick up in proportion 3:1.
  Network n = two_bus(0.05, 120, 30);
  n.buses.push_back({3, BusType::pv, 20, 5, 0, 0, 1.0, 0, 11, 1.1, 0.9, "", {}});
  n.branches.push_back({2, 3, 0.01, 0.05, 0, 0, 0, 0, true});
  n.branches.push_back({1, 3, 0.02, 0.08, 0, 0, 0, 0, true});
  n.branches[0].r = 0.01;
  n.gens[0].pg = 50;
  n.gens[0].pmax = 300;
  Gen g2;
  g2.bus = 3;
  g2.pg = 40;
  g2.vg = 1.02;
  g2.pmax = 100;
  n.gens.push_back(g2);
  PowerFlow single(n);
  const auto rs = single.solve({Method::newton_raphson, 1e-10, 30});
  ASSERT_TRUE(rs.converged);
  EXPECT_NEAR(rs.pg[1], 40, 1e-9);  // single slack: the reference takes everything
  PowerFlow shared(n, true);
  const auto r = shared.solve({Method::newton_raphson, 1e-10, 30});
  ASSERT_TRUE(r.converged) << r.message;
  EXPECT_LE(r.max_mismatch, 1e-10);
  const double d1 = r.pg[0] - 50, d2 = r.pg[1] - 40;
  EXPECT_NEAR(d1, 3 * d2, 1e-8);
  EXPECT_NEAR(d1 + d2, r.slack_mw, 1e-8);
  EXPECT_NEAR(r.pg[0] + r.pg[1], 140 + r.losses_mw, 1e-8);  // the balance holds
  // The voltages agree with a single-slack solve given the same outputs.
  Network fixed = n;
  fixed.gens[1].pg = r.pg[1];
  PowerFlow check(fixed);
  const auto rc = check.solve({Method::newton_raphson, 1e-12, 30});
  for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(rc.vm[k], r.vm[k], 1e-9);
  EXPECT_NEAR(rc.pg[0], r.pg[0], 1e-7);
  // With the second generator held at a reactive limit, the slack stays distributed.
  Network limited = n;
  limited.gens[1].qmax = 2;
  PowerFlowOptions q;
  q.enforce_q_limits = true;
  const auto held = PowerFlow(limited, true).solve(q);
  ASSERT_TRUE(held.converged) << held.message;
  ASSERT_EQ(held.switched_to_pq.size(), 1u);
  EXPECT_NEAR(held.qg[1], 2, 1e-9);
  EXPECT_NEAR(held.pg[0] - 50, 3 * (held.pg[1] - 40), 1e-6);
  // Explicit participation factors win over Pmax.
  n.gens[0].participation = 1;
  n.gens[1].participation = 1;
  const auto eq = PowerFlow(n, true).solve({Method::newton_raphson, 1e-10, 30});
  EXPECT_NEAR(eq.pg[0] - 50, eq.pg[1] - 40, 1e-8);
  // Not with the fast-decoupled method, and not across islands.
  PowerFlowOptions fd;
  fd.method = Method::fast_decoupled_xb;
  EXPECT_FALSE(shared.solve(fd).converged);
}

TEST(PowerFlow, IslandsWithoutAReferenceAreRefused) {
  Network n = two_bus(0.1, 10, 0);
  n.buses.push_back({3, BusType::pq, 5, 0, 0, 0, 1, 0, 11, 1.1, 0.9, "", {}});
  EXPECT_THROW(PowerFlow{n}, NetworkError);  // bus 3 has no connection and no generator
  n.branches.push_back({2, 3, 0, 0.1, 0, 0, 0, 0, true});
  EXPECT_NO_THROW(PowerFlow{n});
  n.branches.back().in_service = false;
  EXPECT_THROW(PowerFlow{n}, NetworkError);
  Network bad = two_bus(0.1, 10, 0);
  bad.branches[0].x = 0;
  EXPECT_THROW(PowerFlow{bad}, NetworkError);  // zero impedance
  bad = two_bus(0.1, 10, 0);
  bad.branches[0].to = 9;
  EXPECT_THROW(PowerFlow{bad}, NetworkError);  // unknown bus
}

// Bus ids are any 64-bit values: compact ones go through a table, scattered ones a hash map;
// both find every bus, answer -1 for others and refuse a duplicate.
TEST(PowerFlow, BusIndexWithCompactAndScatteredIds) {
  for (const std::vector<std::int64_t>& ids :
       {std::vector<std::int64_t>{3, 1, 2, 7}, std::vector<std::int64_t>{-5, 1'000'000'000'000, 0},
        std::vector<std::int64_t>{INT64_MIN, INT64_MAX, 42}}) {
    std::vector<Bus> buses(ids.size());
    for (std::size_t k = 0; k < ids.size(); ++k) buses[k].id = ids[k];
    const BusIndex index(buses);
    for (std::size_t k = 0; k < ids.size(); ++k) {
      EXPECT_EQ(index.find(ids[k]), static_cast<std::ptrdiff_t>(k));
      EXPECT_EQ(index.at(ids[k]), k);
    }
    EXPECT_EQ(index.find(4), -1);
    EXPECT_EQ(index.find(-1), -1);
    EXPECT_THROW(index.at(4), NetworkError);
    buses.push_back(buses.front());
    try {
      BusIndex{buses};
      ADD_FAILURE() << "a duplicate id was accepted";
    } catch (const NetworkError& e) {
      EXPECT_EQ(std::string(e.what()), "bus " + std::to_string(ids[0]) + " is defined twice");
    }
  }
  // The power flow works the same on scattered ids.
  Network n = two_bus(0.1, 80, 30);
  n.buses[1].id = 5'000'000'000;
  n.branches[0].to = 5'000'000'000;
  const auto r = PowerFlow(n).solve();
  ASSERT_TRUE(r.converged);
  EXPECT_NEAR(r.vm[1], radial_solution(1.0, 0, 0.1, 0.8, 0.3).first, 1e-8);
}

// ---- golden cases -------------------------------------------------------------------------------

namespace {

// Every bus within 1e-6 p.u. and 1e-4° of the reference.
// Generation = load + shunt consumption + losses, within `relative` of the load.
void expect_balance(const Network& net, const PowerFlowResult& r, double relative,
                    const std::string& what) {
  double gen = 0, load = 0, shunt = 0;
  for (std::size_t g = 0; g < net.gens.size(); ++g) gen += net.gens[g].in_service ? r.pg[g] : 0;
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    load += net.buses[k].pd;
    shunt += net.buses[k].gs * r.vm[k] * r.vm[k];
  }
  EXPECT_NEAR(gen, load + shunt + r.losses_mw, relative * std::max(1.0, load)) << what;
}

void expect_matches(const Network& net, const std::map<std::int64_t, Reference>& ref,
                    const PowerFlowResult& r, const std::string& what) {
  double worst_vm = 0, worst_va = 0;
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    const auto& want = ref.at(net.buses[k].id);
    worst_vm = std::max(worst_vm, std::abs(r.vm[k] - want.vm));
    worst_va = std::max(worst_va, std::abs(r.va_deg[k] - want.va));
  }
  EXPECT_LE(worst_vm, 1e-6) << what << " after " << r.iterations << " iterations";
  EXPECT_LE(worst_va, 1e-4) << what;
}

}  // namespace

class GoldenCase : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenCase, MatchesMatpowersSolution) {
  REMHART_REQUIRE_SHARED(matpower_dir() / "case14.m");
  const std::string name = GetParam();
  const auto net = io::read_matpower((matpower_dir() / (name + ".m")).string());
  const auto ref = read_solution(matpower_dir() / "solutions" / (name + "_pf_solution.csv"));
  ASSERT_EQ(ref.size(), net.buses.size());
  // From MATPOWER's own start (the case's voltages), from the DC estimate, and from the better
  // of the two (the default).
  for (const auto start : {Start::case_voltages, Start::dc}) {
    PowerFlowOptions opt{Method::newton_raphson, 1e-10, 30};
    opt.start = start;
    const auto r = PowerFlow(net).solve(opt);
    ASSERT_TRUE(r.converged) << name << ": " << r.message;
    EXPECT_LE(r.max_mismatch, 1e-8);
    expect_matches(net, ref, r, name + (start == Start::dc ? " from DC" : " from the case"));
  }
  PowerFlow pf(net);
  const auto r = pf.solve({Method::newton_raphson, 1e-10, 30});
  ASSERT_TRUE(r.converged) << r.message;
  EXPECT_LE(r.max_mismatch, 1e-8);
  expect_matches(net, ref, r, name);
  expect_balance(net, r, 1e-6, name);
}

TEST_P(GoldenCase, FastDecoupledReachesTheSameSolution) {
  REMHART_REQUIRE_SHARED(matpower_dir() / "case14.m");
  const std::string name = GetParam();
  const auto net = io::read_matpower((matpower_dir() / (name + ".m")).string());
  const auto ref = read_solution(matpower_dir() / "solutions" / (name + "_pf_solution.csv"));
  PowerFlow pf(net);
  PowerFlowOptions opt;
  opt.method = Method::fast_decoupled_xb;
  opt.tolerance = 1e-9;
  opt.max_iterations = 200;
  const auto r = pf.solve(opt);
  ASSERT_TRUE(r.converged) << name << ": " << r.message;
  EXPECT_LE(r.max_mismatch, 1e-8);
  expect_matches(net, ref, r, name + " (fast-decoupled)");
}

TEST_P(GoldenCase, DistributedSlackKeepsTheBalance) {
  REMHART_REQUIRE_SHARED(matpower_dir() / "case14.m");
  const std::string name = GetParam();
  const auto net = io::read_matpower((matpower_dir() / (name + ".m")).string());
  const auto r = PowerFlow(net, true).solve({Method::newton_raphson, 1e-9, 30});
  ASSERT_TRUE(r.converged) << name << ": " << r.message;
  expect_balance(net, r, 1e-5, name);
}

INSTANTIATE_TEST_SUITE_P(Matpower, GoldenCase,
                         ::testing::Values("case14", "case30", "case57", "case118", "case300",
                                           "case1354pegase", "case2869pegase", "case9241pegase"));

// A non-finite iterate is "not converged": the largest-mismatch norm skipped NaN entries
// (std::max ignores them), so a warm solve from NaN voltages reported convergence at once.
TEST(PowerFlow, ANonFiniteIterateIsNotConverged) {
  PowerFlow pf(two_bus(0.1, 80, 30));
  ASSERT_TRUE(pf.solve().converged);
  pf.set_voltages({{1.0, 0.0}, {std::nan(""), 0.0}});
  const auto r = pf.solve({}, true);
  EXPECT_FALSE(r.converged);
  EXPECT_FALSE(r.message.empty());
}

// Reactive-limit switching never throws for a PV bus the model made an island's reference (a
// network without a reference bus): that bus keeps its reactive power free.
TEST(PowerFlow, QLimitsKeepAPromotedReferenceFree) {
  Network n = two_bus(0.1, 80, 30);
  n.buses[0].type = BusType::pv;  // no reference: the model promotes this PV bus
  n.gens[0].qmax = 1;             // far below what the load needs
  n.gens[0].qmin = -1;
  PowerFlow pf(n);
  PowerFlowOptions opt;
  opt.enforce_q_limits = true;
  PowerFlowResult r;
  ASSERT_NO_THROW(r = pf.solve(opt));
  EXPECT_TRUE(r.converged) << r.message;
  EXPECT_TRUE(r.switched_to_pq.empty());
  EXPECT_GT(r.qg[0], 1);
}
