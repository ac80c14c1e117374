// `remhart powerflow` as a standalone tool: text and JSON output, exit codes, refused files.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "testkit.hpp"

using namespace remhart::testkit;

namespace {

int run(const std::string& args, std::string* out) {
  FILE* p = popen((remhart_binary() + " " + args + " 2>&1").c_str(), "r");
  std::string text;
  char buf[4096];
  while (fgets(buf, sizeof buf, p)) text += buf;
  const int rc = pclose(p);
  *out = text;
  return WEXITSTATUS(rc);
}

const char* kCase = R"(function mpc = two
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	1	3	0	0	0	0	1	1	0	11	1	1.1	0.9;
	2	1	80	30	0	0	1	1	0	11	1	1.1	0.9;
];
mpc.gen = [
	1	0	0	100	-100	1.0	100	1	200	0;
];
mpc.branch = [
	1	2	0	0.1	0	0	0	0	0	0	1;
];
)";

}  // namespace

TEST(PowerflowCli, TextJsonAndExitCodes) {
  TempDir dir;
  const std::string file = dir.path() + "/two.m";
  std::ofstream(file) << kCase;
  std::string out;
  ASSERT_EQ(run("powerflow " + file, &out), 0) << out;
  EXPECT_NE(out.find("two: converged in"), std::string::npos) << out;
  EXPECT_NE(out.find("losses 0.000 MW"), std::string::npos) << out;
  ASSERT_EQ(run("powerflow --json " + file, &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["converged"].get<bool>());
  ASSERT_EQ(j["buses"].size(), 2u);
  EXPECT_EQ(j["buses"][1]["id"], 2);
  EXPECT_NEAR(j["buses"][1]["vm_pu"].get<double>(), 0.96549, 1e-5);
  EXPECT_LT(j["max_mismatch"].get<double>(), 1e-8);
  ASSERT_EQ(run("powerflow --json --method fdxb " + file, &out), 0) << out;
  const auto fd = nlohmann::json::parse(out);
  EXPECT_EQ(fd["method"], "fdxb");
  EXPECT_NEAR(fd["buses"][1]["vm_pu"].get<double>(), 0.96549, 1e-5);

  // Refused input: the message names the file and line; exit 1. Usage errors: exit 2.
  std::string bad = kCase;
  bad.replace(bad.find("0.1\t0"), 3, "x.y");
  std::ofstream(dir.path() + "/bad.m") << bad;
  EXPECT_EQ(run("powerflow " + dir.path() + "/bad.m", &out), 1);
  EXPECT_NE(out.find("bad.m:12:"), std::string::npos) << out;
  EXPECT_EQ(run("powerflow " + dir.path() + "/missing.m", &out), 1);
  EXPECT_EQ(run("powerflow", &out), 2);
  EXPECT_EQ(run("powerflow --method bogus " + file, &out), 2);
  // An overloaded case does not converge: a result, exit 1, no crash.
  std::string heavy = kCase;
  heavy.replace(heavy.find("80\t30"), 5, "900\t30");
  std::ofstream(dir.path() + "/heavy.m") << heavy;
  EXPECT_EQ(run("powerflow --json " + dir.path() + "/heavy.m", &out), 1);
  EXPECT_FALSE(nlohmann::json::parse(out)["converged"].get<bool>());
}
