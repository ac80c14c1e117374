// Two replicas on one MariaDB database with Redis between them: a token from A works on B and a
// logout on A ends it on B; a WebSocket client on replica B receives what replica A stored; while
// Redis is away both keep serving (each streams its own samples, /ready says "degraded":
// ["redis"]), and the fan-out resumes when it is back.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <future>
#include <iomanip>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "shared_data.hpp"
#include "testkit.hpp"

namespace remhart::testkit {
namespace {

using nlohmann::json;

// The next "measurement" message of the stream (snapshots and others skipped).
std::optional<json> next_measurement(WsClient& ws, std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto text = ws.read(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!text) return std::nullopt;
    auto m = json::parse(*text);
    if (m["type"] == "measurement") return m;
  }
  return std::nullopt;
}

// "2026-11-30T08:00:01.000000Z" → Unix milliseconds.
// Whether the replica leads a periodic job now (its lease metric).
bool leads(ServerProcess& p, const std::string& job) {
  HttpClient http(p.port());
  return http.get("/metrics").body.find("remhart_leader{job=\"" + job + "\"} 1") !=
         std::string::npos;
}

long long ms_of(const std::string& rfc3339) {
  std::tm tm{};
  std::istringstream in(rfc3339.substr(0, 19));
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  return static_cast<long long>(timegm(&tm)) * 1000 + std::stoll(rfc3339.substr(20, 6)) / 1000;
}

}  // namespace

TEST(ScaleOut, ReplicasShareAccountsAndLiveSamplesAndRedisIsOptional) {
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  REQUIRE_SERVICE(RedisServer, "redis-server");
  MariadbServer db;
  RedisServer redis;
  const auto url = db.create_database();
  TempDir a_dir, b_dir;
  // One first admin for the whole deployment; no signing secret configured: the replicas share
  // the keys generated into the database.
  const std::string password = random_password();
  auto replica = [&](const TempDir& dir) {
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data",
        std::vector<std::string>{"--no-demo", "--database-url", url},
        std::map<std::string, std::string>{{"REMHART_ANALYTICS_ENABLED", "false"},
                                           {"REMHART_REDIS_URL", redis.url()},
                                           {"REMHART_ADMIN_PASSWORD", password}});
  };
  auto a = replica(a_dir);
  auto b = replica(b_dir);
  auto http_a = admin_client(*a);
  auto http_b = admin_client(*b);
  ASSERT_EQ(http_a->post("/api/grid/devices", R"({"id":"m1"})").status, 201);
  ASSERT_TRUE(eventually([&] {
    return json::parse(http_a->get("/health").body)["redis"] == "connected" &&
           json::parse(http_b->get("/health").body)["redis"] == "connected" &&
           http_b->get("/api/grid/devices").body.find("\"m1\"") != std::string::npos;
  })) << a->output();

  // Accounts and sessions are shared: a token issued by A works on B, a logout on A ends it on B.
  const auto token_a = login(a->port(), "admin", password);
  HttpClient with_a_token(b->port());
  with_a_token.set_header("Authorization", "Bearer " + token_a);
  EXPECT_EQ(with_a_token.get("/api/grid/devices").status, 200);
  const auto other = login(a->port(), "admin", password);
  HttpClient logout(a->port());
  logout.set_header("Authorization", "Bearer " + other);
  ASSERT_EQ(logout.post("/api/auth/logout", "{}").status, 204);
  HttpClient with_revoked(b->port());
  with_revoked.set_header("Authorization", "Bearer " + other);
  EXPECT_TRUE(eventually([&] { return with_revoked.get("/api/grid/devices").status == 401; }));
  // One audit log: B lists the logout made on A.
  EXPECT_TRUE(eventually([&] {
    const auto r = http_b->get("/api/audit?event=logout");
    return r.status == 200 && !json::parse(r.body)["items"].empty();
  }));

  // One network model for all: a version uploaded through A is the one B studies (within 2 s).
  const auto model = http_a->get("/api/grid/network");
  ASSERT_EQ(model.status, 200);
  const auto uploaded = http_a->post("/api/grid/networks?name=shared-model", model.body);
  ASSERT_EQ(uploaded.status, 201) << uploaded.body;
  const auto version = json::parse(uploaded.body)["id"].get<long long>();
  EXPECT_TRUE(eventually([&] {
    const auto r = http_b->get("/api/grid/network");
    return r.status == 200 && r.headers.count("x-network-id") &&
           std::stoll(r.headers.at("x-network-id")) == version;
  }));
  const auto listed = json::parse(http_b->get("/api/grid/networks").body)["items"];
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(listed[0]["name"], "shared-model");
  EXPECT_EQ(listed[0]["active"], true);

  // A key rotation (by the CLI, on the database) reaches both: A signs with the new key, B
  // accepts it, and the token signed before stays valid until it expires.
  const auto rotated = run_cli("token-key rotate --data-dir " + a_dir.path() + "/cli",
                               {{"REMHART_STORAGE_DATABASE_URL", url}});
  ASSERT_EQ(rotated.status, 0) << rotated.output;
  const auto at = rotated.output.find("key ") + 4;
  const auto new_kid = rotated.output.substr(at, rotated.output.find(' ', at) - at);
  ASSERT_TRUE(eventually([&] {
    const auto t = login(a->port(), "admin", password);
    return jwt_kid(t) == new_kid;
  })) << a->output();
  HttpClient with_new_key(b->port());
  with_new_key.set_header("Authorization", "Bearer " + login(a->port(), "admin", password));
  EXPECT_EQ(with_new_key.get("/api/grid/devices").status, 200);
  EXPECT_EQ(with_a_token.get("/api/grid/devices").status, 200);

  WsClient ws(b->port(), "/ws/grid-data?token=" + token_a);
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // the snapshot
  ws.send(R"({"type":"subscribe","devices":["m1"]})");
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // the subscription's snapshot
  const long long t0 = now_ms() - 60'000;
  ASSERT_EQ(http_a->post("/api/grid/ingest", "[" + sample_json("m1", t0, 231.5) + "]").status, 200);
  auto m = next_measurement(ws, std::chrono::seconds(10));
  ASSERT_TRUE(m) << "replica B's client did not receive what A stored";
  EXPECT_EQ((*m)["data"]["device"], "m1");
  EXPECT_DOUBLE_EQ((*m)["data"]["v"][0].get<double>(), 231.5);
  // The latest-value cache of B took it in with the live message.
  auto latest_v = [](HttpClient& h) {
    const auto r = h.get("/api/grid/latest?device=m1");
    return r.status == 200 ? json::parse(r.body)["v"][0].get<double>() : 0.0;
  };
  EXPECT_DOUBLE_EQ(latest_v(*http_b), 231.5);

  // Redis goes away: both replicas keep taking data and say they are degraded.
  redis.stop();
  ASSERT_TRUE(eventually([&] {
    const auto r = http_b->get("/ready");
    return r.status == 200 && r.body.find("\"redis\"") != std::string::npos;
  }));
  EXPECT_EQ(http_a->post("/api/grid/ingest", "[" + sample_json("m1", t0 + 1000, 232) + "]").status,
            200);
  EXPECT_EQ(json::parse(http_a->get("/health").body)["redis"], "disconnected");
  // Without Redis, B's latest-value cache learns it from the database (reloaded every 5 s).
  EXPECT_TRUE(eventually([&] { return latest_v(*http_b) == 232; }));
  // B still streams what it stores itself.
  ASSERT_EQ(http_b->post("/api/grid/ingest", "[" + sample_json("m1", t0 + 2000, 233) + "]").status,
            200);
  m = next_measurement(ws, std::chrono::seconds(10));
  ASSERT_TRUE(m);
  EXPECT_DOUBLE_EQ((*m)["data"]["v"][0].get<double>(), 233);

  // Back: the fan-out resumes.
  redis.start();
  ASSERT_TRUE(eventually([&] {
    return json::parse(http_a->get("/health").body)["redis"] == "connected" &&
           json::parse(http_b->get("/health").body)["redis"] == "connected";
  }));
  ASSERT_EQ(http_a->post("/api/grid/ingest", "[" + sample_json("m1", t0 + 3000, 234) + "]").status,
            200);
  m = next_measurement(ws, std::chrono::seconds(10));
  ASSERT_TRUE(m);
  EXPECT_DOUBLE_EQ((*m)["data"]["v"][0].get<double>(), 234);
  EXPECT_EQ(json::parse(http_b->get("/ready").body)["degraded"].dump().find("redis"),
            std::string::npos);
}

// MariaDB is killed and started again while two replicas take batches over HTTP: a batch is
// answered 200 only once committed, 503 (with Retry-After) while the database is away — and
// afterwards every acknowledged sample is there, none twice.
TEST(ScaleOut, ADatabaseRestartMidIngestLosesNothingAcknowledged) {
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  MariadbServer db;
  const auto url = db.create_database();
  const std::string secret = random_password() + random_password();
  const std::string password = random_password();
  TempDir a_dir, b_dir;
  auto replica = [&](const TempDir& dir) {
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data",
        std::vector<std::string>{"--no-demo", "--database-url", url},
        std::map<std::string, std::string>{{"REMHART_ANALYTICS_ENABLED", "false"},
                                           {"REMHART_AUTH_JWT_SECRET", secret},
                                           {"REMHART_ADMIN_PASSWORD", password}});
  };
  auto a = replica(a_dir);
  auto b = replica(b_dir);
  const auto token = login(a->port(), "admin", password);
  {
    auto http = admin_client(*a);
    ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m1"})").status, 201);
    ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m2"})").status, 201);
  }
  ASSERT_TRUE(eventually([&] {
    return admin_client(*b)->get("/api/grid/devices").body.find("\"m2\"") != std::string::npos;
  }));
  const long long t0 = now_ms() - 3'600'000;
  std::atomic<bool> stop{false};
  std::set<long long> acked[2];
  int unavailable[2] = {0, 0}, other[2] = {0, 0};
  auto writer = [&](int k, ServerProcess& server, const std::string& device) {
    HttpClient http(server.port());
    http.set_header("Authorization", "Bearer " + token);
    for (int batch = 0; !stop; ++batch) {
      std::string body = "[";
      std::vector<long long> times;
      for (int j = 0; j < 10; ++j) {
        times.push_back(t0 + (batch * 10 + j) * 1000LL);
        body += (j ? "," : "") + sample_json(device, times.back(), 230);
      }
      const auto r = http.post("/api/grid/ingest", body + "]");
      if (r.status == 200) {
        acked[k].insert(times.begin(), times.end());
      } else if (r.status == 503 && r.headers.count("retry-after")) {
        ++unavailable[k];
      } else {
        ++other[k];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  std::thread wa(writer, 0, std::ref(*a), "m1"), wb(writer, 1, std::ref(*b), "m2");
  auto http_a = admin_client(*a);  // (logging in needs the database)
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  db.stop(/*crash=*/true);
  EXPECT_TRUE(eventually([&] { return http_a->get("/ready").status == 503; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  db.start();
  EXPECT_TRUE(eventually([&] { return http_a->get("/ready").status == 200; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  stop = true;
  wa.join();
  wb.join();
  EXPECT_GT(unavailable[0] + unavailable[1], 0);
  EXPECT_EQ(other[0] + other[1], 0);
  HttpClient reader(b->port());
  reader.set_header("Authorization", "Bearer " + token);
  for (int k = 0; k < 2; ++k) {
    const std::string device = k == 0 ? "m1" : "m2";
    const auto items =
        json::parse(reader.get("/api/grid/data?device=" + device + "&limit=10000").body)["items"];
    std::set<long long> seen;
    for (const auto& it : items) seen.insert(ms_of(it["ts"].get<std::string>()));
    EXPECT_EQ(seen.size(), items.size()) << device << ": a sample stored twice";
    ASSERT_FALSE(acked[k].empty());
    for (long long t : acked[k])
      ASSERT_TRUE(seen.count(t)) << device << ": acknowledged, then lost";
  }
}

// A device key's budget holds across replicas: spread over two replicas its requests get one
// budget (through Redis), not one per replica.
TEST(ScaleOut, RateLimitsAreSharedAcrossReplicas) {
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  REQUIRE_SERVICE(RedisServer, "redis-server");
  MariadbServer db;
  RedisServer redis;
  const auto url = db.create_database();
  const std::string secret = random_password() + random_password();
  const std::string password = random_password();
  TempDir a_dir, b_dir;
  auto replica = [&](const TempDir& dir) {
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data",
        std::vector<std::string>{"--no-demo", "--database-url", url},
        std::map<std::string, std::string>{{"REMHART_ANALYTICS_ENABLED", "false"},
                                           {"REMHART_REDIS_URL", redis.url()},
                                           {"REMHART_AUTH_JWT_SECRET", secret},
                                           {"REMHART_ADMIN_PASSWORD", password}});
  };
  auto a = replica(a_dir);
  auto b = replica(b_dir);
  auto admin = admin_client(*a);
  ASSERT_EQ(admin->post("/api/grid/devices", R"({"id":"m1"})").status, 201);
  const auto created = admin->post("/api/device-keys", R"({"name":"meter","rate_per_min":60})");
  ASSERT_EQ(created.status, 201) << created.body;
  const auto key = json::parse(created.body)["key"].get<std::string>();
  HttpClient on_a(a->port()), on_b(b->port());
  on_a.set_header("Authorization", "Bearer " + key);
  on_b.set_header("Authorization", "Bearer " + key);
  const long long t0 = now_ms() - 3'600'000;
  int k = 0;
  auto post = [&](HttpClient& h) {
    return h.post("/api/grid/ingest", "[" + sample_json("m1", t0 + 1000LL * k++, 230) + "]").status;
  };
  ASSERT_TRUE(eventually([&] { return post(on_b) == 200; }));  // B knows the key (shared database)
  ASSERT_TRUE(eventually(
      [&] { return json::parse(admin_client(*b)->get("/health").body)["redis"] == "connected"; }));
  // One calendar minute: the shared count starts again with the next.
  const auto into_minute = (now_ms() / 1000) % 60;
  if (into_minute > 40) std::this_thread::sleep_for(std::chrono::seconds(61 - into_minute));
  int accepted = 0, refused_a = 0, refused_b = 0;
  for (int n = 0; n < 120; ++n) {
    const bool to_a = n % 2 == 0;
    const int status = post(to_a ? on_a : on_b);
    if (status == 200) ++accepted;
    if (status == 429) ++(to_a ? refused_a : refused_b);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Separate budgets would take ~120 (60 each); one shared budget takes ~60 (a few more while
  // the replicas' counts are exchanged every 100 ms).
  EXPECT_LE(accepted, 80);
  EXPECT_GE(accepted, 40);
  EXPECT_GT(refused_a, 0);
  EXPECT_GT(refused_b, 0);

  // Login throttles too: five wrong passwords for one account from one address, alternating
  // between the replicas, and both make the sixth attempt wait (each alone has seen 2 or 3).
  auto wrong_login = [&](const ServerProcess& p) {
    HttpClient h(p.port());
    return h.post("/api/auth/login", R"({"username":"admin","password":"wrong-password-1"})")
        .status;
  };
  for (int n = 0; n < 5; ++n) EXPECT_EQ(wrong_login(n % 2 == 0 ? *a : *b), 401) << n;
  EXPECT_EQ(wrong_login(*a), 429);
  EXPECT_EQ(wrong_login(*b), 429);
}

// The periodic jobs (here the demo run and retention) run on one replica at a time, the holder of
// their lease in the database; when it dies another takes over once the lease has lapsed.
TEST(ScaleOut, PeriodicJobsRunOnOneReplicaAndMoveWhenItDies) {
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  MariadbServer db;
  const auto url = db.create_database();
  const std::string password = random_password();
  TempDir a_dir, b_dir;
  auto replica = [&](const TempDir& dir) {
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data", std::vector<std::string>{"--database-url", url},
        std::map<std::string, std::string>{{"REMHART_ANALYTICS_ENABLED", "false"},
                                           {"REMHART_DEMO_HISTORY_DAYS", "0"},
                                           {"REMHART_STORAGE_LEASE_TTL_S", "3"},
                                           {"REMHART_ADMIN_PASSWORD", password}});
  };
  // Runs going in a replica (the records are shared: every replica lists every run).
  auto demo_runs = [](ServerProcess& p) {
    HttpClient http(p.port());
    return static_cast<int>(metric(http, "remhart_sim_runs_running"));
  };
  auto a = replica(a_dir);
  auto b = replica(b_dir);
  // A started first and leads both jobs; B runs no demo of its own.
  EXPECT_TRUE(leads(*a, "demo"));
  EXPECT_TRUE(leads(*a, "retention"));
  EXPECT_EQ(demo_runs(*a), 1);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // B renews (and is refused) meanwhile
  EXPECT_FALSE(leads(*b, "demo"));
  EXPECT_FALSE(leads(*b, "retention"));
  EXPECT_EQ(demo_runs(*b), 0);

  // A dies without a word: B takes over once A's lease has lapsed (3 s).
  const auto killed = std::chrono::steady_clock::now();
  a->kill9();
  ASSERT_TRUE(eventually([&] { return leads(*b, "demo") && demo_runs(*b) == 1; })) << b->output();
  EXPECT_TRUE(eventually([&] { return leads(*b, "retention"); }));
  EXPECT_GE(std::chrono::steady_clock::now() - killed, std::chrono::seconds(1));
  // A comes back and follows.
  a->restart();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_FALSE(leads(*a, "demo"));
  EXPECT_EQ(demo_runs(*a), 0);
  EXPECT_TRUE(leads(*b, "demo"));
  // B stops cleanly: it releases its leases and A leads at its next renewal, not a lease later.
  const auto stopped = std::chrono::steady_clock::now();
  b->terminate();
  ASSERT_TRUE(eventually([&] { return leads(*a, "demo") && demo_runs(*a) == 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - stopped, std::chrono::seconds(3));
}

// The analytics of several replicas (one training serves all the tests of this part):
// - device affinity: a device's analytics (feature state, latest results) run on one replica,
//   its owner in the ring in Redis, whichever replica stored its samples, and every replica
//   answers with the owner's results; when the owner dies another takes its devices;
// - the model registry is the shared database's: what `remhart train` published there is served
//   by every replica, and a version imported and activated through one is served by all;
// - the network-level models run on one replica, the holder of their lease, whose results every
//   replica answers with; when it dies another takes over.
TEST(ScaleOut, EachDevicesAnalyticsRunOnItsOwnerWhicheverReplicaStoredIt) {
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  REQUIRE_SERVICE(RedisServer, "redis-server");
  MariadbServer db;
  RedisServer redis;
  const auto url = db.create_database();
  const std::string password = random_password();
  TempDir a_dir, b_dir, t_dir;
  const std::map<std::string, std::string> shared_registry = {
      {"REMHART_STORAGE_DATABASE_URL", url}, {"REMHART_STORAGE_OBJECT_STORE", "database"}};
  const auto trained =
      run_cli("train --scale 0.05 --run-minutes 4 --threads 2 --quiet --data-dir " + t_dir.path(),
              shared_registry);
  ASSERT_EQ(trained.status, 0) << trained.output;
  auto replica = [&](const TempDir& dir) {
    auto env = shared_registry;
    env.insert({{"REMHART_REDIS_URL", redis.url()},
                {"REMHART_GRID_STATE_INTERVAL_S", "1"},
                {"REMHART_ANALYTICS_NETWORK_SCHEDULE_S", "1"},
                {"REMHART_STORAGE_LEASE_TTL_S", "3"},
                {"REMHART_ADMIN_PASSWORD", password}});
    return std::make_unique<ServerProcess>(remhart_binary(), dir.path() + "/data",
                                           std::vector<std::string>{"--no-demo"}, env);
  };
  auto a = replica(a_dir);
  auto b = replica(b_dir);
  auto http_a = admin_client(*a);
  auto http_b = admin_client(*b);
  auto ring_of = [](HttpClient& h) {
    const auto m = h.get("/metrics").body;
    const auto at = m.find("\nremhart_replicas ");
    return at == std::string::npos ? -1 : std::stoi(m.substr(at + 18));
  };
  ASSERT_TRUE(eventually([&] { return ring_of(*http_a) == 2 && ring_of(*http_b) == 2; }));
  constexpr int kDevices = 24, kSamples = 20;
  auto device = [](int d) { return "aff-" + std::to_string(d); };
  for (int d = 0; d < kDevices; ++d) {
    ASSERT_EQ(http_a->post("/api/grid/devices", json{{"id", device(d)}}.dump()).status, 201);
  }
  ASSERT_TRUE(eventually([&] {
    return json::parse(http_b->get("/api/grid/devices").body)["items"].size() == kDevices;
  }));
  // Each device's samples alternate between the replicas, one at a time as a meter sends them.
  const long long t0 = now_ms() - 600'000;
  for (int k = 0; k < kSamples; ++k) {
    for (int d = 0; d < kDevices; ++d) {
      auto& h = k % 2 == 0 ? *http_a : *http_b;
      ASSERT_EQ(h.post("/api/grid/ingest", "[" + sample_json(device(d), t0 + 1000LL * k, 230) + "]")
                    .status,
                200);
    }
  }
  auto seen = [](HttpClient& h, const std::string& dev) -> long long {
    const auto items = json::parse(h.get("/api/ml/monitoring/latest?device=" + dev).body)["items"];
    return items.empty() ? 0 : items[0]["inputs_window"]["samples_seen"].get<long long>();
  };
  // Each sample was analysed once, by its device's owner; both replicas own some devices, and
  // both answer for every device with the owner's results (shared through Redis).
  const auto analysed = kDevices * kSamples;
  ASSERT_TRUE(eventually([&] {
    return metric(*http_a, "remhart_analytics_samples_total") +
               metric(*http_b, "remhart_analytics_samples_total") ==
           analysed;
  }));
  EXPECT_GT(metric(*http_a, "remhart_analytics_samples_total"), 0);
  EXPECT_GT(metric(*http_b, "remhart_analytics_samples_total"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(metric(*http_a, "remhart_analytics_samples_total") +
                metric(*http_b, "remhart_analytics_samples_total"),
            analysed);  // not analysed twice
  for (int d = 0; d < kDevices; ++d) {
    EXPECT_TRUE(eventually([&] {
      return seen(*http_a, device(d)) == kSamples && seen(*http_b, device(d)) == kSamples;
    })) << device(d)
        << ": A answers " << seen(*http_a, device(d)) << ", B " << seen(*http_b, device(d));
  }

  // A dies: once its ring entry has expired B owns every device, A's included.
  a->kill9();
  ASSERT_TRUE(eventually([&] { return ring_of(*http_b) == 1; }));
  const auto before = metric(*http_b, "remhart_analytics_samples_total");
  for (int d = 0; d < kDevices; ++d) {
    ASSERT_EQ(http_b
                  ->post("/api/grid/ingest",
                         "[" + sample_json(device(d), t0 + 1000LL * kSamples, 231) + "]")
                  .status,
              200);
  }
  EXPECT_TRUE(eventually([&] {
    return metric(*http_b, "remhart_analytics_samples_total") == before + kDevices;
  })) << before
      << " then " << metric(*http_b, "remhart_analytics_samples_total");

  // A comes back. A version imported through A (the trained trees, as Python's xgboost would
  // send them) is active on B at once and served by both for the devices each owns.
  a->restart();
  http_a = admin_client(*a);
  ASSERT_TRUE(eventually([&] { return ring_of(*http_a) == 2 && ring_of(*http_b) == 2; }));
  const auto hex = db.sql(url.substr(url.rfind('/') + 1),
                          "SELECT HEX(data) FROM object_chunks WHERE name = "
                          "'models/voltage-anomaly/1/model.json' ORDER BY seq");
  std::string digits, trees;  // one line of hex digits per chunk
  for (char ch : hex) {
    if (std::isxdigit(static_cast<unsigned char>(ch))) digits.push_back(ch);
  }
  for (std::size_t k = 0; k + 1 < digits.size(); k += 2) {
    trees.push_back(static_cast<char>(std::stoi(digits.substr(k, 2), nullptr, 16)));
  }
  ASSERT_TRUE(json::accept(trees)) << hex.substr(0, 200);
  const auto imported =
      http_a->post("/api/ml/models/voltage-anomaly/import?activate=true&threshold=0.7", trees);
  ASSERT_EQ(imported.status, 201) << imported.body;
  EXPECT_EQ(json::parse(http_b->get("/api/ml/models/voltage-anomaly").body)["active_version"], 2);
  auto version_served = [](HttpClient& h, const std::string& dev) {
    const auto latest = json::parse(h.get("/api/ml/monitoring/latest?device=" + dev).body);
    for (const auto& i : latest["items"]) {
      if (i["model"] == "voltage-anomaly") return i["version"].get<int>();
    }
    return 0;
  };
  long long t = t0 + 1000LL * (kSamples + 1);
  for (int d = 0; d < kDevices; ++d) {  // the owners reload within two seconds
    EXPECT_TRUE(eventually([&] {
      EXPECT_EQ(http_a->post("/api/grid/ingest", "[" + sample_json(device(d), t += 1000, 230) + "]")
                    .status,
                200);
      return version_served(*http_a, device(d)) == 2 && version_served(*http_b, device(d)) == 2;
    })) << device(d);
  }

  // The network-level models: one leader runs them on the state estimates of the pinned live
  // run (which goes on in the other replica), shares and stores their results; both answer.
  ServerProcess* leader = leads(*a, "network-models") ? a.get() : b.get();
  ServerProcess* other = leader == a.get() ? b.get() : a.get();
  ASSERT_TRUE(leads(*leader, "network-models"));
  EXPECT_FALSE(leads(*other, "network-models"));
  auto http_leader = admin_client(*leader);
  auto http_other = admin_client(*other);
  const auto run = http_other->post("/api/simulator/runs",
                                    json{{"scenario", "normal_day"}, {"mode", "realtime"}}.dump());
  ASSERT_EQ(run.status, 202) << run.body;
  const auto run_id = json::parse(run.body)["id"].get<std::string>();
  ASSERT_EQ(http_other->post("/api/simulator/runs/" + run_id + "/pin", "").status, 200);
  const auto energy_loss = [&](HttpClient& h) {
    const auto latest = json::parse(h.get("/api/ml/energy/latest?origin=sim:" + run_id).body);
    for (const auto& i : latest["items"]) {
      if (i["device"].is_null() && i["model"] == "energy-loss") return true;
    }
    return false;
  };
  ASSERT_TRUE(eventually([&] { return energy_loss(*http_leader) && energy_loss(*http_other); }))
      << other->output();
  EXPECT_GT(metric(*http_leader, "remhart_analytics_network_rounds_total"), 0);
  EXPECT_EQ(metric(*http_other, "remhart_analytics_network_rounds_total"), 0);
  // The leader dies: the other takes the lease once it lapses and runs them itself.
  leader->kill9();
  EXPECT_TRUE(eventually([&] {
    return metric(*http_other, "remhart_analytics_network_rounds_total") > 0 &&
           energy_loss(*http_other);
  })) << other->output();
}

// First-start training with several replicas on an empty shared registry: one trains (the
// holder of the training lease), the others wait for its models; when it dies before it is done
// another takes the training over.
TEST(ScaleOut, FirstStartTrainingRunsOnOneReplica) {
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  MariadbServer db;
  const auto url = db.create_database();
  const std::string password = random_password();
  TempDir a_dir, b_dir;
  auto replica = [&](const TempDir& dir) {
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data", std::vector<std::string>{"--no-demo"},
        std::map<std::string, std::string>{{"REMHART_STORAGE_DATABASE_URL", url},
                                           {"REMHART_STORAGE_OBJECT_STORE", "database"},
                                           {"REMHART_ANALYTICS_TRAIN_ON_START", "true"},
                                           {"REMHART_STORAGE_LEASE_TTL_S", "3"},
                                           {"REMHART_ADMIN_PASSWORD", password}});
  };
  auto training = [](ServerProcess& p) {
    HttpClient http(p.port());
    return json::parse(http.get("/health").body)["training"].get<std::string>();
  };
  auto a = replica(a_dir);
  auto b = replica(b_dir);
  EXPECT_TRUE(leads(*a, "training"));
  EXPECT_TRUE(training(*a).starts_with("running")) << training(*a);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a renewal round of B's
  EXPECT_FALSE(leads(*b, "training"));
  EXPECT_EQ(training(*b), "off");
  a->kill9();
  EXPECT_TRUE(eventually([&] { return training(*b).starts_with("running"); })) << training(*b);
  EXPECT_TRUE(leads(*b, "training"));
}

// The compose topology on loopback: MariaDB, Redis, Mosquitto, two replicas configured as
// deploy/compose.yaml configures them (deploy.files checks that file) and nginx running the
// shipped gateway config in front — used as one system through the gateway. The failure cases
// (the database restarted, Redis stopped, a replica killed mid-MQTT-stream) have their own tests
// above and in mqtt_test.cpp on the same components.
TEST(ScaleOut, TheComposeTopologyBehindTheGatewayActsAsOneSystem) {
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  REQUIRE_SERVICE(RedisServer, "redis-server");
  REQUIRE_SERVICE(MosquittoBroker, "mosquitto");
  REQUIRE_SERVICE(NginxGateway, "nginx");
  MariadbServer db;
  RedisServer redis;
  MosquittoBroker broker;
  const auto url = db.create_database();
  const std::string password = random_password();
  TempDir a_dir, b_dir;
  auto replica = [&](const TempDir& dir, const std::string& id) {
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data", std::vector<std::string>{"--no-demo"},
        std::map<std::string, std::string>{{"REMHART_STORAGE_DATABASE_URL", url},
                                           {"REMHART_STORAGE_OBJECT_STORE", "database"},
                                           {"REMHART_MQTT_URL", broker.url()},
                                           {"REMHART_MQTT_SHARED_GROUP", "remhart"},
                                           {"REMHART_MQTT_CLIENT_ID", id},
                                           {"REMHART_REDIS_URL", redis.url()},
                                           {"REMHART_SERVER_TRUSTED_PROXIES", "127.0.0.1"},
                                           {"REMHART_ANALYTICS_ENABLED", "false"},
                                           {"REMHART_ADMIN_PASSWORD", password}});
  };
  auto a = replica(a_dir, "remhart-1");
  auto b = replica(b_dir, "remhart-2");
  NginxGateway gateway(std::string(REMHART_SOURCE_DIR) + "/deploy/nginx/remhart.conf",
                       {a->port(), b->port()});
  auto direct_a = admin_client(*a);
  auto direct_b = admin_client(*b);
  ASSERT_TRUE(eventually([&] {
    return metric(*direct_a, "remhart_mqtt_connected") == 1 &&
           metric(*direct_b, "remhart_mqtt_connected") == 1 &&
           metric(*direct_a, "remhart_replicas") == 2 && metric(*direct_b, "remhart_replicas") == 2;
  }));

  // Everything below goes through the gateway, signed in there once.
  const auto token = login(gateway.port(), "admin", password);
  HttpClient via(gateway.port());
  via.set_header("Authorization", "Bearer " + token);
  ASSERT_EQ(via.post("/api/grid/devices", R"({"id":"m1","site":"north"})").status, 201);
  ASSERT_TRUE(eventually([&] {  // both replicas know the device (shared database)
    return direct_a->get("/api/grid/devices").body.find("\"m1\"") != std::string::npos &&
           direct_b->get("/api/grid/devices").body.find("\"m1\"") != std::string::npos;
  }));
  WsClient ws(gateway.port(), "/ws/grid-data?token=" + token);
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // the snapshot
  ws.send(R"({"type":"subscribe","devices":["m1"]})");
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));
  std::set<long long> streamed;
  auto stream_until = [&](std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (streamed.size() < n && std::chrono::steady_clock::now() < deadline) {
      if (auto m = next_measurement(ws, std::chrono::seconds(5))) {
        streamed.insert(ms_of((*m)["data"]["ts"].get<std::string>()));
      }
    }
    return streamed.size();
  };

  // HTTP: 20 batches of 10, spread by the gateway over both replicas.
  const long long t0 = now_ms() - 3'600'000;
  for (int k = 0; k < 20; ++k) {
    std::string batch = "[";
    for (int j = 0; j < 10; ++j) {
      batch += (j ? "," : "") + sample_json("m1", t0 + (k * 10 + j) * 1000LL, 231);
    }
    ASSERT_EQ(via.post("/api/grid/ingest", batch + "]").status, 200) << k;
  }
  auto ingest_requests = [](HttpClient& direct) {
    const auto text = direct.get("/metrics").body;
    double n = 0;
    for (std::size_t at = text.find("remhart_http_requests_total{route=\"/api/grid/ingest\"");
         at != std::string::npos;
         at = text.find("remhart_http_requests_total{route=\"/api/grid/ingest\"", at + 1)) {
      const auto space = text.find("} ", at);
      n += std::stod(text.substr(space + 2));
    }
    return n;
  };
  // The gateway (least connections) put the live stream on one replica and the batches on the
  // other; the stream carried every sample all the same.
  const double ws_a = metric(*direct_a, "remhart_ws_connections");
  const double ws_b = metric(*direct_b, "remhart_ws_connections");
  EXPECT_EQ(ws_a + ws_b, 1);
  EXPECT_GT(ingest_requests(ws_a == 1 ? *direct_b : *direct_a), 0);
  EXPECT_EQ(stream_until(200), 200u);

  // MQTT: 30 messages through the shared subscription, and a malformed one dead-lettered.
  MosquittoBroker::Subscription dead(broker, "remhart/dead-letter");
  std::vector<std::string> messages;
  for (int k = 0; k < 30; ++k) messages.push_back(sample_json("m1", t0 + (200 + k) * 1000LL, 232));
  ASSERT_TRUE(broker.publish_each("remhart/north/m1/measurement", messages));
  ASSERT_TRUE(broker.publish("remhart/north/m1/measurement", "{not json"));
  EXPECT_EQ(stream_until(230), 230u);
  EXPECT_TRUE(eventually([&] { return !dead.received().empty(); }));
  EXPECT_TRUE(eventually([&] { return stored_total(via, "m1") == 230; }));
  EXPECT_EQ(metric(*direct_a, "remhart_mqtt_stored_total") +
                metric(*direct_b, "remhart_mqtt_stored_total"),
            30);

  // A replica dies: the gateway sends everything to the other, the token still works there.
  b->kill9();
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(
        via.post("/api/grid/ingest", "[" + sample_json("m1", t0 + (230 + k) * 1000LL, 233) + "]")
            .status,
        200)
        << k;
  }
  EXPECT_EQ(stored_total(via, "m1"), 235u);
}

// Run records live in the shared database: a run goes on in the replica that started it, every
// replica lists it, and another replica can stop or delete it.
TEST(ScaleOut, ARunGoesOnInItsReplicaAndIsStoppedOrDeletedFromAnother) {
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  MariadbServer db;
  const auto url = db.create_database();
  const std::string password = random_password();
  TempDir a_dir, b_dir;
  auto replica = [&](const TempDir& dir) {
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data",
        std::vector<std::string>{"--no-demo", "--database-url", url},
        std::map<std::string, std::string>{{"REMHART_ANALYTICS_ENABLED", "false"},
                                           {"REMHART_SERVER_JOB_THREADS", "1"},
                                           {"REMHART_ADMIN_PASSWORD", password}});
  };
  auto a = replica(a_dir);
  auto b = replica(b_dir);
  auto http_a = admin_client(*a);
  auto http_b = admin_client(*b);
  auto start_on_a = [&] {
    const auto r = http_a->post("/api/simulator/runs", R"({"scenario":"peak_load"})");
    EXPECT_EQ(r.status, 202) << r.body;
    return json::parse(r.body)["id"].get<std::string>();
  };
  const auto first = start_on_a();
  const auto listed = json::parse(http_b->get("/api/simulator/runs").body)["items"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["id"], first);
  EXPECT_EQ(listed[0]["status"], "running");
  EXPECT_EQ(metric(*http_a, "remhart_sim_runs_running"), 1);
  EXPECT_EQ(metric(*http_b, "remhart_sim_runs_running"), 0);

  // Stopped through B: A stops it within a second of being asked, and B answers with the result.
  const auto stopped = http_b->post("/api/simulator/runs/" + first + "/stop", "{}");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(json::parse(stopped.body)["status"], "stopped");
  EXPECT_EQ(metric(*http_a, "remhart_sim_runs_running"), 0);
  EXPECT_EQ(json::parse(http_a->get("/api/simulator/runs/" + first).body)["status"], "stopped");

  // Deleted through B while A runs it: stopped there first, then gone with its samples.
  const auto second = start_on_a();
  ASSERT_TRUE(eventually([&] {
    return json::parse(http_a->get("/api/simulator/runs/" + second).body)["samples"]
               .get<long long>() > 0;
  }));
  EXPECT_EQ(http_b->request("DELETE", "/api/simulator/runs/" + second).status, 204);
  EXPECT_EQ(metric(*http_a, "remhart_sim_runs_running"), 0);
  EXPECT_EQ(http_a->get("/api/simulator/runs/" + second).status, 404);
  EXPECT_TRUE(
      json::parse(http_b->get("/api/grid/latest?origin=sim:" + second).body)["items"].empty());
  EXPECT_TRUE(eventually([&] {  // A's latest-value cache drops it at its next reload
    return json::parse(http_a->get("/api/grid/latest?origin=sim:" + second).body)["items"].empty();
  }));

  // A frozen (it neither stops the run nor reports on it): the stop asked through B is waited for
  // without holding B's one job thread — B answers other requests meanwhile — and is answered 503
  // after 10 s; thawed, A sees the request and stops the run.
  const auto third = start_on_a();
  a->signal(SIGSTOP);
  auto asked = std::async(std::launch::async, [&] {
    auto http = admin_client(*b);
    return http->post("/api/simulator/runs/" + third + "/stop", "{}");
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const auto before = std::chrono::steady_clock::now();
  EXPECT_EQ(http_b->get("/api/simulator/runs").status, 200);  // a job of the same pool
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(3));
  const auto answer = asked.get();
  a->signal(SIGCONT);
  EXPECT_EQ(answer.status, 503) << answer.body;
  EXPECT_TRUE(eventually([&] {
    return json::parse(http_b->get("/api/simulator/runs/" + third).body)["status"] == "stopped";
  }));
}

}  // namespace remhart::testkit
