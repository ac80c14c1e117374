#pragma once
// Request budgets: token buckets per key ("ip:…", "user:…", "key:…"), and login throttling with a
// growing delay per account and per client address. In memory, sharded by key. (Across replicas
// both are also counted in Redis: auth::SharedBudget, auth::SharedLoginFailures.)
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/shared_budget.hpp"

namespace remhart::auth {

using Clock = std::chrono::steady_clock;

struct RateDecision {
  bool allowed = true;
  int limit = 0;             ///< the budget per minute
  int remaining = 0;         ///< whole requests left right now
  double retry_after_s = 0;  ///< when refused: until one request is available
  double reset_s = 0;        ///< until the bucket is full again
};

class RateLimiter {
 public:
  /// Takes one request from `key`'s bucket, which holds `per_minute` requests and refills at
  /// `per_minute` / 60 per second.
  RateDecision take(std::string_view key, int per_minute, Clock::time_point now);
  /// Forgets buckets that have been full for a while (bounded memory under many addresses).
  void prune(Clock::time_point now);
  std::size_t size() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  Shard& shard(std::string_view key);
  std::array<Shard, 16> shards_;
};

/// Exponential back-off after repeated failed logins, so that guessing is slow and a flood from
/// one address never locks the real user out from another:
/// - per (account, address): after `pair_free_failures` failures, each further attempt must wait
///   2^(n - free) seconds (capped at `max_delay`) after the last failure;
/// - per address, across accounts: the same after `ip_free_failures` (password spraying);
/// - per account, from every address: the same after `account_ceiling` failures (a guess
///   spread over many addresses) — but only for addresses that have themselves failed on that
///   account, so an address with no failed attempt on it still gets through.
/// A successful login clears its (account, address) and the account-wide count.
/// With several replicas the counts are kept in the shared store as well, and read from there
/// (every replica's failures, cleared by a success on any); the local counts apply while it is
/// away.
class LoginThrottle {
 public:
  LoginThrottle(int pair_free_failures, int ip_free_failures, int account_ceiling,
                std::chrono::seconds max_delay);
  /// Counts failures across replicas too (null: this process alone). Set before use.
  void share(SharedLoginFailures* shared) { shared_ = shared; }

  /// Seconds the caller must still wait before trying this account from this address (0 = go).
  double wait_s(std::string_view account, std::string_view ip, Clock::time_point now);
  void failed(std::string_view account, std::string_view ip, Clock::time_point now);
  void succeeded(std::string_view account, std::string_view ip);

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point last;
  };
  using Map = std::unordered_map<std::string, Entry>;
  double wait_for(const Entry& e, int free_failures, Clock::time_point now) const;
  void prune(Clock::time_point now);

  std::mutex mu_;
  int pair_free_, ip_free_, account_ceiling_;
  std::chrono::seconds max_delay_;
  Map pairs_, ips_, accounts_;
  Clock::time_point last_prune_{};
  SharedLoginFailures* shared_ = nullptr;
};

}  // namespace remhart::auth
