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
  /// Starts the publisher and subscriber threads (they connect, and reconnect, on their own).
  RedisBus(RedisOptions options, Deliver deliver, obs::Registry* metrics = nullptr);
  ~RedisBus();
  RedisBus(const RedisBus&) = delete;
  RedisBus& operator=(const RedisBus&) = delete;

  /// Queues one commit's samples for the other replicas; never blocks (the storage thread).
  void publish(std::span<const store::CommittedSeries> committed);
  /// Both connections are up: samples flow both ways.
  bool connected() const { return publishing_ && subscribed_; }

 private:
  void publisher_loop();
  void subscriber_loop();
  void wait_before_retry(std::chrono::milliseconds& backoff);
  /// Runs a thread's loop again after an exception (counted, logged) until it returns.
  void keep_running(const char* name, void (RedisBus::*loop)());

  RedisOptions opt_;
  Deliver deliver_;
  obs::Counter *published_ = nullptr, *received_ = nullptr, *dropped_ = nullptr,
               *malformed_ = nullptr, *failures_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::size_t queued_bytes_ = 0;  // under mu_
  bool stopping_ = false;
  std::atomic<bool> publishing_{false}, subscribed_{false};
  std::atomic<int> subscriber_fd_{-1};
  std::thread publisher_, subscriber_;
};

}  // namespace remhart::bus
