#include <gtest/gtest.h>

#include <condition_variable>
#include <future>

#include "api/live_fanout.hpp"
#include "api/live_hub.hpp"
#include "store/sqlite_store.hpp"
#include "testkit.hpp"

using namespace remhart;
using api::Outbox;

namespace {
std::shared_ptr<const std::string> msg(const std::string& s) {
  return std::make_shared<const std::string>(s);
}
}  // namespace

TEST(ClientMessages, SubscribeNarrowsAndUnsubscribeRemoves) {
  api::Subscription sub;
  store::DeviceMap devices;
  devices["a"].site = "north";
  devices["b"].site = "south";
  devices["c"].site = "north";
  EXPECT_TRUE(sub.wants_device("b", devices));
  auto c =
      api::apply_client_message(R"({"type":"subscribe","devices":["a"],"max_rate_hz":10})", sub);
  EXPECT_EQ(c.kind, api::ClientCommand::Kind::subscribe);
  EXPECT_TRUE(sub.wants_device("a", devices));
  EXPECT_FALSE(sub.wants_device("b", devices));
  EXPECT_DOUBLE_EQ(sub.max_rate_hz, 10);
  api::apply_client_message(R"({"type":"subscribe","sites":["north"]})", sub);
  EXPECT_TRUE(sub.wants_device("c", devices));
  EXPECT_FALSE(sub.wants_device("b", devices));
  api::apply_client_message(R"({"type":"unsubscribe","devices":["a"],"sites":["north"]})", sub);
  EXPECT_FALSE(sub.wants_device("a", devices));
  EXPECT_FALSE(sub.wants_device("c", devices));
  api::apply_client_message(R"({"type":"subscribe","types":["alarm"],"origin":"sim:r1"})", sub);
  EXPECT_EQ(sub.types, std::set<std::string>{"alarm"});
  EXPECT_EQ(sub.origin, "sim:r1");
}

TEST(ClientMessages, UnsubscribingFromEverythingExcludesDevices) {
  api::Subscription sub;
  store::DeviceMap devices;
  api::apply_client_message(R"({"type":"unsubscribe","devices":["x"]})", sub);
  EXPECT_FALSE(sub.wants_device("x", devices));
  EXPECT_TRUE(sub.wants_device("y", devices));
}

TEST(ClientMessages, RejectsMalformedMessages) {
  api::Subscription sub;
  using K = api::ClientCommand::Kind;
  for (const char* bad :
       {"", "{", "[]", R"({"type":"dance"})", R"({"type":"subscribe","devices":"a"})",
        R"({"type":"subscribe","devices":[1]})", R"({"type":"subscribe","origin":"x"})",
        R"({"type":"subscribe","max_rate_hz":-1})"}) {
    EXPECT_EQ(api::apply_client_message(bad, sub).kind, K::error) << bad;
  }
  EXPECT_TRUE(sub.all_devices);  // failed messages change nothing that matters
  EXPECT_EQ(api::apply_client_message(R"({"type":"ping"})", sub).kind, K::ping);
}

TEST(LiveHub, ARejectedSubscribeChangesNothing) {
  api::Subscription sub;
  using K = api::ClientCommand::Kind;
  // Valid devices and types, then an invalid origin: the message fails whole.
  EXPECT_EQ(api::apply_client_message(
                R"({"type":"subscribe","devices":["m1"],"types":["alarm"],"origin":"bogus"})", sub)
                .kind,
            K::error);
  EXPECT_TRUE(sub.all_devices);
  EXPECT_TRUE(sub.devices.empty());
  EXPECT_EQ(sub.types.size(), 5u);
  EXPECT_EQ(
      api::apply_client_message(R"({"type":"subscribe","devices":["m1"],"max_rate_hz":-1})", sub)
          .kind,
      K::error);
  EXPECT_TRUE(sub.all_devices);
}

TEST(Outbox, DropsTheOldestBeyondItsLimit) {
  Outbox box(3, 1 << 20);
  const auto now = Outbox::Clock::now();
  std::size_t dropped = 0;
  for (int k = 0; k < 5; ++k) dropped += box.push("d", msg(std::to_string(k)), now);
  EXPECT_EQ(dropped, 2u);
  EXPECT_EQ(*box.pop(), "2");
  EXPECT_EQ(*box.pop(), "3");
  EXPECT_EQ(*box.pop(), "4");
  EXPECT_FALSE(box.pop());
}

// Found by attack: 4 clients re-sending `subscribe` and never reading held 1.2 GB (the queue was
// capped in messages; a snapshot is ~250 KB). The queue is capped in bytes too.
TEST(Outbox, DropsTheOldestBeyondItsByteLimit) {
  Outbox box(1000, 1000);
  const auto big = std::make_shared<const std::string>(400, 'x');
  std::size_t dropped = 0;
  for (int k = 0; k < 100; ++k) dropped += box.push_reply(big);
  EXPECT_EQ(box.size(), 2u);
  EXPECT_EQ(box.bytes(), 800u);
  EXPECT_EQ(dropped, 98u);
  // A message above the limit on its own is kept, alone.
  EXPECT_EQ(box.push_reply(std::make_shared<const std::string>(5000, 'y')), 2u);
  EXPECT_EQ(box.size(), 1u);
  EXPECT_EQ(box.pop()->size(), 5000u);
  EXPECT_EQ(box.bytes(), 0u);
}

TEST(Outbox, RateCapCoalescesToTheNewestPerDevice) {
  Outbox box(100, 1 << 20);
  box.set_rate(10);  // at most one message per device per 100 ms
  const auto t0 = Outbox::Clock::now();
  box.push("a", msg("a1"), t0);
  box.push("a", msg("a2"), t0 + std::chrono::milliseconds(10));
  box.push("a", msg("a3"), t0 + std::chrono::milliseconds(20));
  box.push("b", msg("b1"), t0 + std::chrono::milliseconds(20));
  EXPECT_EQ(box.size(), 2u);  // a1 and b1 go at once
  ASSERT_TRUE(box.next_due());
  EXPECT_EQ(*box.next_due(), t0 + std::chrono::milliseconds(100));
  box.release_due(t0 + std::chrono::milliseconds(50));
  EXPECT_EQ(box.size(), 2u);
  box.release_due(t0 + std::chrono::milliseconds(100));
  EXPECT_EQ(*box.pop(), "a1");
  EXPECT_EQ(*box.pop(), "b1");
  EXPECT_EQ(*box.pop(), "a3");  // a2 was coalesced away
  EXPECT_FALSE(box.next_due());
}

TEST(Outbox, RepliesAreNeverRateCappedOrCoalesced) {
  Outbox box(100, 1 << 20);
  box.set_rate(1);
  const auto t0 = Outbox::Clock::now();
  box.push_reply(msg("snapshot"));
  box.push_reply(msg("pong"));
  box.push("a", msg("a1"), t0);
  box.push("a", msg("a2"), t0);
  EXPECT_EQ(*box.pop(), "snapshot");
  EXPECT_EQ(*box.pop(), "pong");
  EXPECT_EQ(*box.pop(), "a1");
  EXPECT_FALSE(box.pop());  // a2 waits for its slot
}

namespace {
struct Collector : api::LiveClient {
  std::mutex mu;
  std::vector<std::string> got;
  void deliver(std::vector<api::LiveMessage> messages) override {
    std::lock_guard lock(mu);
    for (const auto& m : messages) got.push_back(*m.text);
  }
};
}  // namespace

TEST(LiveHub, PublishesOnlyToMatchingClientsAndSnapshotsLatest) {
  testkit::TempDir dir;
  store::SqliteOptions o;
  o.path = dir.path() + "/h.db";
  store::SqliteStore st(o);
  api::LiveHub hub(st);
  auto all = std::make_shared<Collector>();
  auto only_b = std::make_shared<Collector>();
  const auto id_all = hub.add(all);
  const auto id_b = hub.add(only_b);
  api::Subscription sub;
  api::apply_client_message(R"({"type":"subscribe","devices":["b"]})", sub);
  hub.update(id_b, sub);
  store::StoredSample a{"a", "real", {1, {}}}, b{"b", "real", {2, {}}}, sim{"b", "sim:r", {3, {}}};
  hub.publish({a, b, sim});
  EXPECT_EQ(all->got.size(), 2u);
  ASSERT_EQ(only_b->got.size(), 1u);
  EXPECT_NE(only_b->got[0].find("\"device\":\"b\""), std::string::npos);
  EXPECT_NE(only_b->got[0].find("\"type\":\"measurement\""), std::string::npos);
  hub.remove(id_all);
  hub.publish({a});
  EXPECT_EQ(all->got.size(), 2u);
  EXPECT_EQ(hub.clients(), 1u);

  core::Sample s;
  s.device = "b";
  s.ts = 5;
  std::promise<void> done;
  st.submit("real", {s}, [&](const store::WriteResult&) { done.set_value(); });
  done.get_future().wait();
  const auto snap = hub.snapshot(sub);
  EXPECT_NE(snap.find("\"type\":\"snapshot\""), std::string::npos);
  EXPECT_NE(snap.find("\"device\":\"b\""), std::string::npos);
}

namespace {
// A client whose first delivery blocks until released: the fan-out thread stalls behind it.
struct Stalled : api::LiveClient {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false, entered = false;
  std::size_t delivered = 0;
  void deliver(std::vector<api::LiveMessage> messages) override {
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
    delivered += messages.size();
  }
};
}  // namespace

// The queue between commits and live clients was unbounded. Behind a stalled fan-out, commits
// beyond the bound are dropped and counted; the storage thread never waits.
TEST(LiveFanout, DropsBeyondItsBoundAndCountsWithoutBlocking) {
  testkit::TempDir dir;
  store::SqliteOptions o;
  o.path = dir.path() + "/f.db";
  store::SqliteStore st(o);
  api::LiveHub hub(st);
  auto client = std::make_shared<Stalled>();
  hub.add(client);
  api::LiveFanout fanout(hub, 3);
  const std::vector<core::Record> records(10, core::Record{1, {}});
  const std::string device = "d", origin = "real";
  const store::CommittedSeries one{device, origin, records};
  fanout.on_commit(std::span(&one, 1));  // taken by the worker, which stalls in deliver
  {
    std::unique_lock lock(client->mu);
    client->cv.wait(lock, [&] { return client->entered; });
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < 20; ++k) fanout.on_commit(std::span(&one, 1));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(fanout.dropped(), 17u * 10u);  // 3 queued, 17 commits of 10 samples dropped
  {
    std::lock_guard lock(client->mu);
    client->released = true;
  }
  client->cv.notify_all();
  fanout.drain();
  EXPECT_EQ(client->delivered, 4u * 10u);
}

// Found by fuzzing: a client message whose "type" is not a string threw from the I/O thread
// (`{"type":["north"]}` ended the server). Every field of the wrong type is an error message.
TEST(LiveHub, WrongFieldTypesAreErrorsNotExceptions) {
  api::Subscription sub;
  using K = api::ClientCommand::Kind;
  for (const char* m :
       {R"({"type":["north"]})", R"({"type":1})", R"({"type":null})", R"({})",
        R"({"type":"subscribe","origin":5})", R"({"type":"auth","token":[1]})",
        R"({"type":"subscribe","devices":[1]})", R"({"type":"subscribe","max_rate_hz":"x"})"}) {
    api::ClientCommand cmd;
    ASSERT_NO_THROW(cmd = api::apply_client_message(m, sub)) << m;
    EXPECT_EQ(cmd.kind, K::error) << m;
  }
}
