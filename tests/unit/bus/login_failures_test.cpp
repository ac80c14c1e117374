// Login throttles shared through a real Redis: a guesser alternating between replicas is slowed
// as if it met one; a success on any replica clears the pair everywhere; with Redis away each
// replica throttles on its own counts.
#include <gtest/gtest.h>

#include <chrono>

#include "auth/rate_limit.hpp"
#include "bus/login_failures.hpp"
#include "shared_data.hpp"
#include "testkit.hpp"

using namespace remhart;
using auth::Clock;
using auth::LoginThrottle;

TEST(SharedLoginThrottle, FailuresOnEveryReplicaCountTogether) {
  REQUIRE_SERVICE(testkit::RedisServer, "redis-server");
  testkit::RedisServer redis;
  const auto opt = bus::parse_redis_url(redis.url());
  bus::RedisLoginFailures shared_a(opt), shared_b(opt);
  // 3 free failures per (account, address), 10 per address, 20 per account; at most 900 s.
  LoginThrottle a(3, 10, 20, std::chrono::seconds(900)), b(3, 10, 20, std::chrono::seconds(900));
  a.share(&shared_a);
  b.share(&shared_b);
  const auto t = Clock::now();
  // Alternating replicas: 3 failures in all, then both make the guesser wait.
  a.failed("alice", "6.6.6.6", t);
  b.failed("alice", "6.6.6.6", t);
  EXPECT_EQ(a.wait_s("alice", "6.6.6.6", t), 0);
  a.failed("alice", "6.6.6.6", t);
  EXPECT_GT(a.wait_s("alice", "6.6.6.6", t), 0);
  EXPECT_GT(b.wait_s("alice", "6.6.6.6", t), 0);
  EXPECT_EQ(b.wait_s("alice", "7.7.7.7", t), 0);  // another address is not held back
  // Alice logs in on B: the pair is cleared for A as well.
  b.succeeded("alice", "6.6.6.6");
  EXPECT_EQ(a.wait_s("alice", "6.6.6.6", t), 0);
  // Redis away: each replica goes by its own counts (A has seen 2 of the 4 failures below).
  redis.stop();
  for (int k = 0; k < 2; ++k) {
    a.failed("bob", "5.5.5.5", t);
    b.failed("bob", "5.5.5.5", t);
  }
  EXPECT_EQ(a.wait_s("bob", "5.5.5.5", t), 0);
  a.failed("bob", "5.5.5.5", t);
  EXPECT_GT(a.wait_s("bob", "5.5.5.5", t), 0);
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_EQ(b.wait_s("bob", "5.5.5.5", t), 0);  // fails fast while Redis is away
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(1));
}
