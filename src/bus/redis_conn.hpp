#pragma once
// hiredis handles as RAII types and a connect that authenticates (the bus's internals).
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

/// A connection (with AUTH when a password is set); null with `error` set when it failed.
Context connect(const RedisOptions& o, std::string& error);

}  // namespace remhart::bus::detail
