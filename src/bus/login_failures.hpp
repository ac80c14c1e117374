#pragma once
// auth::SharedLoginFailures in Redis: per key a hash `lf:<key>` {n: failures, last: Unix ms},
// expiring `horizon` after its last failure. One connection, used by one caller at a time (logins
// run on the blocking-job threads); every call is one pipelined round trip with a short timeout.
// While Redis does not answer, calls fail fast (one connection attempt a second at most) and the
// throttles count locally.
#include <chrono>
#include <memory>
#include <mutex>

#include "auth/shared_budget.hpp"
#include "bus/redis_bus.hpp"

namespace remhart::bus {

class RedisLoginFailures final : public auth::SharedLoginFailures {
 public:
  explicit RedisLoginFailures(RedisOptions options,
                              std::chrono::milliseconds horizon = std::chrono::hours(2),
                              obs::Registry* metrics = nullptr);
  ~RedisLoginFailures() override;

  std::optional<std::vector<Count>> read(const std::vector<std::string>& keys) override;
  void add(const std::vector<std::string>& keys, std::int64_t now_ms) override;
  void clear(const std::vector<std::string>& keys) override;

 private:
  struct Connection;
  /// Sends `commands` (argument vectors) pipelined and returns their replies; nullopt when Redis
  /// failed (the connection is dropped and retried no sooner than a second later).
  std::optional<std::vector<std::vector<std::string>>> round_trip(
      const std::vector<std::vector<std::string>>& commands);

  RedisOptions opt_;
  std::chrono::milliseconds horizon_;
  obs::Counter* failures_ = nullptr;
  std::mutex mu_;
  std::unique_ptr<Connection> conn_;  // under mu_
  std::chrono::steady_clock::time_point next_connect_{};
};

}  // namespace remhart::bus
