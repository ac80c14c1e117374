// What only the MariaDB store has: its URL, month partitions, the migration lock shared by
// replicas, several writers on one database, and a server that restarts mid-ingest. Against a
// private mariadbd started by the testkit (the shared store tests are in store_test.cpp).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include "core/error.hpp"
#include "shared_data.hpp"
#include "store/mariadb.hpp"
#include "store/mariadb_store.hpp"
#include "testkit.hpp"

using namespace remhart;
using core::TimeUs;

namespace {

constexpr TimeUs kS = core::kUsPerSecond;
constexpr TimeUs kT0 = 1'795'860'000 * kS;  // 2026-11-28T10:00:00Z

core::Sample sample(const std::string& device, TimeUs ts, double v = 230) {
  core::Sample s;
  s.device = device;
  s.ts = ts;
  s.values.v = {v, v, v};
  s.values.i = {10, 10, 10};
  s.values.p = {2000, 2000, 2000};
  s.values.q = {500, 500, 500};
  s.values.f = 50;
  return s;
}

store::WriteResult write(store::Store& st, std::vector<core::Sample> samples,
                         const std::string& origin = "real") {
  std::promise<store::WriteResult> p;
  auto f = p.get_future();
  EXPECT_TRUE(
      st.submit(origin, std::move(samples), [&p](const store::WriteResult& r) { p.set_value(r); }));
  return f.get();
}

/// `device_reload`: how soon another replica's changes are read (a second store on the database).
std::unique_ptr<store::MariadbStore> open(
    const std::string& url, std::chrono::milliseconds device_reload = std::chrono::seconds(5)) {
  store::MariadbOptions o;
  o.url = url;
  o.device_reload = device_reload;
  o.pool_min = 1;
  o.pool_max = 4;
  o.startup_wait = std::chrono::seconds(20);
  return std::make_unique<store::MariadbStore>(o);
}

std::string database_of(const std::string& url) {
  return url.substr(url.rfind('/') + 1);
}

struct MariadbTest : ::testing::Test {
  void SetUp() override {
    if (!testkit::MariadbServer::available()) {
      if (testkit::running_in_ci()) FAIL() << "mariadb-server is missing (CI): scripts/bootstrap";
      GTEST_SKIP() << "mariadb-server not installed (scripts/bootstrap)";
    }
  }
};

}  // namespace

TEST(MariadbUrl, ParsesEveryPartAndRefusesMalformedOnes) {
  auto o = store::maria::parse_url("mariadb://rh%40x:p%3Ass@db.example:3307/remhart");
  EXPECT_EQ(o.user, "rh@x");
  EXPECT_EQ(o.password, "p:ss");
  EXPECT_EQ(o.host, "db.example");
  EXPECT_EQ(o.port, 3307u);
  EXPECT_EQ(o.database, "remhart");
  o = store::maria::parse_url("mysql://u@localhost/d?socket=/run/mysqld/mysqld.sock");
  EXPECT_EQ(o.socket, "/run/mysqld/mysqld.sock");
  EXPECT_EQ(o.port, 3306u);
  EXPECT_EQ(o.password, "");
  for (const char* bad : {"postgres://u@h/d", "mariadb://u@h:0/d", "mariadb://u@h:99999/d",
                          "mariadb://u@h:x/d", "mariadb://u@h/", "mariadb://u@h",
                          "mariadb://u@h/d?sslmode=on", "mariadb://u:%zz@h/d", ""}) {
    EXPECT_THROW(store::maria::parse_url(bad), std::invalid_argument) << bad;
  }
  EXPECT_EQ(store::maria::redacted_url("mariadb://u:secret@h:1/d"), "mariadb://u:***@h:1/d");
  EXPECT_EQ(store::maria::redacted_url("mariadb://u@h/d"), "mariadb://u@h/d");
}

TEST_F(MariadbTest, MonthPartitionsAreMadeAheadAndHoldEveryMonth) {
  auto& server = testkit::MariadbServer::shared();
  const auto url = server.create_database();
  auto s = open(url);
  const auto parts = s->partitions();
  // Everything before this month, this month and two ahead, the catch-all.
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_EQ(parts.front(), "p_old");
  EXPECT_EQ(parts.back(), "p_future");
  EXPECT_EQ(s->maintain_partitions(core::now_us()), 0);  // nothing to do twice
  EXPECT_EQ(s->maintain_partitions(core::now_us() + 100 * 86400 * kS), 3);
  EXPECT_EQ(s->partitions().size(), 8u);
  // Samples in the past, now and beyond every month partition are all stored and read back.
  const TimeUs now = core::now_us() / kS * kS;
  const std::vector<TimeUs> times = {kT0 - 400 * 86400 * kS, now - 40 * 86400 * kS, now,
                                     now + 80 * 86400 * kS, now + 900 * 86400 * kS};
  std::vector<core::Sample> batch;
  for (TimeUs t : times) batch.push_back(sample("m1", t));
  EXPECT_EQ(write(*s, batch).accepted, times.size());
  store::DataQuery q;
  q.device = "m1";
  q.ascending = true;
  const auto page = s->query(q);
  ASSERT_EQ(page.records.size(), times.size());
  for (std::size_t k = 0; k < times.size(); ++k) EXPECT_EQ(page.records[k].ts, times[k]);
  // The rows are spread over the partitions (the engine's own count per partition).
  const auto used = server.sql(database_of(url),
                               "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE "
                               "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'measurements' AND "
                               "TABLE_ROWS > 0");
  EXPECT_GE(std::stoi(used), 3);
}

TEST_F(MariadbTest, ABinaryOlderThanTheSchemaRefusesToStart) {
  auto& server = testkit::MariadbServer::shared();
  const auto url = server.create_database();
  { auto s = open(url); }
  server.sql(database_of(url),
             "UPDATE schema_versions SET version = 99 WHERE component = 'measurements'");
  try {
    open(url);
    FAIL() << "started on a newer schema";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this binary"), std::string::npos) << e.what();
  }
}

// Two replicas start at once on an empty database (one migrates, the other waits for the lock)
// and then write the same samples concurrently: each is stored once, and the two replies
// together count it once as accepted.
TEST_F(MariadbTest, TwoReplicasShareOneDatabaseWithoutDuplicates) {
  const auto url = testkit::MariadbServer::shared().create_database();
  auto a_future = std::async(std::launch::async, [&] { return open(url); });
  auto b_future = std::async(std::launch::async, [&] { return open(url); });
  auto a = a_future.get();
  auto b = b_future.get();
  constexpr int kBatches = 40, kPerBatch = 50;
  std::atomic<std::size_t> accepted{0}, duplicates{0};
  auto writer = [&](store::Store& s) {
    for (int k = 0; k < kBatches; ++k) {
      std::vector<core::Sample> batch;
      for (int j = 0; j < kPerBatch; ++j) {
        batch.push_back(sample("shared", kT0 + (k * kPerBatch + j) * kS));
      }
      const auto r = write(s, batch);
      ASSERT_TRUE(r.ok) << r.error;
      accepted += r.accepted;
      duplicates += r.duplicates;
    }
  };
  std::thread ta(writer, std::ref(*a)), tb(writer, std::ref(*b));
  ta.join();
  tb.join();
  EXPECT_EQ(accepted.load(), static_cast<std::size_t>(kBatches * kPerBatch));
  EXPECT_EQ(duplicates.load(), static_cast<std::size_t>(kBatches * kPerBatch));
  store::DataQuery q;
  q.device = "shared";
  q.limit = 10'000;
  EXPECT_EQ(b->query(q).records.size(), static_cast<std::size_t>(kBatches * kPerBatch));
  // A device made on one replica is seen by the other when it next changes devices.
  core::Device d;
  d.id = "made-on-a";
  a->create_device(d);
  EXPECT_THROW(b->create_device(d), core::Error);
}

// A device deleted on one replica and made again: the other replica, once it has read the
// devices again, stores the new device's samples under its new series (not the deleted one's id).
TEST_F(MariadbTest, ADeviceDeletedOnAnotherReplicaIsForgottenWithItsSeries) {
  const auto url = testkit::MariadbServer::shared().create_database();
  auto a = open(url);
  auto replica_b = open(url, std::chrono::milliseconds(100));
  auto& b = *replica_b;
  const auto b_sees_m1 = [&](bool present) {
    return testkit::eventually([&] { return b.devices()->count("m1") == (present ? 1u : 0u); },
                               std::chrono::seconds(10));
  };
  core::Device d;
  d.id = "m1";
  a->create_device(d);
  ASSERT_TRUE(b_sees_m1(true));
  ASSERT_TRUE(write(b, {sample("m1", kT0)}).ok);  // B now knows m1's series id
  a->delete_device("m1");
  ASSERT_TRUE(b_sees_m1(false));
  a->create_device(d);
  EXPECT_EQ(write(b, {sample("m1", kT0 + kS)}).accepted, 1u);
  store::DataQuery q;
  q.device = "m1";
  const auto seen = a->query(q).records;
  ASSERT_EQ(seen.size(), 1u);  // the new sample, in the series A reads; the old one went
  EXPECT_EQ(seen[0].ts, kT0 + kS);
}

// The latest-value cache: the newest sample of every series in memory, fed by the replica's own
// commits, by the others' (handed over through Redis) at once, and by a reload otherwise.
TEST_F(MariadbTest, LatestValuesFollowOtherReplicasFromMemory) {
  const auto url = testkit::MariadbServer::shared().create_database();
  auto a = open(url);
  auto replica_b = open(url, std::chrono::milliseconds(300));
  auto& b = *replica_b;
  ASSERT_TRUE(write(*a, {sample("m1", kT0, 231), sample("m2", kT0, 232)}).ok);
  ASSERT_EQ(a->latest("m1", "real")->record.values.v[0], 231);
  // B learns of A's commit at its next reload …
  ASSERT_TRUE(testkit::eventually([&] { return b.latest("m2", "real").has_value(); },
                                  std::chrono::seconds(10)));
  EXPECT_EQ(b.latest("m2", "real")->record.values.v[0], 232);
  const auto all = b.latest_all("real");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].device, "m1");
  EXPECT_EQ(all[1].device, "m2");
  // … or at once when A's commit is handed over; an older sample never replaces a newer one.
  ASSERT_TRUE(write(*a, {sample("m1", kT0 + kS, 240)}).ok);
  b.note_remote_commit({{"m1", "real", {kT0 + kS, sample("m1", kT0 + kS, 240).values}},
                        {"m2", "real", {kT0 - kS, sample("m2", kT0 - kS, 1).values}}});
  EXPECT_EQ(b.latest("m1", "real")->record.values.v[0], 240);
  EXPECT_EQ(b.latest("m2", "real")->record.values.v[0], 232);
  EXPECT_TRUE(b.latest_all("sim:none").empty());
  // A run deleted on A disappears from B's cache at the reload.
  ASSERT_TRUE(write(*a, {sample("m1", kT0, 200)}, "sim:r1").ok);
  a->delete_origin("sim:r1");
  EXPECT_FALSE(a->latest("m1", "sim:r1"));
  b.note_remote_commit({{"m1", "sim:r1", {kT0, sample("m1", kT0, 200).values}}});
  EXPECT_TRUE(
      testkit::eventually([&] { return !b.latest("m1", "sim:r1"); }, std::chrono::seconds(10)));
}

// The server is killed mid-ingest and started again: writes meanwhile fail as "unavailable"
// (never acknowledged), /health's check says so, and afterwards every acknowledged sample is
// there exactly once.
TEST_F(MariadbTest, AServerCrashLosesNothingAcknowledged) {
  testkit::MariadbServer server;  // its own: this test stops it
  const auto url = server.create_database();
  auto s = open(url);
  std::set<TimeUs> acknowledged;
  std::size_t failed = 0;
  std::atomic<bool> done{false};
  std::thread ingest([&] {
    for (int k = 0; !done; ++k) {
      std::vector<core::Sample> batch;
      for (int j = 0; j < 20; ++j) batch.push_back(sample("m1", kT0 + (k * 20 + j) * kS));
      const auto r = write(*s, batch);
      if (r.ok) {
        for (const auto& smp : batch) acknowledged.insert(smp.ts);
      } else {
        EXPECT_TRUE(r.unavailable) << r.error;
        ++failed;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto wait_for = [](auto&& cond) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!cond() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
  };
  ASSERT_TRUE(wait_for([&] { return s->stats().series > 0; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.stop(/*crash=*/true);
  EXPECT_TRUE(wait_for([&] { return s->check_database() != "ok"; }));
  EXPECT_TRUE(s->stats().unreachable);
  // The newest sample is answered from memory meanwhile (the live stream's snapshot and
  // /api/grid/latest run on I/O threads: they must never wait for the database).
  const auto asked = std::chrono::steady_clock::now();
  const auto newest = s->latest("m1", "real");
  EXPECT_EQ(s->latest_all("real").size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::milliseconds(100));
  ASSERT_TRUE(newest);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  server.start();
  EXPECT_TRUE(wait_for([&] { return s->check_database() == "ok"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  done = true;
  ingest.join();
  EXPECT_GT(failed, 0u);
  EXPECT_FALSE(acknowledged.empty());
  EXPECT_TRUE(acknowledged.count(newest->record.ts));  // committed before the crash
  store::DataQuery q;
  q.device = "m1";
  q.limit = 1'000'000;
  q.ascending = true;
  const auto page = s->query(q);  // reads reconnect as well
  std::set<TimeUs> stored;
  for (const auto& r : page.records) stored.insert(r.ts);
  EXPECT_EQ(stored.size(), page.records.size());  // none twice
  for (TimeUs t : acknowledged) ASSERT_TRUE(stored.count(t)) << "acknowledged, then lost: " << t;
}
