// The dashboard's files served by the real server: types, cache policy and security headers,
// application routes, and traversal attempts against a directory with a secret beside it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "testkit.hpp"

using namespace remhart::testkit;
namespace fs = std::filesystem;

namespace {
void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}
}  // namespace

TEST(Web, ServesTheDashboardAndNothingBesideIt) {
  TempDir dir;
  const fs::path web = fs::path(dir.path()) / "web";
  write(web / "index.html", "<!doctype html><title>REMHART Twin</title>");
  write(web / "assets" / "index-5f3a9c.js", "export const x = 1;");
  write(fs::path(dir.path()) / "secret.txt", "TOPSECRET");
  write(fs::path(dir.path()) / "data" / "remhart.toml", "TOPSECRET");
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"},
                     {{"REMHART_SERVER_WEB_DIR", web.string()}});
  HttpClient http(proc.port());

  auto index = http.get("/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(index.headers["cache-control"], "no-cache");
  EXPECT_NE(index.headers["content-security-policy"].find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(index.headers["x-content-type-options"], "nosniff");
  EXPECT_NE(index.body.find("REMHART Twin"), std::string::npos);
  auto js = http.get("/assets/index-5f3a9c.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(js.headers["cache-control"], "public, max-age=31536000, immutable");
  EXPECT_EQ(http.get("/devices/fdr1-m03").body, index.body);  // an application route
  EXPECT_EQ(http.request("HEAD", "/").status, 200);
  EXPECT_EQ(http.get("/assets/").status, 404);  // no listing
  EXPECT_EQ(http.get("/assets/missing.js").status, 404);
  // The API keeps its JSON answers.
  const auto api = http.get("/api/nowhere");
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(nlohmann::json::parse(api.body)["error"], "not_found");
  EXPECT_EQ(http.get("/health").status, 200);
  EXPECT_EQ(http.request("POST", "/").status, 404);  // only GET and HEAD reach the files

  for (const char* target : {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt",
                             "/assets/%2e%2e/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt",
                             "/..%5csecret.txt", "/data/remhart.toml", "/../data/remhart.toml",
                             "/assets/%00../../secret.txt", "/....//secret.txt", "//secret.txt"}) {
    const auto r = http.get(target);
    EXPECT_EQ(r.body.find("TOPSECRET"), std::string::npos) << target;
    EXPECT_TRUE(r.status == 404 || r.status == 400 || r.body == index.body)
        << target << " " << r.status;
  }
  // Raw request lines, not normalised by the client.
  const auto raw =
      http.raw("GET /../../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.find("TOPSECRET"), std::string::npos) << raw.substr(0, 200);
}

// A binary with no dashboard beside it (copied alone) serves the API and says how to get one.
TEST(Web, WithoutABuiltDashboardTheRootSaysHowToBuildIt) {
  TempDir dir;
  const fs::path bin = fs::path(dir.path()) / "bin" / "remhart";
  fs::create_directories(bin.parent_path());
  fs::copy_file(remhart_binary(), bin);
  ServerProcess proc(bin.string(), dir.path() + "/data", {"--no-demo"},
                     {{"REMHART_SHARE_DIR", std::string(REMHART_SOURCE_DIR) + "/share"}});
  HttpClient http(proc.port());
  EXPECT_EQ(http.get("/health").status, 200);
  const auto r = http.get("/");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("make web"), std::string::npos) << r.body;
}

TEST(Web, AWebDirWithoutIndexIsAStartupErrorNamingTheSetting) {
  TempDir dir;
  const auto r = run_cli("serve --port 0 --no-demo --data-dir " + dir.path() + "/data",
                         {{"REMHART_SERVER_WEB_DIR", dir.path()}});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("server.web_dir"), std::string::npos) << r.output;
}
