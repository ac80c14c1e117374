#pragma once
// hiredis handles as RAII types and a connect that authenticates (the bus's internals).
#include <chrono>
#include <memory>
#include <string>

#include <hiredis/hiredis.h>

#include "bus/redis_bus.hpp"

namespace remhart::bus::detail {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

/// A connection (with AUTH when a password is set), made and authenticated within `timeout`
/// each; null with `error` set when it failed. Reads on it then block without a timeout.
Context connect(const RedisOptions& o, std::string& error,
                std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace remhart::bus::detail
