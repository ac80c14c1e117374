#include "api/context.hpp"

#include "api/errors.hpp"
#include "api/http.hpp"
#include "core/error.hpp"

namespace remhart::api {

void offload(ApiContext& ctx, const HttpRequest& req, Reply reply,
             std::function<HttpResponse()> fn) {
  if (ctx.queued_jobs && ctx.queued_jobs() >= ctx.max_queued_jobs) {
    throw core::Error(core::ErrorKind::unavailable, "the server is busy; retry shortly", "", 1);
  }
  ctx.run_blocking([reply = std::move(reply), fn = std::move(fn), rid = req.request_id] {
    try {
      reply(fn());
    } catch (...) {
      reply(error_from_exception(std::current_exception(), rid));
    }
  });
}

}  // namespace remhart::api
