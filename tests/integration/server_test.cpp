// Integration tests: the real remhart binary on port 0 with a temp data dir, over HTTP and
// WebSocket.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "testkit.hpp"

using namespace remhart::testkit;
using nlohmann::json;

namespace {

constexpr long long kT0Ms = 1'764'324'000'000;  // 2025-11-28T10:00:00Z

std::string sample(const std::string& device, long long ts_ms, double v = 230.0) {
  return json{{"device", device},
              {"ts", ts_ms},
              {"v", {v, v + 1, v - 1}},
              {"i", {10, 11, 12}},
              {"p", {2000, 2100, 2200}},
              {"q", {500, 600, 700}},
              {"f", 50.01}}
      .dump();
}

std::string batch(const std::string& device, int from, int count) {
  std::string out = "[";
  for (int k = 0; k < count; ++k) {
    if (k) out += ",";
    out += sample(device, kT0Ms + (from + k) * 1000LL, 230 + k * 0.01);
  }
  return out + "]";
}

struct Server : ::testing::Test {
  TempDir dir;
  std::unique_ptr<ServerProcess> proc;
  std::unique_ptr<HttpClient> http;
  const std::string admin_password = random_password();  // kept across restarts of the dir

  void SetUp() override { start({"--no-demo"}); }
  void start(std::vector<std::string> args) {
    proc = std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data", args,
        std::map<std::string, std::string>{{"REMHART_ADMIN_PASSWORD", admin_password}});
    http = admin_client(*proc);
    for (const char* id : {"m1", "m2", "m3"}) {
      const auto r = http->post("/api/grid/devices",
                                json{{"id", id}, {"site", std::string("s-") + id}}.dump());
      ASSERT_TRUE(r.status == 201 || r.status == 409) << r.body;
    }
  }
  void restart() {
    proc->restart();
    http = admin_client(*proc);
  }
  std::string token() { return login(proc->port(), "admin", proc->admin_password()); }
  json get_json(const std::string& target, int status = 200) {
    const auto r = http->get(target);
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    return json::parse(r.body);
  }
};

}  // namespace

TEST_F(Server, IngestThenReadBackThroughAllThreeQueries) {
  auto r = http->post("/api/grid/ingest", batch("m1", 0, 120));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.headers["x-request-id"].empty());
  auto reply = json::parse(r.body);
  EXPECT_EQ(reply["accepted"], 120);
  EXPECT_EQ(reply["duplicates"], 0);
  EXPECT_TRUE(reply["rejected"].empty());

  auto latest = get_json("/api/grid/latest?device=m1");
  EXPECT_EQ(latest["ts"], "2025-11-28T10:01:59.000000Z");
  EXPECT_EQ(latest["origin"], "real");
  EXPECT_NEAR(latest["p_total"].get<double>(), 6300, 1e-9);
  EXPECT_NEAR(latest["v_avg"].get<double>(), 230 + 119 * 0.01, 1e-9);
  EXPECT_EQ(get_json("/api/grid/latest")["items"].size(), 1u);
  get_json("/api/grid/latest?device=m2", 404);

  auto data = get_json("/api/grid/data?device=m1&limit=50");
  ASSERT_EQ(data["items"].size(), 50u);
  EXPECT_EQ(data["items"][0]["ts"], "2025-11-28T10:01:59.000000Z");
  std::size_t total = 50;
  while (!data["next"].is_null()) {
    data = get_json("/api/grid/data?device=m1&limit=50&cursor=" + data["next"].get<std::string>());
    total += data["items"].size();
  }
  EXPECT_EQ(total, 120u);
  data = get_json("/api/grid/data?device=m1&order=asc&from=" + std::to_string(kT0Ms + 10000) +
                  "&to=2025-11-28T10:00:20Z");
  ASSERT_EQ(data["items"].size(), 10u);
  EXPECT_EQ(data["items"][0]["ts"], "2025-11-28T10:00:10.000000Z");

  auto series = get_json(
      "/api/grid/series?device=m1&from=2025-11-28T10:00:00Z&to=2025-11-28T10:02:00Z"
      "&step=1m&agg=max&fields=va,p_total");
  EXPECT_EQ(series["step"], 60);
  EXPECT_EQ(series["fields"], json::array({"va", "p_total"}));
  ASSERT_EQ(series["points"].size(), 2u);
  EXPECT_EQ(series["points"][0][0], "2025-11-28T10:00:00.000000Z");
  EXPECT_NEAR(series["points"][0][1].get<double>(), 230 + 59 * 0.01, 1e-9);
  EXPECT_NEAR(series["points"][1][2].get<double>(), 6300, 1e-9);

  get_json("/api/grid/series?device=m1&step=0", 400);
  get_json("/api/grid/series?device=m1&agg=median", 400);
  get_json("/api/grid/series?device=m1&fields=volts", 400);
  get_json("/api/grid/data?device=m1&from=yesterday", 400);
  get_json("/api/grid/data?device=m1&origin=fake", 400);
  get_json("/api/grid/data?device=m1&limit=0", 400);
  get_json("/api/grid/data", 400);
}

TEST_F(Server, DuplicateBatchesAreIdempotent) {
  const auto body = batch("m1", 0, 10);
  ASSERT_EQ(json::parse(http->post("/api/grid/ingest", body).body)["accepted"], 10);
  const auto again = json::parse(http->post("/api/grid/ingest", body).body);
  EXPECT_EQ(again["accepted"], 0);
  EXPECT_EQ(again["duplicates"], 10);
  EXPECT_EQ(get_json("/api/grid/data?device=m1")["items"].size(), 10u);
}

TEST_F(Server, PartlyBadBatchKeepsTheGoodItemsAndAtomicKeepsNone) {
  std::string body = "[" + sample("m1", kT0Ms) + "," + sample("nobody", kT0Ms) + "," +
                     sample("m1", kT0Ms + 1000, 999) + "," + sample("m1", kT0Ms + 2000) + "]";
  auto r = http->post("/api/grid/ingest?atomic=true", body);
  EXPECT_EQ(r.status, 422);
  auto reply = json::parse(r.body);
  EXPECT_EQ(reply["accepted"], 0);
  ASSERT_EQ(reply["rejected"].size(), 2u);
  EXPECT_EQ(get_json("/api/grid/data?device=m1")["items"].size(), 0u);

  r = http->post("/api/grid/ingest", body);
  ASSERT_EQ(r.status, 200);
  reply = json::parse(r.body);
  EXPECT_EQ(reply["accepted"], 2);
  ASSERT_EQ(reply["rejected"].size(), 2u);
  EXPECT_EQ(reply["rejected"][0]["index"], 1);
  EXPECT_EQ(reply["rejected"][0]["field"], "device");
  EXPECT_EQ(reply["rejected"][1]["index"], 2);
  EXPECT_EQ(reply["rejected"][1]["field"], "v[0]");
  EXPECT_EQ(get_json("/api/grid/data?device=m1")["items"].size(), 2u);
}

TEST_F(Server, CsvNdjsonAndTheOriginalSinglePointShape) {
  const std::string csv =
      "device,ts,va,vb,vc,ia,ib,ic,pa,pb,pc,qa,qb,qc,f\n"
      "m2,2025-11-28T10:00:00Z,230,231,229,10,11,12,2000,2100,2200,500,600,700,50\n"
      "m2,2025-11-28T10:00:01Z,230,x,229,10,11,12,2000,2100,2200,500,600,700,50\n";
  auto r = http->post("/api/grid/ingest", csv, "text/csv");
  ASSERT_EQ(r.status, 200) << r.body;
  auto reply = json::parse(r.body);
  EXPECT_EQ(reply["accepted"], 1);
  EXPECT_EQ(reply["rejected"][0]["line"], 3);
  EXPECT_EQ(reply["rejected"][0]["field"], "v[1]");

  r = http->post("/api/grid/ingest", sample("m2", kT0Ms + 5000) + "\n" + sample("m2", kT0Ms + 6000),
                 "application/x-ndjson");
  EXPECT_EQ(json::parse(r.body)["accepted"], 2);
  EXPECT_EQ(http->post("/api/grid/ingest", "<xml/>", "application/xml").status, 400);
  EXPECT_EQ(http->post("/api/grid/ingest", "[{", "application/json").status, 400);

  const std::string point =
      R"({"timestamp":"2025-11-28T10:00:09Z","voltage":{"phaseA":230,"phaseB":231,"phaseC":229,"average":1},)"
      R"("current":{"phaseA":10,"phaseB":11,"phaseC":12},"frequency":{"frequency_value":50.02},)"
      R"("active_power":{"phaseA":2000,"phaseB":2100,"phaseC":2200,"total":5},)"
      R"("reactive_power":{"phaseA":500,"phaseB":600,"phaseC":700}})";
  r = http->post("/api/grid/data?device=m2", point);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body)["p_total"], 6300.0);  // recomputed, not the sent 5
  EXPECT_EQ(http->post("/api/grid/data?device=m2", point).status, 200);  // duplicate
  std::string bad = point;
  bad.replace(bad.find("\"phaseB\":231"), 12, "\"phaseB\":999");
  r = http->post("/api/grid/data?device=m2", bad);
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(json::parse(r.body)["field"], "voltage.phaseB");
}

TEST_F(Server, DeviceRegistry) {
  auto r = http->post(
      "/api/grid/devices",
      R"({"id":"m9","kind":"pmu","nominal_voltage":6350,"nominal_frequency":60,"location":{"lat":1,"lon":2},"tags":["x"]})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(http->post("/api/grid/devices", R"({"id":"m9"})").status, 409);
  EXPECT_EQ(http->post("/api/grid/devices", R"({"id":"bad id"})").status, 422);
  EXPECT_EQ(http->post("/api/grid/devices", R"({"id":"m8","nominal_frequency":55})").status, 422);
  EXPECT_EQ(http->post("/api/grid/devices", R"({"id":"m8","kind":"toaster"})").status, 422);
  EXPECT_EQ(http->post("/api/grid/devices", R"({"id":)").status, 400);
  auto d = get_json("/api/grid/devices/m9");
  EXPECT_EQ(d["kind"], "pmu");
  EXPECT_EQ(d["location"]["lon"], 2.0);
  r = http->request("PUT", "/api/grid/devices/m9",
                    R"({"name":"Feeder PMU","nominal_voltage":6350})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(get_json("/api/grid/devices/m9")["name"], "Feeder PMU");
  EXPECT_EQ(http->request("PUT", "/api/grid/devices/zz", R"({})").status, 404);
  EXPECT_EQ(get_json("/api/grid/devices")["items"].size(), 4u);
  EXPECT_EQ(http->request("DELETE", "/api/grid/devices/m9").status, 204);
  get_json("/api/grid/devices/m9", 404);
  EXPECT_EQ(http->request("DELETE", "/api/grid/devices/m9").status, 404);
}

TEST_F(Server, AcknowledgedSamplesSurviveKillMinus9) {
  for (int b = 0; b < 20; ++b) {
    const auto r = http->post("/api/grid/ingest", batch("m1", b * 500, 500));
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(json::parse(r.body)["accepted"], 500);
  }
  proc->kill9();
  restart();
  EXPECT_EQ(get_json("/api/grid/data?device=m1&limit=10000")["items"].size(), 10000u);
  EXPECT_EQ(get_json("/api/grid/latest?device=m1")["ts"], "2025-11-28T12:46:39.000000Z");
  const auto series = get_json(
      "/api/grid/series?device=m1&from=2025-11-28T10:00:00Z"
      "&to=2025-11-28T14:00:00Z&step=1d&fields=va&agg=avg");
  ASSERT_EQ(series["points"].size(), 1u);
  EXPECT_NEAR(series["points"][0][1].get<double>(), 230 + 0.01 * 499 / 2, 1e-9);  // mean of va
}

TEST_F(Server, FsyncDurabilityAlsoKeepsAcknowledgedSamples) {
  proc->kill9();
  proc.reset();
  start({"--no-demo", "--durability", "fsync"});
  for (int b = 0; b < 5; ++b) {
    const auto r = http->post("/api/grid/ingest", batch("m2", b * 200, 200));
    ASSERT_EQ(json::parse(r.body)["accepted"], 200);
  }
  restart();  // kill -9, then start again on the same data directory
  EXPECT_EQ(get_json("/api/grid/data?device=m2&limit=10000")["items"].size(), 1000u);
}

TEST_F(Server, GracefulShutdownThenRestartKeepsEverything) {
  ASSERT_EQ(http->post("/api/grid/ingest", batch("m1", 0, 100)).status, 200);
  EXPECT_EQ(proc->terminate(), 0);
  EXPECT_NE(proc->output().find("stopping"), std::string::npos);
  restart();
  EXPECT_EQ(get_json("/api/grid/data?device=m1&limit=1000")["items"].size(), 100u);
}

TEST_F(Server, WebSocketSnapshotAndOnlySubscribedDevices) {
  ASSERT_EQ(
      http->post("/api/grid/ingest", "[" + sample("m1", kT0Ms) + "," + sample("m2", kT0Ms) + "]")
          .status,
      200);
  WsClient ws(proc->port(), "/ws/grid-data?token=" + token());
  auto first = ws.read(std::chrono::seconds(10));
  ASSERT_TRUE(first);
  auto snap = json::parse(*first);
  EXPECT_EQ(snap["type"], "snapshot");
  EXPECT_EQ(snap["data"].size(), 2u);

  ws.send(R"({"type":"subscribe","devices":["m2"]})");
  auto second = ws.read(std::chrono::seconds(10));
  ASSERT_TRUE(second);
  snap = json::parse(*second);
  EXPECT_EQ(snap["type"], "snapshot");
  ASSERT_EQ(snap["data"].size(), 1u);
  EXPECT_EQ(snap["data"][0]["device"], "m2");

  ASSERT_EQ(http->post("/api/grid/ingest", "[" + sample("m1", kT0Ms + 1000) + "," +
                                               sample("m3", kT0Ms + 1000) + "," +
                                               sample("m2", kT0Ms + 1000) + "]")
                .status,
            200);
  auto live = ws.read(std::chrono::seconds(10));
  ASSERT_TRUE(live);
  auto msg = json::parse(*live);
  EXPECT_EQ(msg["type"], "measurement");
  EXPECT_EQ(msg["data"]["device"], "m2");
  EXPECT_EQ(msg["data"]["ts"], "2025-11-28T10:00:01.000000Z");
  // Nothing else arrives: m1 and m3 are not subscribed.
  EXPECT_FALSE(ws.read(std::chrono::milliseconds(500)));

  ws.send(R"({"type":"subscribe","devices":7})");
  auto err = ws.read(std::chrono::seconds(10));
  ASSERT_TRUE(err);
  EXPECT_EQ(json::parse(*err)["type"], "error");
}

TEST_F(Server, WebSocketRateCapCoalescesToTheNewest) {
  WsClient ws(proc->port(), "/ws/grid-data?token=" + token());
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // snapshot
  ws.send(R"({"type":"subscribe","devices":["m1"],"max_rate_hz":1})");
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // snapshot of the new subscription
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < 10; ++k) {
    ASSERT_EQ(http->post("/api/grid/ingest", "[" + sample("m1", kT0Ms + k * 1000) + "]").status,
              200);
  }
  const double posting_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<json> got;
  while (auto m = ws.read(std::chrono::milliseconds(2500))) got.push_back(json::parse(*m));
  // At most one message a second: ten samples posted over `posting_s` seconds arrive as at most
  // one per second begun plus the newest, and the newest always arrives. (The exact timing is
  // Outbox.RateCapCoalescesToTheNewestPerDevice, with an injected clock; a loaded machine only
  // stretches the posting here.)
  ASSERT_GE(got.size(), 1u);
  EXPECT_LE(got.size(), static_cast<std::size_t>(posting_s) + 2) << posting_s << " s";
  EXPECT_EQ(got.back()["data"]["ts"], "2025-11-28T10:00:09.000000Z");
}

TEST_F(Server, OversizedBodyIs413) {
  const std::string big(17 * 1024 * 1024, ' ');
  const auto r = http->post("/api/grid/ingest", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json::parse(r.body)["error"], "too_large");
  std::string many = "[";
  for (int k = 0; k < 10001; ++k) many += (k ? "," : "") + sample("m1", kT0Ms + k);
  EXPECT_EQ(http->post("/api/grid/ingest", many + "]").status, 413);
  EXPECT_EQ(get_json("/health")["status"], "ok");
}

TEST_F(Server, StaysHealthyAfterAThousandMalformedRequests) {
  const std::vector<std::string> garbage = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "POST /api/grid/ingest HTTP/1.1\r\nContent-Length: 5\r\n\r\n{",
      "POST /api/grid/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "GET /api/grid/data?device=%ZZ&from=-1 HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n",
      std::string("\x00\x01\x02\xff", 4),
  };
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"application/json", "[{\"device\":\"m1\",\"ts\":"},
      {"application/json", "{\"v\":[1,2,3]}"},
      {"application/json", "[1,2,3]"},
      {"application/json", std::string(5000, '[')},
      {"application/x-ndjson", "{}\n{]\n"},
      {"text/csv", "a,b\n1,2\n"},
      {"application/json", "[{\"device\":\"m1\",\"ts\":1e400}]"},
  };
  for (int k = 0; k < 1000; ++k) {
    if (k % 2 == 0) {
      http->raw(garbage[static_cast<std::size_t>(k / 2) % garbage.size()], std::chrono::seconds(2));
    } else {
      const auto& [ct, body] = bodies[static_cast<std::size_t>(k / 2) % bodies.size()];
      const auto r = http->post("/api/grid/ingest", body, ct);
      ASSERT_TRUE(r.status == 400 || r.status == 200) << r.status << " " << body;
      if (r.status == 400) {
        const auto j = json::parse(r.body);
        EXPECT_EQ(j["error"], "bad_request");
        EXPECT_TRUE(j.contains("request_id"));
      }
    }
  }
  EXPECT_EQ(get_json("/health")["status"], "ok");
  EXPECT_EQ(http->post("/api/grid/ingest", batch("m1", 0, 3)).status, 200);
}

TEST_F(Server, OperationsEndpoints) {
  EXPECT_EQ(get_json("/ready")["status"], "ready");
  const auto h = get_json("/health");
  EXPECT_EQ(h["database"], "ok");
  EXPECT_EQ(h["version"], "0.1.0");
  ASSERT_EQ(http->post("/api/grid/ingest", batch("m1", 0, 5)).status, 200);
  const auto m = http->get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("remhart_ingest_samples_total{outcome=\"accepted\"} 5"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("remhart_http_request_duration_seconds_bucket{route=\"/api/grid/ingest\""),
            std::string::npos);
  EXPECT_NE(m.body.find("remhart_store_commit_seconds_count"), std::string::npos);
  EXPECT_NE(m.body.find("remhart_ws_connections"), std::string::npos);
  EXPECT_EQ(http->get("/api/nowhere").status, 404);  // (other paths are the dashboard's)
  EXPECT_EQ(http->get("/nowhere.txt").status, 404);
  const auto head = http->request("HEAD", "/health");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_GT(std::stoul(head.headers.at("content-length")), 0u);
  EXPECT_EQ(get_json("/ready")["status"], "ready");  // the connection is still in sync
  EXPECT_EQ(http->request("DELETE", "/health").status, 405);
}

TEST(Cli, VersionConfigCheckAndUsageErrors) {
  auto run = [](const std::string& args) { return run_cli(args).status; };
  EXPECT_EQ(run("version"), 0);
  EXPECT_EQ(run("--help"), 0);
  EXPECT_EQ(run("config check"), 0);
  EXPECT_EQ(run("bogus"), 2);
  EXPECT_EQ(run(""), 2);
  EXPECT_EQ(run("serve --port nope"), 2);
  EXPECT_EQ(run("config check --config /nonexistent.toml"), 2);
  EXPECT_EQ(run_cli("config check", {{"REMHART_SERVER_PORT", "99999"}}).status, 2);
}

// Found by attack: a full disk answered 500 "internal" with SQLite's text, /health said
// "database ok" without a query, and nothing was logged. Now: 503 + Retry-After, /ready 503 with
// the reason, /health 200 with the storage state, and everything accepted before and after kept.
TEST(DiskFull, IngestIs503WithRetryAfterAndReadySaysWhy) {
  SmallDisk disk(24);
  if (!disk.mounted()) GTEST_SKIP() << "mounting a tmpfs needs root";
  ServerProcess proc(remhart_binary(), disk.path() + "/data", {"--no-demo"});
  auto http = admin_client(proc);
  for (const char* id : {"newA", "newB", "old"}) {
    ASSERT_EQ(http->post("/api/grid/devices", json{{"id", id}}.dump()).status, 201);
  }
  ASSERT_EQ(http->post("/api/grid/ingest", batch("old", 0, 100)).status, 200);
  disk.fill();
  HttpResult r;
  int attempt = 0;
  for (; attempt < 200; ++attempt) {
    r = http->post("/api/grid/ingest", batch("newA", attempt * 2000, 2000));
    if (r.status != 200) break;
  }
  ASSERT_EQ(r.status, 503) << r.body;
  EXPECT_FALSE(r.headers["retry-after"].empty());
  EXPECT_EQ(r.body.find("SQLITE"), std::string::npos);
  EXPECT_EQ(r.body.find("database or disk"), std::string::npos);
  const auto ready = http->get("/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("disk is full"), std::string::npos) << ready.body;
  const auto health = http->get("/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body)["status"], "degraded") << health.body;
  EXPECT_NE(http->get("/metrics").body.find("remhart_store_errors_total{op=\"commit\"}"),
            std::string::npos);
  EXPECT_NE(proc.output().find("storage commit failed"), std::string::npos);
  // Self-monitoring: the file system's state and the shipped alerts' thresholds.
  const auto metrics = http->get("/metrics").body;
  EXPECT_NE(metrics.find("remhart_disk_free_bytes "), std::string::npos);
  EXPECT_NE(metrics.find("remhart_alert_threshold{alert=\"disk_used_ratio\"} 0.85"),
            std::string::npos);
  EXPECT_NE(metrics.find("remhart_ingest_lag_seconds "), std::string::npos);

  disk.free_space();
  EXPECT_EQ(http->post("/api/grid/ingest", batch("newB", 0, 50)).status, 200);
  EXPECT_EQ(http->post("/api/grid/ingest", batch("newA", attempt * 2000, 50)).status, 200);
  const auto ready_again = http->get("/ready");
  EXPECT_EQ(ready_again.status, 200);
  // 24 MiB with a few used: above the alert's 85 %? Then it is named, still serving.
  const auto text = http->get("/metrics").body;
  const auto at = text.find("\nremhart_disk_used_ratio ");
  ASSERT_NE(at, std::string::npos);
  const double used = std::stod(text.substr(at + 25));
  EXPECT_EQ(json::parse(ready_again.body)["degraded"].dump().find("disk") != std::string::npos,
            used > 0.85)
      << ready_again.body << " used " << used;
  EXPECT_EQ(json::parse(http->get("/health").body)["status"], "ok");
  // The retried batch, the other new device and the data from before: each its own, exactly.
  const long long retried_from = kT0Ms + attempt * 2000LL * 1000;
  const std::string retried =
      "/api/grid/data?device=newA&limit=10000&from=" + std::to_string(retried_from) +
      "&to=" + std::to_string(retried_from + 50'000);
  auto count = [](HttpClient& c, const std::string& target) {
    const auto d = c.get(target);
    EXPECT_EQ(d.status, 200) << d.body;
    return json::parse(d.body)["items"].size();
  };
  for (int round = 0; round < 2; ++round) {
    auto c = admin_client(proc);
    EXPECT_EQ(count(*c, retried), 50u) << round;
    EXPECT_EQ(count(*c, "/api/grid/data?device=newB&limit=10000"), 50u) << round;
    EXPECT_EQ(count(*c, "/api/grid/data?device=old&limit=10000"), 100u) << round;
    if (round == 0) {
      proc.terminate();
      proc.restart();
    }
  }
}
