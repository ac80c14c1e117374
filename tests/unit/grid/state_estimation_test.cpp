// Weighted-least-squares state estimation: noise-free and noisy cases, bad data, observability.
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
#include "grid/state_estimation.hpp"

#include "grid_cases.hpp"

using namespace remhart::grid;
using namespace remhart::grid::testing;
using remhart::testkit::matpower_dir;
using remhart::testkit::running_in_ci;

TEST(StateEstimation, ChiSquareQuantileIsAccurate) {
  EXPECT_NEAR(chi2_quantile(0.99, 10), 23.209, 0.1);
  EXPECT_NEAR(chi2_quantile(0.99, 100), 135.807, 0.3);
  EXPECT_NEAR(chi2_quantile(0.95, 30), 43.773, 0.1);
}

TEST(StateEstimation, NoiseFreeMeasurementsGiveBackThePowerFlowState) {
  REMHART_REQUIRE_SHARED(matpower_dir() / "case14.m");
  const auto net = case_or_tiny("case14");
  PowerFlow pf(net);
  const auto r = pf.solve({Method::newton_raphson, 1e-12, 30});
  auto ms = measure(net, r, 0, 0, 1);  // exact values
  for (auto& m : ms) m.sigma = m.kind == Measurement::Kind::vm ? 0.004 : 0.01;
  const auto e = estimate_state(net, ms);
  ASSERT_TRUE(e.converged) << e.message;
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    EXPECT_NEAR(e.vm[k], r.vm[k], 1e-7);
    EXPECT_NEAR(e.va_deg[k], r.va_deg[k], 1e-5);
  }
  EXPECT_LT(e.objective, 1e-8);
  EXPECT_FALSE(e.bad_data_detected);
}

// The deviations are the diagonal of G⁻¹ (Takahashi's equations on the factor): measuring
// everything twice doubles G, so every deviation shrinks by exactly √2; measuring more precisely
// shrinks them in proportion; the reference angle has none.
TEST(StateEstimation, DeviationsFollowTheGainMatrixInverse) {
  const auto net = case_or_tiny("case30");
  PowerFlow pf(net);
  const auto r = pf.solve({Method::newton_raphson, 1e-12, 30});
  auto ms = measure(net, r, 0, 0, 1);
  for (auto& m : ms) m.sigma = m.kind == Measurement::Kind::vm ? 0.004 : 0.01;
  const auto once = estimate_state(net, ms);
  auto twice = ms;
  twice.insert(twice.end(), ms.begin(), ms.end());
  const auto both = estimate_state(net, twice);
  auto finer = ms;
  for (auto& m : finer) m.sigma /= 10;
  const auto precise = estimate_state(net, finer);
  ASSERT_TRUE(once.converged && both.converged && precise.converged);
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    EXPECT_GT(once.vm_sigma[k], 0);
    EXPECT_NEAR(both.vm_sigma[k], once.vm_sigma[k] / std::sqrt(2.0),
                1e-9 * once.vm_sigma[k] + 1e-15);
    EXPECT_NEAR(precise.vm_sigma[k], once.vm_sigma[k] / 10, 1e-6 * once.vm_sigma[k]);
    EXPECT_NEAR(both.va_sigma_deg[k], once.va_sigma_deg[k] / std::sqrt(2.0),
                1e-9 * once.va_sigma_deg[k] + 1e-15);
    if (net.buses[k].type == BusType::ref) {
      EXPECT_EQ(once.va_sigma_deg[k], 0);
    }
    EXPECT_LT(once.vm_sigma[k], 0.004);  // better than the voltmeter alone
  }
  // Bus by bus, branch by branch and for the losses, the reported deviation is the spread of the
  // estimates over noise realisations.
  const int runs = 200;
  std::vector<double> sum(net.buses.size(), 0), sq(net.buses.size(), 0);
  std::vector<double> fsum(net.branches.size(), 0), fsq(net.branches.size(), 0);
  std::vector<double> ssum(net.branches.size(), 0), ssq(net.branches.size(), 0);
  double lsum = 0, lsq = 0;
  for (int k = 0; k < runs; ++k) {
    auto noisy = measure(net, r, 0.004, 0.01, 100 + k);
    for (auto& m : noisy) m.sigma = m.kind == Measurement::Kind::vm ? 0.004 : 0.01;
    EstimationOptions opt;
    opt.bad_data = false;
    const auto e = estimate_state(net, noisy, opt);
    for (std::size_t b = 0; b < net.buses.size(); ++b) {
      sum[b] += e.vm[b];
      sq[b] += e.vm[b] * e.vm[b];
    }
    const auto flows = branch_flows(net, e.vm, e.va_deg);
    for (std::size_t b = 0; b < net.branches.size(); ++b) {
      fsum[b] += flows.flows[b].p_from;
      fsq[b] += flows.flows[b].p_from * flows.flows[b].p_from;
      const double s = std::hypot(flows.flows[b].p_from, flows.flows[b].q_from);
      ssum[b] += s;
      ssq[b] += s * s;
    }
    lsum += flows.losses_mw;
    lsq += flows.losses_mw * flows.losses_mw;
  }
  const auto spread = [&](double s1, double s2) {
    const double mean = s1 / runs;
    return std::sqrt(std::max(0.0, s2 / runs - mean * mean));
  };
  for (std::size_t b = 0; b < net.branches.size(); ++b) {
    if (!net.branches[b].in_service) continue;
    EXPECT_NEAR(spread(fsum[b], fsq[b]) / once.p_from_sigma_mw[b], 1.0, 0.2) << "branch " << b;
    // |S| is linear enough to first order only where the flow stands well clear of its noise.
    if (ssum[b] / runs > 5 * once.s_from_sigma_mva[b]) {
      EXPECT_NEAR(spread(ssum[b], ssq[b]) / once.s_from_sigma_mva[b], 1.0, 0.2) << "branch " << b;
    }
  }
  EXPECT_NEAR(spread(lsum, lsq) / once.losses_sigma_mw, 1.0, 0.2);
  for (std::size_t b = 0; b < net.buses.size(); ++b) {
    const double mean = sum[b] / runs, spread = std::sqrt(sq[b] / runs - mean * mean);
    EXPECT_NEAR(spread / once.vm_sigma[b], 1.0, 0.2) << "bus " << net.buses[b].id;
  }
}

TEST(StateEstimation, RecoversTheStateWithinTheNoiseOnCase14AndCase118) {
  REMHART_REQUIRE_SHARED(matpower_dir() / "case14.m");
  for (const char* name : {"case14", "case118"}) {
    const auto net = case_or_tiny(name);
    PowerFlow pf(net);
    const auto r = pf.solve({Method::newton_raphson, 1e-12, 30});
    const double sv = 0.004, sp = 0.01;
    const auto ms = measure(net, r, sv, sp, 42);
    const auto e = estimate_state(net, ms);
    ASSERT_TRUE(e.converged) << name << ": " << e.message;
    double err_est = 0, err_meas = 0, worst = 0;
    for (std::size_t k = 0; k < net.buses.size(); ++k) {
      err_est += std::pow(e.vm[k] - r.vm[k], 2);
      err_meas += std::pow(ms[3 * k].value - r.vm[k], 2);
      worst = std::max(worst, std::abs(e.vm[k] - r.vm[k]));
    }
    // Redundancy filters the noise: the estimate beats the raw voltmeters, and stays within 3σ.
    EXPECT_LT(err_est, err_meas) << name;
    EXPECT_LT(worst, 3 * sv) << name;
    EXPECT_LT(e.objective, e.chi2_limit) << name;  // consistent noise passes the χ² test
    EXPECT_FALSE(e.bad_data_detected) << name;
  }
}

TEST(StateEstimation, AGrossErrorIsDetectedIdentifiedAndRemoved) {
  REMHART_REQUIRE_SHARED(matpower_dir() / "case14.m");
  for (const char* name : {"case14", "case118"}) {
    const auto net = case_or_tiny(name);
    PowerFlow pf(net);
    const auto r = pf.solve({Method::newton_raphson, 1e-12, 30});
    auto ms = measure(net, r, 0.004, 0.01, 7);
    // A branch flow off by 20 σ.
    std::size_t bad = 0;
    for (std::size_t i = 0; i < ms.size(); ++i) {
      if (ms[i].kind == Measurement::Kind::p_flow_from && ms[i].element == 3) bad = i;
    }
    ms[bad].value += 20 * ms[bad].sigma;
    const auto e = estimate_state(net, ms);
    ASSERT_TRUE(e.converged) << name;
    EXPECT_TRUE(e.bad_data_detected) << name;
    ASSERT_EQ(e.removed.size(), 1u) << name;
    EXPECT_EQ(e.removed[0], bad) << name;
    EXPECT_LT(e.objective, e.chi2_limit) << name;
  }
}

// A suspect whose removal would leave the network unobservable stays: the estimate with it is
// returned, its bad data detected but not removed (before, the estimate was lost with an error).
TEST(StateEstimation, ASuspectWhoseRemovalBlindsTheEstimateStays) {
  const auto net = two_bus(0.1, 80, 30);  // states: the angle of bus 2 and both magnitudes
  PowerFlow pf(net);
  const auto r = pf.solve();
  using K = Measurement::Kind;
  const double p2 = -0.8, q2 = -0.3;  // bus 2 draws 80 MW, 30 Mvar on 100 MVA
  const std::vector<Measurement> ms = {{K::vm, 0, r.vm[0], 0.004},
                                       {K::p_injection, 1, p2, 0.01},
                                       {K::q_injection, 1, q2, 0.01},
                                       {K::p_injection, 1, p2 + 0.3, 0.01}};  // a gross error
  EstimationResult e;
  ASSERT_NO_THROW(e = estimate_state(net, ms));
  EXPECT_TRUE(e.converged);
  EXPECT_TRUE(e.bad_data_detected);
  EXPECT_TRUE(e.removed.empty());
  EXPECT_EQ(e.vm_sigma.size(), 2u);
}

TEST(StateEstimation, AnUnobservableSetIsRefused) {
  const auto net = case_or_tiny("case14");
  PowerFlow pf(net);
  const auto r = pf.solve();
  // Voltage magnitudes alone say nothing about angles.
  std::vector<Measurement> only_vm;
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    only_vm.push_back({Measurement::Kind::vm, k, r.vm[k], 0.004});
    only_vm.push_back({Measurement::Kind::vm, k, r.vm[k], 0.004});
  }
  EXPECT_THROW(estimate_state(net, only_vm), NetworkError);
  // Enough in number but blind to one bus: drop everything that depends on the last bus — its
  // own measurements, flows on its branches and its neighbours' injections.
  auto ms = measure(net, r, 0, 0, 3);
  for (auto& m : ms) m.sigma = 0.01;
  const std::size_t last = net.buses.size() - 1;
  const auto id = net.buses[last].id;
  std::set<std::size_t> near{last};
  for (const auto& br : net.branches) {
    for (std::size_t k = 0; k < net.buses.size(); ++k) {
      if ((br.from == id && net.buses[k].id == br.to) ||
          (br.to == id && net.buses[k].id == br.from)) {
        near.insert(k);
      }
    }
  }
  std::vector<Measurement> blind;
  for (const auto& m : ms) {
    bool touches = false;
    if (m.kind == Measurement::Kind::vm) {
      touches = m.element == last;
    } else if (m.kind == Measurement::Kind::p_injection ||
               m.kind == Measurement::Kind::q_injection) {
      touches = near.count(m.element) > 0;
    } else {
      touches = net.branches[m.element].from == id || net.branches[m.element].to == id;
    }
    if (!touches) blind.push_back(m);
  }
  EXPECT_THROW(estimate_state(net, blind), NetworkError);
  EXPECT_THROW(estimate_state(net, {{Measurement::Kind::vm, 999, 1.0, 0.01}}), NetworkError);
}
