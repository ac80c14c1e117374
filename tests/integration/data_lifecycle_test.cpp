// The data lifecycle end to end with the real binary: old samples archived by the retention job
// and exported together with the hot ones; a backup taken while the server ingests, restored into
// a fresh data directory (and database) and compared; malformed arguments and backup files.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "shared_data.hpp"
#include "testkit.hpp"

namespace remhart::testkit {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr long long kDayMs = 86'400'000;

std::string batch(const std::string& device, long long from_ms, int n, long long step_ms,
                  double v = 230.0) {
  std::string out = "[";
  for (int k = 0; k < n; ++k) {
    if (k) out += ",";
    out += sample_json(device, from_ms + k * step_ms, v + k * 0.01);
  }
  return out + "]";
}

// Every stored sample of a device as (ts, va) over the API, paging.
std::vector<std::pair<std::string, double>> all_samples(HttpClient& http,
                                                        const std::string& device) {
  std::vector<std::pair<std::string, double>> out;
  std::string to;
  for (;;) {
    const auto r = http.get("/api/grid/data?device=" + device + "&limit=1000" +
                            (to.empty() ? "" : "&to=" + to));
    const auto items = json::parse(r.body)["items"];
    for (const auto& s : items)
      out.emplace_back(s["ts"].get<std::string>(), s["v"][0].get<double>());
    if (items.size() < 1000) break;
    to = items.back()["ts"].get<std::string>();
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST(DataLifecycle, OldSamplesAreArchivedAndExportReadsArchiveAndHotStoreAlike) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const long long now = now_ms();
  {
    ServerProcess server(remhart_binary(), data, {"--no-demo"},
                         {{"REMHART_ANALYTICS_ENABLED", "false"},
                          {"REMHART_RETENTION_REAL_DAYS", "2"},
                          {"REMHART_RETENTION_INTERVAL_S", "10"}});
    auto http = admin_client(server);
    ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m1"})").status, 201);
    ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m2"})").status, 201);
    // Four days ago (archived: two days' retention, whole days) and the last hour (kept).
    ASSERT_EQ(http->post("/api/grid/ingest", batch("m1", now - 4 * kDayMs, 100, 60'000)).status,
              200);
    ASSERT_EQ(http->post("/api/grid/ingest", batch("m2", now - 5 * kDayMs, 50, 60'000)).status,
              200);
    ASSERT_EQ(http->post("/api/grid/ingest", batch("m1", now - 3'600'000, 30, 60'000)).status, 200);
    ASSERT_TRUE(eventually([&] { return metric(*http, "remhart_archive_samples_total") == 150; }))
        << metric(*http, "remhart_archive_samples_total") << "\n"
        << server.output();
    EXPECT_EQ(all_samples(*http, "m1").size(), 30u);  // the hot store keeps the recent ones
    EXPECT_EQ(all_samples(*http, "m2").size(), 0u);
    // Sent again after it was archived: stored anew, exported once.
    ASSERT_EQ(
        http->post("/api/grid/ingest", "[" + sample_json("m1", now - 4 * kDayMs) + "]").status,
        200);
    ASSERT_EQ(server.terminate(), 0);
  }
  EXPECT_FALSE(fs::is_empty(data + "/objects/archive/real/m1"));

  const std::string range =
      " --from " + std::to_string(now - 6 * kDayMs) + " --to " + std::to_string(now + 1);
  const auto csv = dir.path() + "/all.csv";
  auto r = run_cli("export --data-dir " + data + range + " --output " + csv);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("exported 180 samples of 2 device(s)"), std::string::npos) << r.output;
  const auto rows = lines_of(csv);
  ASSERT_EQ(rows.size(), 181u);
  EXPECT_EQ(rows[0].substr(0, 24), "device,ts,va,vb,vc,ia,ib");
  std::set<std::string> keys;
  for (std::size_t k = 1; k < rows.size(); ++k)
    keys.insert(rows[k].substr(0, rows[k].find(',', 3)));
  EXPECT_EQ(keys.size(), 180u);  // each sample once

  // One device as NDJSON, the API's sample objects, in time order.
  const auto nd = dir.path() + "/m2.ndjson";
  r = run_cli("export --data-dir " + data + range + " --device m2 --format ndjson --output " + nd);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto objs = lines_of(nd);
  ASSERT_EQ(objs.size(), 50u);
  EXPECT_EQ(json::parse(objs.front())["device"], "m2");
  EXPECT_DOUBLE_EQ(json::parse(objs[1])["v"][0].get<double>(), 230.01);
  EXPECT_LT(json::parse(objs[0])["ts"].get<std::string>(),
            json::parse(objs[1])["ts"].get<std::string>());

  // The export is the import format: a fresh server takes it back whole.
  TempDir again;
  ServerProcess fresh(
      remhart_binary(), again.path() + "/data", {"--no-demo"},
      {{"REMHART_ANALYTICS_ENABLED", "false"}, {"REMHART_INGEST_AUTO_REGISTER", "true"}});
  auto http = admin_client(fresh);
  std::ifstream in(csv);
  std::stringstream body;
  body << in.rdbuf();
  const auto imported = http->post("/api/grid/ingest", body.str(), "text/csv");
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_EQ(json::parse(imported.body)["accepted"], 180);
}

TEST(DataLifecycle, ExportRefusesBadArgumentsAndARunningServersDataDirectory) {
  TempDir dir;
  const std::string data = " --data-dir " + dir.path() + "/data";
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"export --from yesterday --to 1", "--from"},
           {"export --from 10 --to 5", "--to must be after --from"},
           {"export --from 1 --to 5 --format xml", "--format"},
           {"export --from 1 --to 5 --origin other", "--origin"},
           {"export --from 1 --to 5 --device 'a b'", "--device"}}) {
    const auto r = run_cli(args + data);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << "\n" << r.output;
  }
  ServerProcess server(remhart_binary(), dir.path() + "/data", {"--no-demo"},
                       {{"REMHART_ANALYTICS_ENABLED", "false"}});
  const auto r = run_cli("export --from 1 --to 5" + data);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("another remhart process"), std::string::npos) << r.output;
}

// A backup taken while samples keep arriving is consistent; restored into a fresh data
// directory it brings back every sample it had, the accounts and the token keys (a token issued
// before the backup is still valid).
TEST(DataLifecycle, BackupWhileIngestingThenRestoreIntoAFreshDataDirectory) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const long long t0 = now_ms() - kDayMs;
  std::string token, password;
  const auto file = dir.path() + "/backup.tar";
  std::size_t before_backup = 0;
  {
    ServerProcess server(remhart_binary(), data, {"--no-demo"},
                         {{"REMHART_ANALYTICS_ENABLED", "false"}});
    password = server.admin_password();
    token = login(server.port(), "admin", password);
    auto http = admin_client(server);
    ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m1"})").status, 201);
    ASSERT_EQ(http->post("/api/grid/ingest", batch("m1", t0, 500, 1000)).status, 200);
    before_backup = all_samples(*http, "m1").size();
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      HttpClient w(server.port());
      w.set_header("Authorization", "Bearer " + token);
      for (int k = 1; !stop; ++k)
        w.post("/api/grid/ingest", batch("m1", t0 + k * 500'000, 100, 1000));
    });
    const auto r = run_cli("backup " + file + " --data-dir " + data);
    stop = true;
    writer.join();
    ASSERT_EQ(r.status, 0) << r.output;
  }
  const auto listing = run_command("tar tf " + file);
  EXPECT_NE(listing.output.find("remhart-backup.json"), std::string::npos) << listing.output;
  EXPECT_NE(listing.output.find("remhart.db"), std::string::npos);
  EXPECT_NE(listing.output.find("jwt-keys.json"), std::string::npos);

  TempDir target;
  const std::string restored = target.path() + "/data";
  auto r = run_cli("restore " + file + " --data-dir " + restored);
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_cli("restore " + file + " --data-dir " + restored);  // not over a database
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  ServerProcess server(remhart_binary(), restored, {"--no-demo"},
                       {{"REMHART_ANALYTICS_ENABLED", "false"}});
  HttpClient http(server.port());
  http.set_header("Authorization", "Bearer " + token);  // issued before the backup
  const auto samples = all_samples(http, "m1");
  EXPECT_GE(samples.size(), before_backup);
  EXPECT_EQ(samples.size() % 100, 0u);  // whole batches only: a consistent copy
  EXPECT_FALSE(login(server.port(), "admin", password).empty());
}

TEST(DataLifecycle, RestoreRefusesMalformedBackupFiles) {
  TempDir dir;
  const std::string data = " --data-dir " + dir.path() + "/data";
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir.path() + "/" + name, std::ios::binary) << bytes;
    return dir.path() + "/" + name;
  };
  // Not a tar at all; cut short; a tar that is not a backup; a name leaving the directory.
  auto r = run_cli("restore " + write("junk.tar", std::string(1024, 'x')) + data);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("tar:"), std::string::npos) << r.output;
  TempDir src;
  std::ofstream(src.path() + "/hello.txt") << "hi";
  ASSERT_EQ(
      run_command("tar cf " + dir.path() + "/plain.tar -C " + src.path() + " hello.txt").status, 0);
  r = run_cli("restore " + dir.path() + "/plain.tar" + data);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("not a remhart backup"), std::string::npos) << r.output;
  ASSERT_EQ(
      run_command("tar cf " + dir.path() + "/escape.tar -P " + src.path() + "/hello.txt").status,
      0);
  r = run_cli("restore " + dir.path() + "/escape.tar" + data);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("absolute"), std::string::npos) << r.output;
  const auto whole = run_command("cat " + dir.path() + "/plain.tar");
  r = run_cli("restore " + write("cut.tar", whole.output.substr(0, 700)) + data);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("tar:"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() + "/data/hello.txt"));
  r = run_cli("restore " + dir.path() + "/none.tar" + data);
  EXPECT_EQ(r.status, 2);
}

// With MariaDB the backup holds a dump of the database (taken in one transaction) and restore
// loads it into the configured database.
TEST(DataLifecycle, MariadbBackupAndRestoreIntoAnotherDatabase) {
  if (!MariadbServer::available()) {
    if (running_in_ci()) FAIL() << "mariadb-server is missing (CI): scripts/bootstrap installs it";
    GTEST_SKIP() << "mariadb-server is not installed (scripts/bootstrap)";
  }
  MariadbServer db;
  const auto first = db.create_database();
  TempDir dir;
  const auto file = dir.path() + "/backup.tar";
  std::vector<std::pair<std::string, double>> before;
  std::string password;
  {
    ServerProcess server(remhart_binary(), dir.path() + "/data",
                         {"--no-demo", "--database-url", first},
                         {{"REMHART_ANALYTICS_ENABLED", "false"}});
    password = server.admin_password();
    auto http = admin_client(server);
    ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m1"})").status, 201);
    ASSERT_EQ(http->post("/api/grid/ingest", batch("m1", now_ms() - kDayMs, 300, 1000)).status,
              200);
    before = all_samples(*http, "m1");
    const auto r = run_cli("backup " + file + " --data-dir " + dir.path() + "/data",
                           {{"REMHART_STORAGE_DATABASE_URL", first}});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_NE(run_command("tar tf " + file).output.find("mariadb.sql"), std::string::npos);
  const auto second = db.create_database();
  TempDir target;
  const auto r = run_cli("restore " + file + " --data-dir " + target.path() + "/data",
                         {{"REMHART_STORAGE_DATABASE_URL", second}});
  ASSERT_EQ(r.status, 0) << r.output;
  ServerProcess server(remhart_binary(), target.path() + "/data",
                       {"--no-demo", "--database-url", second},
                       {{"REMHART_ANALYTICS_ENABLED", "false"}});
  HttpClient http(server.port());
  http.set_header("Authorization", "Bearer " + login(server.port(), "admin", password));
  EXPECT_EQ(all_samples(http, "m1"), before);
  // Not over a database that has measurements, unless forced.
  const auto again = run_cli("restore " + file + " --data-dir " + dir.path() + "/other",
                             {{"REMHART_STORAGE_DATABASE_URL", second}});
  EXPECT_EQ(again.status, 2) << again.output;
}

}  // namespace remhart::testkit
