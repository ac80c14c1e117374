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

double LoginThrottle::wait_for(const Entry& e, int free_failures, Clock::time_point now) const {
  if (e.failures < free_failures) return 0;
  const int over = e.failures - free_failures;
  const double delay =
      std::min(std::ldexp(1.0, std::min(over, 30)), static_cast<double>(max_delay_.count()));
  return std::max(0.0, delay - seconds(now - e.last));
}

namespace {

// The keys of an attempt in the shared store: the pair, the address, the account.
std::vector<std::string> shared_keys(const std::string& pair, std::string_view ip,
                                     std::string_view account) {
  return {"p:" + pair, "i:" + std::string(ip), "a:" + std::string(account)};
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

double LoginThrottle::wait_s(std::string_view account, std::string_view ip, Clock::time_point now) {
  const auto pair = pair_key(account, ip);
  // The three counts: the replicas' together from the shared store (which has this one's too,
  // and forgets a pair another replica saw succeed); this replica's own while it is away.
  std::array<Entry, 3> e{};
  const auto counts = shared_ ? shared_->read(shared_keys(pair, ip, account)) : std::nullopt;
  if (counts && counts->size() == e.size()) {
    const auto wall = wall_ms();
    for (std::size_t k = 0; k < e.size(); ++k) {
      const auto& c = (*counts)[k];
      e[k].failures = c.failures;
      e[k].last = now - std::chrono::milliseconds(std::max<std::int64_t>(0, wall - c.last_ms));
    }
  } else {
    std::lock_guard lock(mu_);
    const std::array<std::pair<const Map*, std::string>, 3> local = {
        {{&pairs_, pair}, {&ips_, std::string(ip)}, {&accounts_, std::string(account)}}};
    for (std::size_t k = 0; k < e.size(); ++k) {
      const auto it = local[k].first->find(local[k].second);
      if (it != local[k].first->end()) e[k] = it->second;
    }
  }
  double wait = std::max(wait_for(e[0], pair_free_, now), wait_for(e[1], ip_free_, now));
  if (e[0].failures > 0) wait = std::max(wait, wait_for(e[2], account_ceiling_, now));
  return wait;
}

void LoginThrottle::failed(std::string_view account, std::string_view ip, Clock::time_point now) {
  const auto pair = pair_key(account, ip);
  {
    std::lock_guard lock(mu_);
    prune(now);
    for (auto* e : {&pairs_[pair], &ips_[std::string(ip)], &accounts_[std::string(account)]}) {
      ++e->failures;
      e->last = now;
    }
  }
  if (shared_) shared_->add(shared_keys(pair, ip, account), wall_ms());
}

void LoginThrottle::succeeded(std::string_view account, std::string_view ip) {
  const auto pair = pair_key(account, ip);
  {
    std::lock_guard lock(mu_);
    pairs_.erase(pair);
    accounts_.erase(std::string(account));
  }
  if (shared_) shared_->clear({"p:" + pair, "a:" + std::string(account)});
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
