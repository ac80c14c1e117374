// The MATPOWER reader: the version-2 format, and malformed files named by line.
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

#include "grid_cases.hpp"

using namespace remhart::grid;
using namespace remhart::grid::testing;
using remhart::testkit::matpower_dir;
using remhart::testkit::running_in_ci;

namespace {
std::string error_of(const std::string& text) {
  try {
    io::parse_matpower(text, "t.m");
  } catch (const NetworkError& e) {
    return e.what();
  }
  return "";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}
}  // namespace

TEST(Matpower, ParsesTheVersion2Format) {
  const auto n = io::parse_matpower(kTiny);
  EXPECT_EQ(n.base_mva, 100);
  ASSERT_EQ(n.buses.size(), 2u);
  EXPECT_EQ(n.buses[1].pd, 50);
  EXPECT_EQ(n.buses[0].type, BusType::ref);
  ASSERT_EQ(n.gens.size(), 1u);
  EXPECT_TRUE(std::isinf(n.gens[0].qmax));
  ASSERT_EQ(n.branches.size(), 1u);
  EXPECT_EQ(n.branches[0].b, 0.02);
  PowerFlow pf(n);
  EXPECT_TRUE(pf.solve().converged);
}

TEST(Matpower, MalformedFilesNameTheLine) {
  const std::string tiny = kTiny;
  EXPECT_EQ(error_of(replace(tiny, "0.01\t0.1", "0.01\tabc")),
            "t.m:13: 'abc' is not a number (mpc.branch)");
  EXPECT_EQ(error_of(replace(tiny, "\t1\t2\t0.01", "\t1\t7\t0.01")), "t.m:13: tbus 7 is not a bus");
  EXPECT_NE(
      error_of(replace(tiny, "\t2\t1\t50\t20\t0\t0\t1\t1\t0\t11\t1\t1.1\t0.9;", "\t2\t1\t50;"))
          .find("t.m:7: bus row has 3 columns"),
      std::string::npos);
  EXPECT_NE(error_of(replace(tiny, "mpc.version = '2';", "mpc.version = '1';")).find("version 2"),
            std::string::npos);
  EXPECT_NE(error_of(replace(tiny, "mpc.version = '2';", "")).find("no mpc.version"),
            std::string::npos);
  EXPECT_NE(error_of(replace(tiny, "mpc.baseMVA = 100;", "")).find("no mpc.baseMVA"),
            std::string::npos);
  EXPECT_EQ(error_of(replace(tiny, "\t2\t1\t50", "\t1\t1\t50")), "t.m:7: bus 1 is defined twice");
  EXPECT_EQ(error_of(replace(tiny, "\t2\t1\t50", "\t2\t7\t50")),
            "t.m:7: bus type must be 1 (PQ), 2 (PV), 3 (reference) or 4");
  EXPECT_EQ(error_of(replace(tiny, "0.01\t0.1\t0.02", "0\t0\t0.02")),
            "t.m:13: branch has zero impedance");
  EXPECT_EQ(error_of(replace(tiny, "\t1\t0\t0\tInf", "\t5\t0\t0\tInf")),
            "t.m:10: gen refers to bus 5, which is not in mpc.bus");
  EXPECT_NE(error_of(tiny.substr(0, tiny.find("];"))).find("t.m:5: mpc.bus is not closed"),
            std::string::npos);
  EXPECT_NE(error_of(replace(tiny, "\t1\t1\t0\t11", "\t1\tNaN\t0\t11")).find("Vm must be"),
            std::string::npos);
  EXPECT_NE(error_of("").find("no mpc.version"), std::string::npos);
  EXPECT_NE(error_of(std::string(1000, '[')).find("no mpc.version"), std::string::npos);
  EXPECT_THROW(io::read_matpower("/nonexistent/case.m"), NetworkError);
}
