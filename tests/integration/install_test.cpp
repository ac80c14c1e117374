// The binary is relocatable: installed into a prefix, it serves (with the demo twin) from a
// directory with no source tree; copied alone, it says where it looked for its shared data.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "shared_data.hpp"
#include "testkit.hpp"

using namespace remhart::testkit;
using nlohmann::json;
using remhart::testkit::running_in_ci;
namespace fs = std::filesystem;

TEST(Install, AnInstalledBinaryServesTheDemoTwinWithoutTheSourceTree) {
  TempDir prefix;
  const auto r = run_command(std::string(REMHART_CMAKE_COMMAND) + " --install " +
                             REMHART_BUILD_DIR + " --prefix " + prefix.path());
  ASSERT_EQ(r.status, 0) << r.output;
  const fs::path bin = fs::path(prefix.path()) / "bin" / "remhart";
  ASSERT_TRUE(fs::exists(bin));
  EXPECT_TRUE(fs::exists(fs::path(prefix.path()) / "share/remhart/twins/demo-feeder.json"));
  EXPECT_TRUE(fs::exists(fs::path(prefix.path()) / "share/remhart/remhart.example.toml"));

  TempDir run;
  ServerProcess proc(bin.string(), run.path() + "/data");
  auto http = admin_client(proc);
  const auto active = http->get("/api/simulator/active");
  ASSERT_EQ(active.status, 200) << active.body;
  EXPECT_EQ(json::parse(active.body)["scenario"], "normal_day");
  // The dashboard is installed with it (make web builds it before the tests).
  if (fs::exists(fs::path(REMHART_SOURCE_DIR) / "web" / "dist" / "index.html") || running_in_ci()) {
    EXPECT_TRUE(fs::exists(fs::path(prefix.path()) / "share/remhart/web/index.html"));
    const auto page = http->get("/");
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.headers.at("content-type"), "text/html; charset=utf-8");
  }

  // The same binary without its share/ directory fails clearly, naming where it looked.
  TempDir alone;
  fs::copy_file(bin, fs::path(alone.path()) / "remhart");
  const auto lost = run_command(alone.path() + "/remhart simulate --duration 10s --out " +
                                alone.path() + "/x.csv");
  EXPECT_EQ(lost.status, 1) << lost.output;
  EXPECT_NE(lost.output.find("REMHART_SHARE_DIR"), std::string::npos) << lost.output;
  // REMHART_SHARE_DIR points it at the data.
  const auto found = run_command(
      alone.path() + "/remhart simulate --duration 10s --quiet --out " + alone.path() + "/x.csv",
      {{"REMHART_SHARE_DIR", prefix.path() + "/share/remhart"}});
  EXPECT_EQ(found.status, 0) << found.output;
}
