#pragma once
// Request budgets shared by the replicas: what the local token buckets let through is also
// counted per minute across all replicas (in Redis, `bus::RedisBudget`), so a caller spreading its
// requests over N replicas gets its budget once, not N times.
#include <string_view>

namespace remhart::auth {

class SharedBudget {
 public:
  virtual ~SharedBudget() = default;
  /// Counts one request of `key`; false when the replicas together have already used
  /// `per_minute` in this calendar minute (as of the last exchange, at most ~100 ms old). Never
  /// blocks; while the shared store is away it counts nothing and answers true.
  virtual bool take(std::string_view key, int per_minute) = 0;
  /// Seconds until the current minute, and with it every shared budget, starts again.
  virtual double reset_s() const = 0;
};

}  // namespace remhart::auth
