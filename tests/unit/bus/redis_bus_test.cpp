// The Redis bus's events channel against a real Redis: another replica's events arrive, a
// replica's own do not come back, and malformed messages on the channel are counted and skipped.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bus/redis_bus.hpp"
#include "obs/metrics.hpp"
#include "shared_data.hpp"
#include "testkit.hpp"

using namespace remhart;
using namespace std::chrono_literals;

namespace {

struct Received {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> events;
  std::size_t size() {
    std::lock_guard lock(mu);
    return events.size();
  }
};

bus::RedisBus::DeliverEvent collect(Received& into) {
  return [&into](const std::string& key, const std::string& data) {
    std::lock_guard lock(into.mu);
    into.events.emplace_back(key, data);
  };
}

bus::RedisOptions options(const testkit::RedisServer& redis, const std::string& name) {
  auto o = bus::parse_redis_url(redis.url());
  o.channel = "test:live";
  o.replica = name;
  return o;
}

}  // namespace

TEST(RedisBusEvents, ReachTheOtherReplicasAndMalformedOnesAreSkipped) {
  REQUIRE_SERVICE(testkit::RedisServer, "redis-server");
  testkit::RedisServer redis;
  Received at_a, at_b;
  obs::Registry metrics_b;
  bus::RedisBus a(
      options(redis, "A"), [](auto) {}, collect(at_a));
  bus::RedisBus b(
      options(redis, "B"), [](auto) {}, collect(at_b), &metrics_b);
  ASSERT_TRUE(testkit::eventually([&] { return a.connected() && b.connected(); }, 10s));
  a.publish_event("real\nm1", R"({"device":"m1"})");
  ASSERT_TRUE(testkit::eventually([&] { return at_b.size() == 1; }, 10s));
  EXPECT_EQ(at_b.events[0].first, "real\nm1");
  EXPECT_EQ(at_b.events[0].second, R"({"device":"m1"})");
  // Garbage on the channel: no separators, one separator, an empty message.
  for (const char* bad : {"no-separators", "A-only", ""}) {
    const auto sent = testkit::run_command("redis-cli -p " + std::to_string(redis.port()) +
                                           " PUBLISH test:live:events '" + bad + "'");
    ASSERT_EQ(sent.status, 0) << sent.output;
  }
  a.publish_event("real\nm2", "{}");  // still delivered after them
  ASSERT_TRUE(testkit::eventually([&] { return at_b.size() == 2; }, 10s));
  EXPECT_NE(metrics_b.render().find("remhart_redis_malformed_total 3"), std::string::npos);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(at_a.size(), 0u);  // A's own events do not come back to it
}
