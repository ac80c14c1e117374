#include "bus/login_failures.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

#include "bus/redis_conn.hpp"
#include "obs/metrics.hpp"

namespace remhart::bus {

struct RedisLoginFailures::Connection {
  detail::Context context;
};

RedisLoginFailures::RedisLoginFailures(RedisOptions options, std::chrono::milliseconds horizon,
                                       obs::Registry* metrics)
    : opt_(std::move(options)), horizon_(horizon), conn_(std::make_unique<Connection>()) {
  if (metrics) {
    failures_ = &metrics->counter("remhart_redis_connection_failures_total",
                                  "Redis connections lost or refused");
  }
}

RedisLoginFailures::~RedisLoginFailures() = default;

std::optional<std::vector<std::vector<std::string>>> RedisLoginFailures::round_trip(
    const std::vector<std::vector<std::string>>& commands) {
  std::lock_guard lock(mu_);
  auto& c = conn_->context;
  if (!c) {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_connect_) return std::nullopt;
    std::string error;
    // Short: a login waits for it (one a second at most while Redis does not answer).
    c = detail::connect(opt_, error, std::chrono::milliseconds(300));
    if (!c) {
      next_connect_ = now + std::chrono::seconds(1);
      if (failures_) failures_->inc();
      return std::nullopt;
    }
    redisSetTimeout(c.get(), timeval{0, 300'000});  // a login never waits long for Redis
  }
  for (const auto& cmd : commands) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
  }
  std::vector<std::vector<std::string>> replies;
  for (std::size_t k = 0; k < commands.size(); ++k) {
    void* raw = nullptr;
    if (redisGetReply(c.get(), &raw) != REDIS_OK || !raw) {
      spdlog::warn("redis: login throttles counted locally ({})", c->errstr);
      if (failures_) failures_->inc();
      c.reset();
      next_connect_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
      return std::nullopt;
    }
    detail::Reply r(static_cast<redisReply*>(raw));
    auto& out = replies.emplace_back();
    if (r->type == REDIS_REPLY_ARRAY) {
      for (std::size_t e = 0; e < r->elements; ++e) {
        const auto* el = r->element[e];
        out.emplace_back(el->type == REDIS_REPLY_STRING ? std::string(el->str, el->len) : "");
      }
    }
  }
  return replies;
}

std::optional<std::vector<auth::SharedLoginFailures::Count>> RedisLoginFailures::read(
    const std::vector<std::string>& keys) {
  std::vector<std::vector<std::string>> cmds;
  for (const auto& k : keys) cmds.push_back({"HMGET", "lf:" + k, "n", "last"});
  const auto replies = round_trip(cmds);
  if (!replies) return std::nullopt;
  std::vector<Count> out(keys.size());
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const auto& r = (*replies)[k];
    if (r.size() != 2) continue;
    std::from_chars(r[0].data(), r[0].data() + r[0].size(), out[k].failures);
    std::from_chars(r[1].data(), r[1].data() + r[1].size(), out[k].last_ms);
  }
  return out;
}

void RedisLoginFailures::add(const std::vector<std::string>& keys, std::int64_t now_ms) {
  std::vector<std::vector<std::string>> cmds;
  const auto horizon = std::to_string(horizon_.count());
  for (const auto& k : keys) {
    cmds.push_back({"HINCRBY", "lf:" + k, "n", "1"});
    cmds.push_back({"HSET", "lf:" + k, "last", std::to_string(now_ms)});
    cmds.push_back({"PEXPIRE", "lf:" + k, horizon});
  }
  round_trip(cmds);
}

void RedisLoginFailures::clear(const std::vector<std::string>& keys) {
  std::vector<std::string> del = {"DEL"};
  for (const auto& k : keys) del.push_back("lf:" + k);
  round_trip({del});
}

}  // namespace remhart::bus
