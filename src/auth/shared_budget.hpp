#pragma once
// Request budgets shared by the replicas: what the local token buckets let through is also
// counted per minute across all replicas (in Redis, `bus::RedisBudget`), so a caller spreading its
// requests over N replicas gets its budget once, not N times.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// Failed logins counted across the replicas (in Redis, `bus::RedisLoginFailures`), so a guesser
/// spreading attempts over N replicas is slowed as if all met one. Called from the blocking-job
/// threads (logins hash passwords there): each call is one short round trip.
class SharedLoginFailures {
 public:
  struct Count {
    int failures = 0;
    std::int64_t last_ms = 0;  ///< Unix milliseconds of the last failure
  };
  virtual ~SharedLoginFailures() = default;
  /// Each key's failures across the replicas; nullopt while the shared store is away (the local
  /// counts then stand alone).
  virtual std::optional<std::vector<Count>> read(const std::vector<std::string>& keys) = 0;
  /// Adds one failure at `now_ms` to each key.
  virtual void add(const std::vector<std::string>& keys, std::int64_t now_ms) = 0;
  /// Forgets the keys (a successful login).
  virtual void clear(const std::vector<std::string>& keys) = 0;
};

}  // namespace remhart::auth
