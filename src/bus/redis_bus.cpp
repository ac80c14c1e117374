#include "bus/redis_bus.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdlib>
#include <memory>

#include "bus/live_codec.hpp"
#include "bus/redis_budget.hpp"
#include "bus/redis_conn.hpp"
#include "obs/metrics.hpp"

namespace remhart::bus {

using detail::connect;
using detail::Context;
using detail::Reply;

namespace detail {

Context connect(const RedisOptions& o, std::string& error, std::chrono::milliseconds timeout) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  const timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  Context c(redisConnectWithTimeout(o.host.c_str(), o.port, tv));
  if (!c || c->err) {
    error = c ? c->errstr : "cannot allocate a Redis context";
    return nullptr;
  }
  redisEnableKeepAlive(c.get());
  if (!o.password.empty()) {
    redisSetTimeout(c.get(), tv);  // a server that accepted but does not answer
    Reply r(static_cast<redisReply*>(redisCommand(c.get(), "AUTH %s", o.password.c_str())));
    if (!r || r->type == REDIS_REPLY_ERROR) {
      error = r ? std::string(r->str, r->len) : c->errstr;
      return nullptr;
    }
    redisSetTimeout(c.get(), timeval{0, 0});
  }
  return c;
}

}  // namespace detail

RedisOptions parse_redis_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (url.substr(0, scheme.size()) != scheme) {
    throw std::invalid_argument("the Redis URL must start with redis://");
  }
  RedisOptions o;
  auto rest = url.substr(scheme.size());
  if (const auto slash = rest.find('/'); slash != std::string_view::npos)
    rest = rest.substr(0, slash);
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    auto userinfo = rest.substr(0, at);
    if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      o.password = std::string(userinfo.substr(colon + 1));
    }
    rest = rest.substr(at + 1);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    const auto p = rest.substr(colon + 1);
    int port = 0;
    const auto r = std::from_chars(p.data(), p.data() + p.size(), port);
    if (r.ec != std::errc() || r.ptr != p.data() + p.size() || port <= 0 || port > 65535) {
      throw std::invalid_argument("bad port in the Redis URL");
    }
    o.port = port;
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) throw std::invalid_argument("the Redis URL names no host");
  o.host = std::string(rest);
  return o;
}

RedisBus::RedisBus(RedisOptions options, Deliver deliver, DeliverEvent on_event,
                   obs::Registry* metrics)
    : opt_(std::move(options)),
      deliver_(std::move(deliver)),
      on_event_(std::move(on_event)),
      events_channel_(opt_.channel + ":events") {
  if (metrics) {
    published_ = &metrics->counter("remhart_redis_published_total",
                                   "Commits published to the other replicas");
    received_ = &metrics->counter("remhart_redis_received_total",
                                  "Samples received from the other replicas for the live stream");
    dropped_ = &metrics->counter("remhart_redis_dropped_total",
                                 "Commits not published: Redis away or the queue full");
    malformed_ = &metrics->counter("remhart_redis_malformed_total",
                                   "Messages on the live channel that could not be read");
    failures_ = &metrics->counter("remhart_redis_connection_failures_total",
                                  "Redis connections lost or refused");
    metrics->gauge_fn("remhart_redis_connected", "1 while live samples flow to and from Redis",
                      [this] { return connected() ? 1.0 : 0.0; });
  }
  publisher_ = std::thread([this] { keep_running("publisher", &RedisBus::publisher_loop); });
  subscriber_ = std::thread([this] { keep_running("subscriber", &RedisBus::subscriber_loop); });
}

RedisBus::~RedisBus() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (const int fd = subscriber_fd_.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);  // wakes the read
  publisher_.join();
  subscriber_.join();
}

void RedisBus::publish(std::span<const store::CommittedSeries> committed) {
  if (!publishing_) {  // Redis away: nothing queued for later, live data would be stale
    if (dropped_) dropped_->inc();
    return;
  }
  enqueue(opt_.channel, encode_live(opt_.replica, committed));
}

namespace {
// An event on the wire: sender NUL key NUL data (keys and JSON data carry no NUL).
constexpr std::size_t kMaxEventBytes = 1 << 20;
}  // namespace

void RedisBus::publish_event(const std::string& key, const std::string& data) {
  if (!publishing_ || opt_.replica.size() + key.size() + data.size() + 2 > kMaxEventBytes) {
    if (dropped_) dropped_->inc();
    return;
  }
  std::string message;
  message.reserve(opt_.replica.size() + key.size() + data.size() + 2);
  message.append(opt_.replica).append(1, '\0').append(key).append(1, '\0').append(data);
  enqueue(events_channel_, std::move(message));
}

void RedisBus::enqueue(const std::string& channel, std::string message) {
  {
    std::lock_guard lock(mu_);
    if (queued_bytes_ + message.size() > opt_.max_queued_bytes) {
      if (dropped_) dropped_->inc();
      return;
    }
    queued_bytes_ += message.size();
    queue_.push_back({&channel, std::move(message)});
  }
  cv_.notify_one();
}

void RedisBus::keep_running(const char* name, void (RedisBus::*loop)()) {
  for (;;) {
    try {
      (this->*loop)();
      return;  // stopping
    } catch (const std::exception& e) {
      spdlog::error("redis: the {} thread failed: {}; starting it again", name, e.what());
    } catch (...) {
      spdlog::error("redis: the {} thread failed; starting it again", name);
    }
    if (failures_) failures_->inc();
    publishing_ = subscribed_ = false;
    auto backoff = std::chrono::milliseconds(1000);
    wait_before_retry(backoff);
  }
}

void RedisBus::wait_before_retry(std::chrono::milliseconds& backoff) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, backoff, [this] { return stopping_; });
  backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
}

void RedisBus::publisher_loop() {
  auto backoff = std::chrono::milliseconds(250);
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    std::string error;
    Context c = connect(opt_, error);
    if (!c) {
      if (failures_) failures_->inc();
      spdlog::warn("redis: cannot connect the publisher to {}:{}: {}", opt_.host, opt_.port, error);
      wait_before_retry(backoff);
      continue;
    }
    backoff = std::chrono::milliseconds(250);
    publishing_ = true;
    while (true) {
      Outgoing out;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        out = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= out.message.size();
      }
      const auto& message = out.message;
      Reply r(static_cast<redisReply*>(redisCommand(c.get(), "PUBLISH %s %b", out.channel->c_str(),
                                                    message.data(), message.size())));
      if (!r) {
        publishing_ = false;
        if (failures_) failures_->inc();
        if (dropped_) dropped_->inc();
        spdlog::warn("redis: publishing failed ({}); reconnecting", c->errstr);
        {
          std::lock_guard lock(mu_);
          queue_.clear();  // stale by the time Redis is back
          queued_bytes_ = 0;
        }
        break;
      }
      if (published_) published_->inc();
    }
  }
}

void RedisBus::deliver_event(std::string_view bytes) {
  const auto a = bytes.find('\0');
  const auto b = a == std::string_view::npos ? a : bytes.find('\0', a + 1);
  if (b == std::string_view::npos || bytes.size() > kMaxEventBytes) {
    if (malformed_) malformed_->inc();
    return;
  }
  if (bytes.substr(0, a) == opt_.replica || !on_event_) return;  // its own
  try {
    on_event_(std::string(bytes.substr(a + 1, b - a - 1)), std::string(bytes.substr(b + 1)));
  } catch (const std::exception& e) {
    if (failures_) failures_->inc();
    spdlog::error("redis: delivering an event failed: {}", e.what());
  } catch (...) {
    if (failures_) failures_->inc();
    spdlog::error("redis: delivering an event failed");
  }
}

void RedisBus::subscriber_loop() {
  auto backoff = std::chrono::milliseconds(250);
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    std::string error;
    Context c = connect(opt_, error);
    Reply r;
    if (c)
      r.reset(static_cast<redisReply*>(
          redisCommand(c.get(), "SUBSCRIBE %s %s", opt_.channel.c_str(), events_channel_.c_str())));
    if (!c || !r || r->type == REDIS_REPLY_ERROR) {
      if (failures_) failures_->inc();
      if (c && error.empty()) error = r ? std::string(r->str, r->len) : c->errstr;
      spdlog::warn("redis: cannot subscribe to {} on {}:{}: {}", opt_.channel, opt_.host, opt_.port,
                   error);
      wait_before_retry(backoff);
      continue;
    }
    backoff = std::chrono::milliseconds(250);
    subscriber_fd_ = c->fd;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;  // (the destructor may have missed the fd)
    }
    subscribed_ = true;
    spdlog::info("redis: live samples shared through {} on {}:{}", opt_.channel, opt_.host,
                 opt_.port);
    for (;;) {
      void* raw = nullptr;
      if (redisGetReply(c.get(), &raw) != REDIS_OK) break;
      Reply m(static_cast<redisReply*>(raw));
      // ["message", channel, payload]
      if (!m || m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
          m->element[1]->type != REDIS_REPLY_STRING || m->element[2]->type != REDIS_REPLY_STRING) {
        continue;  // the second subscription's confirmation, and anything else
      }
      if (std::string_view(m->element[1]->str, m->element[1]->len) == events_channel_) {
        deliver_event(std::string_view(m->element[2]->str, m->element[2]->len));
        continue;
      }
      auto decoded = decode_live(std::string_view(m->element[2]->str, m->element[2]->len));
      if (!decoded) {
        if (malformed_) malformed_->inc();
        continue;
      }
      if (decoded->sender == opt_.replica) continue;  // its own
      if (received_) received_->inc(decoded->samples.size());
      try {
        deliver_(std::move(decoded->samples));
      } catch (const std::exception& e) {
        if (failures_) failures_->inc();
        spdlog::error("redis: delivering live samples failed: {}", e.what());
      }
    }
    subscribed_ = false;
    subscriber_fd_ = -1;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (failures_) failures_->inc();
    spdlog::warn("redis: the subscription was lost ({}); reconnecting", c->errstr);
    wait_before_retry(backoff);
  }
}

// ---- shared request budgets ----------------------------------------------------------------

namespace {
constexpr std::size_t kMaxBudgetKeys = 100'000;  // beyond, new keys are limited locally only
}

RedisBudget::RedisBudget(RedisOptions options, obs::Registry* metrics) : opt_(std::move(options)) {
  if (metrics) {
    failures_ = &metrics->counter("remhart_redis_connection_failures_total",
                                  "Redis connections lost or refused");
    metrics->gauge_fn("remhart_redis_budgets_connected",
                      "1 while request budgets are shared through Redis",
                      [this] { return connected_ ? 1.0 : 0.0; });
  }
  thread_ = std::thread([this] {
    for (;;) {
      try {
        loop();
        return;  // stopping
      } catch (const std::exception& e) {
        spdlog::error("redis: sharing request budgets failed: {}; starting again", e.what());
      } catch (...) {
        spdlog::error("redis: sharing request budgets failed; starting again");
      }
      connected_ = false;
      if (failures_) failures_->inc();
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) return;
    }
  });
}

RedisBudget::~RedisBudget() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::int64_t RedisBudget::minute_now() {
  return std::chrono::duration_cast<std::chrono::minutes>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double RedisBudget::reset_s() const {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto into = now - std::chrono::duration_cast<std::chrono::minutes>(now);
  return 60.0 - std::chrono::duration<double>(into).count();
}

bool RedisBudget::take(std::string_view key, int per_minute) {
  if (!connected_) return true;  // Redis away: the local buckets alone
  const auto minute = minute_now();
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(key));
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxBudgetKeys) return true;
    it = entries_.emplace(std::string(key), Entry{minute, 0, 0}).first;
  }
  Entry& e = it->second;
  if (e.minute != minute) e = Entry{minute, 0, 0};
  if (e.total + e.pending >= per_minute) return false;
  ++e.pending;
  return true;
}

void RedisBudget::loop() {
  Context c;
  auto backoff = std::chrono::milliseconds(250);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; })) return;
    }
    if (!c) {
      std::string error;
      c = connect(opt_, error);
      if (!c) {
        connected_ = false;
        if (failures_) failures_->inc();
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, backoff, [this] { return stopping_; });
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
        continue;
      }
      backoff = std::chrono::milliseconds(250);
      connected_ = true;
    }
    // What this replica let through since the last round, and every key of this minute (to
    // learn what the others used), in one pipelined round trip.
    struct Item {
      std::string key;
      std::int64_t minute;
      long long add;
    };
    std::vector<Item> items;
    const auto minute = minute_now();
    {
      std::lock_guard lock(mu_);
      std::erase_if(entries_, [&](const auto& kv) { return kv.second.minute < minute; });
      items.reserve(entries_.size());
      for (auto& [key, e] : entries_) {
        items.push_back({key, e.minute, e.pending});
        e.pending = 0;
      }
    }
    for (const auto& it : items) {
      const std::string name = "rl:" + it.key + ":" + std::to_string(it.minute);
      if (it.add > 0) {
        redisAppendCommand(c.get(), "INCRBY %b %lld", name.data(), name.size(), it.add);
        redisAppendCommand(c.get(), "EXPIRE %b 120", name.data(), name.size());
      } else {
        redisAppendCommand(c.get(), "GET %b", name.data(), name.size());
      }
    }
    bool ok = true;
    std::vector<long long> totals(items.size(), 0);
    for (std::size_t k = 0; k < items.size() && ok; ++k) {
      void* raw = nullptr;
      if (redisGetReply(c.get(), &raw) != REDIS_OK) {
        ok = false;
        break;
      }
      Reply r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_INTEGER) totals[k] = r->integer;
      if (r->type == REDIS_REPLY_STRING) totals[k] = std::atoll(r->str);
      if (items[k].add > 0) {  // the EXPIRE's reply
        if (redisGetReply(c.get(), &raw) != REDIS_OK) {
          ok = false;
          break;
        }
        freeReplyObject(raw);
      }
    }
    if (!ok) {
      spdlog::warn("redis: sharing request budgets failed ({}); reconnecting", c->errstr);
      if (failures_) failures_->inc();
      connected_ = false;
      c.reset();
      continue;
    }
    std::lock_guard lock(mu_);
    for (std::size_t k = 0; k < items.size(); ++k) {
      const auto e = entries_.find(items[k].key);
      if (e != entries_.end() && e->second.minute == items[k].minute) e->second.total = totals[k];
    }
  }
}

}  // namespace remhart::bus
