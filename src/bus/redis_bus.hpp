#pragma once
// Cross-replica live fan-out over Redis pub/sub: every replica publishes what it stored on one
// channel and hands what the others stored to its own live hub, so a WebSocket client on any
// replica sees every replica's samples. Best effort, like the local fan-out: while Redis is away
// each replica streams its own samples only (`connected()` is false, /ready lists "redis"), and
// messages that cannot be sent are dropped and counted — the store has them.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"

namespace remhart::obs {
class Registry;
class Counter;
}  // namespace remhart::obs

namespace remhart::bus {

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;
  std::string channel = "remhart:live";
  std::string replica;  ///< this replica's name: its own messages are not delivered back
  std::size_t max_queued_bytes = 64u << 20;  ///< bytes waiting to be published; beyond, dropped
};
/// `redis://[:password@]host[:port]`; throws std::invalid_argument naming what is wrong.
RedisOptions parse_redis_url(std::string_view url);

class RedisBus {
 public:
  using Deliver = std::function<void(std::vector<store::StoredSample>)>;
  /// A text event of another replica (`key`, `data`): the analytics of the devices it owns.
  using DeliverEvent = std::function<void(const std::string& key, const std::string& data)>;
  /// Starts the publisher and subscriber threads (they connect, and reconnect, on their own).
  /// Samples travel on `channel`, events on `channel` + ":events".
  RedisBus(RedisOptions options, Deliver deliver, DeliverEvent on_event = {},
           obs::Registry* metrics = nullptr);
  ~RedisBus();
  RedisBus(const RedisBus&) = delete;
  RedisBus& operator=(const RedisBus&) = delete;

  /// Queues one commit's samples for the other replicas; never blocks (the storage thread).
  void publish(std::span<const store::CommittedSeries> committed);
  /// Queues an event for the other replicas; never blocks, dropped and counted like samples.
  void publish_event(const std::string& key, const std::string& data);
  /// Both connections are up: samples flow both ways.
  bool connected() const { return publishing_ && subscribed_; }

 private:
  void publisher_loop();
  void subscriber_loop();
  void wait_before_retry(std::chrono::milliseconds& backoff);
  /// Runs a thread's loop again after an exception (counted, logged) until it returns.
  void keep_running(const char* name, void (RedisBus::*loop)());
  /// Queues a message for `channel` (bounded in bytes).
  void enqueue(const std::string& channel, std::string message);
  /// Hands another replica's event to `on_event_` (malformed ones counted and skipped).
  void deliver_event(std::string_view bytes);
  struct Outgoing {
    const std::string* channel = nullptr;
    std::string message;
  };

  RedisOptions opt_;
  Deliver deliver_;
  DeliverEvent on_event_;
  std::string events_channel_;
  obs::Counter *published_ = nullptr, *received_ = nullptr, *dropped_ = nullptr,
               *malformed_ = nullptr, *failures_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Outgoing> queue_;
  std::size_t queued_bytes_ = 0;  // under mu_
  bool stopping_ = false;
  std::atomic<bool> publishing_{false}, subscribed_{false};
  std::atomic<int> subscriber_fd_{-1};
  std::thread publisher_, subscriber_;
};

}  // namespace remhart::bus
