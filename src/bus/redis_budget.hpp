#pragma once
// auth::SharedBudget on Redis: each replica adds what it let through to `rl:<key>:<minute>`
// (INCRBY, expiring after two minutes) every 100 ms in one pipelined round trip and keeps the
// totals the replies carry, so `take` answers from memory.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "auth/shared_budget.hpp"
#include "bus/redis_bus.hpp"

namespace remhart::bus {

class RedisBudget final : public auth::SharedBudget {
 public:
  explicit RedisBudget(RedisOptions options, obs::Registry* metrics = nullptr);
  ~RedisBudget() override;
  bool take(std::string_view key, int per_minute) override;
  double reset_s() const override;
  bool connected() const { return connected_; }

 private:
  struct Entry {
    std::int64_t minute = 0;
    long long pending = 0;  ///< let through here, not yet added in Redis
    long long total = 0;    ///< every replica's count for the minute, as of the last exchange
  };
  void loop();
  static std::int64_t minute_now();

  RedisOptions opt_;
  obs::Counter* failures_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Entry> entries_;
  bool stopping_ = false;
  std::atomic<bool> connected_{false};
  std::thread thread_;
};

}  // namespace remhart::bus
