// N-1 contingency analysis: case118 against MATPOWER's 186 outage solutions, violations and
// islanding.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <random>
#include <set>
#include <sstream>

#include "grid/contingency.hpp"
#include "grid/io/matpower.hpp"

#include "grid_cases.hpp"

using namespace remhart::grid;
using namespace remhart::grid::testing;
using remhart::testkit::matpower_dir;
using remhart::testkit::running_in_ci;

TEST(Contingency, Case118MatchesMatpowersOutageSolutions) {
  REMHART_REQUIRE_SHARED(matpower_dir() / "case14.m");
  const auto net = io::read_matpower((matpower_dir() / "case118.m").string());
  // outage (1-based branch row) → islanded flag and bus voltages.
  struct Outage {
    bool islanded = false;
    std::map<std::int64_t, Reference> buses;
  };
  std::map<std::size_t, Outage> want;
  std::ifstream in(matpower_dir() / "solutions" / "case118_n1_solutions.csv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string f[8];
    for (auto& x : f) std::getline(ss, x, ',');
    auto& o = want[std::stoul(f[0])];
    o.islanded = f[4] == "1";
    if (!o.islanded) o.buses[std::stoll(f[5])] = {std::stod(f[6]), std::stod(f[7])};
  }
  ASSERT_EQ(want.size(), net.branches.size());

  ContingencyOptions opt;
  opt.power_flow.tolerance = 1e-10;
  opt.keep_voltages = true;
  opt.threads = 2;
  const auto report = run_n1(net, opt);
  ASSERT_TRUE(report.base.converged);
  ASSERT_EQ(report.outages.size(), net.branches.size());
  int islanded = 0;
  double worst_vm = 0, worst_va = 0;
  for (const auto& c : report.outages) {
    const auto& w = want.at(c.branch + 1);
    EXPECT_EQ(c.islanded, w.islanded) << "branch " << c.branch + 1;
    if (c.islanded) {
      ++islanded;
      continue;
    }
    ASSERT_TRUE(c.converged) << "branch " << c.branch + 1 << ": " << c.message;
    for (std::size_t b = 0; b < net.buses.size(); ++b) {
      const auto& ref = w.buses.at(net.buses[b].id);
      worst_vm = std::max(worst_vm, std::abs(c.vm[b] - ref.vm));
      worst_va = std::max(worst_va, std::abs(c.va_deg[b] - ref.va));
    }
  }
  EXPECT_EQ(islanded, 9);
  EXPECT_LE(worst_vm, 1e-6);
  EXPECT_LE(worst_va, 1e-4);
}

TEST(Contingency, ViolationsAreListedPerOutage) {
  // Two parallel lines feed a load; each is rated for the whole load with little margin, so
  // losing one overloads the other and depresses the voltage.
  Network n = two_bus(0.1, 90, 30);
  n.branches[0].rate_a = 100;
  n.branches.push_back(n.branches[0]);
  n.buses[1].vmin = 0.97;  // 0.984 p.u. on two lines, 0.965 on one
  ContingencyOptions opt;
  opt.threads = 1;
  opt.loading_limit = 0.5;
  const auto report = run_n1(n, opt);
  ASSERT_TRUE(report.base.converged);
  EXPECT_TRUE(find_violations(n, report.base, 0.5).empty());  // each carries 45 %
  ASSERT_EQ(report.outages.size(), 2u);
  for (const auto& c : report.outages) {
    ASSERT_TRUE(c.converged);
    bool thermal = false, low = false;
    for (const auto& v : c.violations) {
      thermal |= v.kind == Violation::Kind::thermal && v.element != c.branch && v.value > 0.9;
      low |= v.kind == Violation::Kind::voltage_low && v.element == 1;
    }
    EXPECT_TRUE(thermal);
    EXPECT_TRUE(low);
  }
  // Losing the only line islands the load bus.
  Network radial = two_bus(0.1, 50, 10);
  const auto r2 = run_n1(radial, opt);
  ASSERT_EQ(r2.outages.size(), 1u);
  EXPECT_TRUE(r2.outages[0].islanded);
  EXPECT_EQ(r2.outages[0].islanded_buses, 1u);
}
