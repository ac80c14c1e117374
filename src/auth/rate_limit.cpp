#include "auth/rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace remhart::auth {

namespace {
double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}
}  // namespace

RateLimiter::Shard& RateLimiter::shard(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % shards_.size()];
}

RateDecision RateLimiter::take(std::string_view key, int per_minute, Clock::time_point now) {
  RateDecision d;
  d.limit = per_minute;
  const double capacity = per_minute;
  const double rate = capacity / 60.0;
  Shard& s = shard(key);
  std::lock_guard lock(s.mu);
  auto it = s.buckets.find(std::string(key));
  if (it == s.buckets.end()) it = s.buckets.emplace(std::string(key), Bucket{capacity, now}).first;
  Bucket& b = it->second;
  b.tokens = std::min(capacity, b.tokens + std::max(0.0, seconds(now - b.updated)) * rate);
  b.updated = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    d.allowed = true;
  } else {
    d.allowed = false;
    d.retry_after_s = rate > 0 ? (1.0 - b.tokens) / rate : 60.0;
  }
  d.remaining = static_cast<int>(std::floor(b.tokens));
  d.reset_s = rate > 0 ? (capacity - b.tokens) / rate : 60.0;
  return d;
}

void RateLimiter::prune(Clock::time_point now) {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mu);
    std::erase_if(s.buckets, [&](const auto& kv) {
      return now - kv.second.updated > std::chrono::minutes(2);
    });
  }
}

std::size_t RateLimiter::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.buckets.size();
  }
  return n;
}

LoginThrottle::LoginThrottle(int pair_free_failures, int ip_free_failures, int account_ceiling,
                             std::chrono::seconds max_delay)
    : pair_free_(pair_free_failures),
      ip_free_(ip_free_failures),
      account_ceiling_(account_ceiling),
      max_delay_(max_delay) {}

namespace {
std::string pair_key(std::string_view account, std::string_view ip) {
  std::string k(account);
  k += '\n';
  k += ip;
  return k;
}
}  // namespace

double LoginThrottle::wait_for(const Map& m, const std::string& key, int free_failures,
                               Clock::time_point now) const {
  const auto it = m.find(key);
  if (it == m.end() || it->second.failures < free_failures) return 0;
  const int over = it->second.failures - free_failures;
  const double delay =
      std::min(std::ldexp(1.0, std::min(over, 30)), static_cast<double>(max_delay_.count()));
  return std::max(0.0, delay - seconds(now - it->second.last));
}

double LoginThrottle::wait_s(std::string_view account, std::string_view ip, Clock::time_point now) {
  std::lock_guard lock(mu_);
  const auto pair = pair_key(account, ip);
  double wait = std::max(wait_for(pairs_, pair, pair_free_, now),
                         wait_for(ips_, std::string(ip), ip_free_, now));
  if (pairs_.count(pair)) {
    wait = std::max(wait, wait_for(accounts_, std::string(account), account_ceiling_, now));
  }
  return wait;
}

void LoginThrottle::failed(std::string_view account, std::string_view ip, Clock::time_point now) {
  std::lock_guard lock(mu_);
  prune(now);
  for (auto* e :
       {&pairs_[pair_key(account, ip)], &ips_[std::string(ip)], &accounts_[std::string(account)]}) {
    ++e->failures;
    e->last = now;
  }
}

void LoginThrottle::succeeded(std::string_view account, std::string_view ip) {
  std::lock_guard lock(mu_);
  pairs_.erase(pair_key(account, ip));
  accounts_.erase(std::string(account));
}

void LoginThrottle::prune(Clock::time_point now) {
  if (now - last_prune_ < std::chrono::minutes(1)) return;
  last_prune_ = now;
  const auto horizon = max_delay_ + std::chrono::hours(1);
  for (auto* m : {&pairs_, &ips_, &accounts_}) {
    std::erase_if(*m, [&](const auto& kv) { return now - kv.second.last > horizon; });
  }
}

}  // namespace remhart::auth
