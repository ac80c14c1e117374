// Leases in the shared database and the leadership built on them: one holder at a time, taken
// over once expired or released, and a leader cut off from the database stops leading by its
// own deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "shared_data.hpp"
#include "store/lease.hpp"
#include "testkit.hpp"

using namespace remhart;
using namespace std::chrono_literals;
using store::Leadership;
using store::MariadbLeases;

namespace {

struct LeaseTest : ::testing::Test {
  void SetUp() override {
    if (!testkit::MariadbServer::available()) {
      if (testkit::running_in_ci()) FAIL() << "mariadb-server is missing (CI): scripts/bootstrap";
      GTEST_SKIP() << "mariadb-server not installed (scripts/bootstrap)";
    }
  }
};

// Leases whose database has gone: every call throws.
struct UnreachableLeases final : store::Leases {
  std::atomic<bool> reachable{true};
  bool acquire(const std::string&, const std::string&, std::chrono::milliseconds) override {
    if (!reachable) throw std::runtime_error("database unreachable");
    return true;
  }
  void release(const std::string&, const std::string&) override {}
  std::string holder(const std::string&) override { return {}; }
};

}  // namespace

TEST_F(LeaseTest, OneHolderAtATimeUntilItExpiresOrIsReleased) {
  const auto url = testkit::MariadbServer::shared().create_database();
  MariadbLeases a(url), b(url);
  EXPECT_TRUE(a.acquire("retention", "A", 60s));
  EXPECT_FALSE(b.acquire("retention", "B", 60s));
  EXPECT_TRUE(a.acquire("retention", "A", 60s));  // renewal
  EXPECT_EQ(b.holder("retention"), "A");
  EXPECT_TRUE(b.acquire("demo", "B", 60s));  // another job, another lease
  a.release("retention", "B");               // only the holder releases
  EXPECT_EQ(a.holder("retention"), "A");
  a.release("retention", "A");
  EXPECT_EQ(a.holder("retention"), "");
  EXPECT_TRUE(b.acquire("retention", "B", 300ms));
  EXPECT_FALSE(a.acquire("retention", "A", 60s));
  std::this_thread::sleep_for(400ms);  // B's lease expires on the database's clock
  EXPECT_EQ(a.holder("retention"), "");
  EXPECT_TRUE(a.acquire("retention", "A", 60s));
  EXPECT_FALSE(b.acquire("retention", "B", 60s));
}

TEST_F(LeaseTest, ExactlyOneReplicaLeadsAndAnotherTakesOverWhenItGoes) {
  const auto url = testkit::MariadbServer::shared().create_database();
  MariadbLeases la(url), lb(url);
  const Leadership::Options oa{"A", 1500ms, 100ms}, ob{"B", 1500ms, 100ms};
  std::atomic<int> gained_a{0}, lost_a{0}, gained_b{0};
  auto a = std::make_unique<Leadership>(la, oa);
  a->add(
      "demo", [&] { ++gained_a; }, [&] { ++lost_a; });
  a->start();
  EXPECT_TRUE(a->leads("demo"));  // the first lease is taken before start() returns
  EXPECT_FALSE(a->leads("other"));
  Leadership b(lb, ob);
  b.add("demo", [&] { ++gained_b; });
  b.start();
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(a->leads("demo"));
  EXPECT_FALSE(b.leads("demo"));
  EXPECT_EQ(gained_a, 1);
  EXPECT_EQ(gained_b, 0);
  // A shuts down: it hands over at once (released), B takes it on its next round.
  a.reset();
  EXPECT_EQ(lost_a, 1);
  EXPECT_TRUE(testkit::eventually([&] { return b.leads("demo"); }, 1s));
  EXPECT_EQ(gained_b, 1);
}

TEST_F(LeaseTest, ACrashedLeadersLeaseIsTakenOnlyAfterItExpires) {
  const auto url = testkit::MariadbServer::shared().create_database();
  MariadbLeases la(url), lb(url);
  EXPECT_TRUE(la.acquire("retention", "A", 1500ms));  // A crashes: never renewed, never released
  const auto t0 = std::chrono::steady_clock::now();
  Leadership b(lb, {"B", 1500ms, 100ms});
  b.add("retention");
  b.start();
  EXPECT_FALSE(b.leads("retention"));
  EXPECT_TRUE(testkit::eventually([&] { return b.leads("retention"); }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(Leadership, ALeaderThatCannotRenewStopsLeadingAtItsDeadline) {
  UnreachableLeases leases;
  std::atomic<int> lost{0};
  Leadership l(leases, {"A", 600ms, 100ms});
  l.add("retention", {}, [&] { ++lost; });
  l.start();
  EXPECT_TRUE(l.leads("retention"));
  leases.reachable = false;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(testkit::eventually([&] { return !l.leads("retention"); }, 2s));
  // Not before the last successful renewal's lease could have run out on the database.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 400ms);
  EXPECT_TRUE(testkit::eventually([&] { return lost == 1; }, 1s));
  leases.reachable = true;
  EXPECT_TRUE(testkit::eventually([&] { return l.leads("retention"); }, 1s));
}

TEST(Leadership, AloneEveryJobIsLed) {
  store::LocalLeases leases;
  Leadership l(leases, {"solo"});
  bool gained = false;
  l.add("training", [&] { gained = true; });
  l.start();
  EXPECT_TRUE(gained);
  EXPECT_TRUE(l.leads("training"));
}
