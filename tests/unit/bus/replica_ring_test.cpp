// Device affinity: rendezvous hashing spreads devices evenly and moves only what must move; the
// ring in a real Redis gives every device exactly one owner among the live replicas and hands a
// replica's devices to the others when it leaves or stops answering.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bus/replica_ring.hpp"
#include "shared_data.hpp"
#include "testkit.hpp"

using namespace remhart;
using namespace std::chrono_literals;
using bus::rendezvous_owner;
using bus::ReplicaRing;

namespace {

std::vector<std::string> devices(int n) {
  std::vector<std::string> out;
  for (int k = 0; k < n; ++k) out.push_back("fdr1-m" + std::to_string(k));
  return out;
}

ReplicaRing::Options ring_options(const testkit::RedisServer& redis, const std::string& name) {
  ReplicaRing::Options o;
  o.redis = bus::parse_redis_url(redis.url());
  o.redis.replica = name;
  o.key = "test:replicas";
  o.heartbeat = 100ms;
  o.expiry = 500ms;
  return o;
}

}  // namespace

TEST(Rendezvous, SpreadsDevicesEvenlyAndMovesOnlyWhatMustMove) {
  const std::vector<std::string> three = {"a:1", "b:2", "c:3"};
  const auto ids = devices(30000);
  std::map<std::string, int> count;
  std::map<std::string, std::string> owner;
  for (const auto& d : ids) {
    owner[d] = std::string(rendezvous_owner(three, d));
    ++count[owner[d]];
  }
  for (const auto& m : three) {
    EXPECT_NEAR(count[m], 10000, 600) << m;
  }
  // The order of the list does not matter.
  const std::vector<std::string> shuffled = {"c:3", "a:1", "b:2"};
  for (int k = 0; k < 1000; ++k) EXPECT_EQ(rendezvous_owner(shuffled, ids[k]), owner[ids[k]]);
  // c leaves: only c's devices move, spread over a and b.
  const std::vector<std::string> two = {"a:1", "b:2"};
  int moved_to_a = 0, moved_to_b = 0;
  for (const auto& d : ids) {
    const auto now = std::string(rendezvous_owner(two, d));
    if (owner[d] != "c:3") {
      EXPECT_EQ(now, owner[d]);
    } else {
      ++(now == "a:1" ? moved_to_a : moved_to_b);
    }
  }
  EXPECT_NEAR(moved_to_a, moved_to_b, 800);
  // d joins: it takes about a quarter, each from its old owner, and nothing else moves.
  const std::vector<std::string> four = {"a:1", "b:2", "c:3", "d:4"};
  int taken = 0;
  for (const auto& d : ids) {
    const auto now = std::string(rendezvous_owner(four, d));
    if (now == "d:4") {
      ++taken;
    } else {
      EXPECT_EQ(now, owner[d]);
    }
  }
  EXPECT_NEAR(taken, 7500, 600);
  EXPECT_EQ(rendezvous_owner({}, "m1"), "");
}

TEST(ReplicaRing, EveryDeviceHasOneOwnerAndALeavingReplicasDevicesMove) {
  REQUIRE_SERVICE(testkit::RedisServer, "redis-server");
  testkit::RedisServer redis;
  ReplicaRing a(ring_options(redis, "A"));
  auto b = std::make_unique<ReplicaRing>(ring_options(redis, "B"));
  ASSERT_TRUE(
      testkit::eventually([&] { return a.members().size() == 2 && b->members().size() == 2; }, 2s));
  const auto ids = devices(2000);
  int owned_a = 0;
  for (const auto& d : ids) {
    EXPECT_NE(a.owns(d), b->owns(d)) << d;  // exactly one owner
    owned_a += a.owns(d);
  }
  EXPECT_NEAR(owned_a, 1000, 150);
  // B stops cleanly: it leaves the ring and A owns everything at its next heartbeat.
  b.reset();
  ASSERT_TRUE(
      testkit::eventually([&] { return a.members() == std::vector<std::string>{"A"}; }, 1s));
  for (const auto& d : ids) EXPECT_TRUE(a.owns(d)) << d;
}

TEST(ReplicaRing, AReplicaThatStopsAnsweringExpiresAndRedisAwayMeansOwningWhatArrives) {
  REQUIRE_SERVICE(testkit::RedisServer, "redis-server");
  testkit::RedisServer redis;
  ReplicaRing a(ring_options(redis, "A"));
  // A replica that died without leaving: its last heartbeat (Redis runs on this machine's clock).
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const auto added =
      testkit::run_command("redis-cli -p " + std::to_string(redis.port()) + " ZADD test:replicas " +
                           std::to_string(now_ms) + " dead");
  ASSERT_EQ(added.status, 0) << added.output;
  ASSERT_TRUE(testkit::eventually([&] { return a.members().size() == 2; }, 1s));
  const auto ids = devices(500);
  int owned = 0;
  for (const auto& d : ids) owned += a.owns(d);
  EXPECT_LT(owned, 400);  // about half is the dead one's while it counts as alive
  ASSERT_TRUE(
      testkit::eventually([&] { return a.members() == std::vector<std::string>{"A"}; }, 2s));
  for (const auto& d : ids) EXPECT_TRUE(a.owns(d));
  // Redis away: A keeps the state of whatever it receives, as a replica alone.
  redis.stop();
  ASSERT_TRUE(testkit::eventually([&] { return !a.connected(); }, 2s));
  EXPECT_TRUE(a.members().empty());
  for (const auto& d : ids) EXPECT_TRUE(a.owns(d));
  redis.start();
  EXPECT_TRUE(testkit::eventually([&] { return a.connected() && a.members().size() == 1; }, 8s));
}
