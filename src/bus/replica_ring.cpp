#include "bus/replica_ring.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstdint>

#include <spdlog/spdlog.h>

#include "bus/redis_conn.hpp"
#include "obs/metrics.hpp"

namespace remhart::bus {

namespace {

// FNV-1a over the member, a separator and the device, then the splitmix64 finaliser: a hash
// that is the same on every machine and build (std::hash is neither promised).
std::uint64_t weight(std::string_view member, std::string_view device) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](std::string_view s) {
    for (const unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  mix(member);
  mix(std::string_view("\0", 1));
  mix(device);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

// Registers ARGV[1] at Redis' time, drops members not seen for ARGV[2] ms, returns the rest.
// Redis' clock, not the replicas': their clocks never need to agree.
constexpr const char* kHeartbeat =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "redis.call('ZADD', KEYS[1], now, ARGV[1]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2])) "
    "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 10) "
    "return redis.call('ZRANGE', KEYS[1], 0, -1)";

}  // namespace

std::string_view rendezvous_owner(std::span<const std::string> members, std::string_view device) {
  std::string_view best;
  std::uint64_t best_weight = 0;
  for (const auto& m : members) {
    const auto w = weight(m, device);
    if (best.empty() || w > best_weight || (w == best_weight && m < best)) {
      best = m;
      best_weight = w;
    }
  }
  return best;
}

struct ReplicaRing::Connection {
  detail::Context context;
};

ReplicaRing::ReplicaRing(Options options, obs::Registry* metrics)
    : opt_(std::move(options)), conn_(std::make_unique<Connection>()) {
  if (metrics) {
    failures_ = &metrics->counter("remhart_redis_connection_failures_total",
                                  "Redis connections lost or refused");
    metrics->gauge_fn("remhart_replicas", "Live replicas in the ring (0 while Redis is away)",
                      [this] { return static_cast<double>(members().size()); });
  }
  beat();  // a replica that starts owns its share from its first sample
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rh-ring");
    for (;;) {
      try {
        loop();
        return;
      } catch (const std::exception& e) {
        spdlog::error("redis: the replica ring failed: {}; starting again", e.what());
      } catch (...) {
        spdlog::error("redis: the replica ring failed; starting again");
      }
      if (failures_) failures_->inc();
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, opt_.heartbeat, [this] { return stopping_; })) return;
    }
  });
}

ReplicaRing::~ReplicaRing() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (conn_->context) {
    const auto& key = opt_.key;
    const auto& me = opt_.redis.replica;
    detail::Reply r(static_cast<redisReply*>(redisCommand(
        conn_->context.get(), "ZREM %b %b", key.data(), key.size(), me.data(), me.size())));
  }
}

bool ReplicaRing::owns(std::string_view device) const {
  std::shared_ptr<const std::vector<std::string>> members;
  {
    std::lock_guard lock(mu_);
    members = members_;
  }
  if (!members) return true;
  return rendezvous_owner(*members, device) == opt_.redis.replica;
}

std::vector<std::string> ReplicaRing::members() const {
  std::lock_guard lock(mu_);
  return members_ ? *members_ : std::vector<std::string>{};
}

void ReplicaRing::loop() {
  auto backoff = opt_.heartbeat;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, backoff, [this] { return stopping_; })) return;
    }
    backoff = beat() ? opt_.heartbeat
                     : std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
  }
}

bool ReplicaRing::beat() {
  auto& c = conn_->context;
  if (!c) {
    std::string error;
    c = detail::connect(opt_.redis, error);
    if (!c) {
      if (connected_.exchange(false)) spdlog::warn("redis: the replica ring is away: {}", error);
      if (failures_) failures_->inc();
      std::lock_guard lock(mu_);
      members_.reset();
      return false;
    }
  }
  const auto& me = opt_.redis.replica;
  const auto expiry = std::to_string(opt_.expiry.count());
  detail::Reply r(static_cast<redisReply*>(redisCommand(c.get(), "EVAL %s 1 %b %b %b", kHeartbeat,
                                                        opt_.key.data(), opt_.key.size(), me.data(),
                                                        me.size(), expiry.data(), expiry.size())));
  if (!r || r->type != REDIS_REPLY_ARRAY) {
    spdlog::warn("redis: replica ring heartbeat failed: {}",
                 r && r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : c->errstr);
    if (failures_) failures_->inc();
    c.reset();
    connected_ = false;
    std::lock_guard lock(mu_);
    members_.reset();
    return false;
  }
  auto members = std::make_shared<std::vector<std::string>>();
  for (std::size_t k = 0; k < r->elements; ++k) {
    const auto* e = r->element[k];
    if (e->type == REDIS_REPLY_STRING) members->emplace_back(e->str, e->len);
  }
  if (std::find(members->begin(), members->end(), me) == members->end()) members->push_back(me);
  std::sort(members->begin(), members->end());
  {
    std::lock_guard lock(mu_);
    if (!members_ || *members_ != *members) {
      spdlog::info("redis: {} replica(s) share the devices", members->size());
    }
    members_ = std::move(members);
  }
  connected_ = true;
  return true;
}

}  // namespace remhart::bus
