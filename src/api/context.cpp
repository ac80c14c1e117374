#include "api/context.hpp"

#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "api/http.hpp"
#include "api/study_runner.hpp"
#include "core/error.hpp"
#include "core/json_depth.hpp"

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

void offload_async(ApiContext& ctx, const HttpRequest& req, Reply reply,
                   std::function<void(Reply)> fn) {
  if (ctx.queued_jobs && ctx.queued_jobs() >= ctx.max_queued_jobs) {
    throw core::Error(core::ErrorKind::unavailable, "the server is busy; retry shortly", "", 1);
  }
  ctx.run_blocking([reply = std::move(reply), fn = std::move(fn), rid = req.request_id] {
    try {
      fn(reply);
    } catch (...) {
      reply(error_from_exception(std::current_exception(), rid));
    }
  });
}

void offload_study(ApiContext& ctx, HttpRequest& req, Reply reply,
                   std::function<HttpResponse(const StudyControl&)> fn) {
  const std::string caller = req.principal.is_user() && req.principal.user_id != 0
                                 ? "user:" + std::to_string(req.principal.user_id)
                                 : "ip:" + req.remote_ip;
  auto disconnected = req.watch_disconnect ? req.watch_disconnect() : nullptr;
  ctx.studies.submit(caller, std::move(disconnected),
                     [reply = std::move(reply), fn = std::move(fn),
                      rid = req.request_id](const StudyControl& control) {
                       try {
                         if (const auto why = control.stop_reason()) {
                           throw core::Error(core::ErrorKind::unavailable,
                                             "the study was not started: " + *why, "", 5);
                         }
                         reply(fn(control));
                       } catch (...) {
                         reply(error_from_exception(std::current_exception(), rid));
                       }
                     });
}

nlohmann::json json_object_body(const std::string& body, bool empty_ok) {
  if (empty_ok && body.empty()) return nlohmann::json::object();
  if (core::json_too_deep(body)) {
    throw core::Error(core::ErrorKind::bad_request, "body nests arrays and objects deeper than " +
                                                        std::to_string(core::kMaxJsonDepth));
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) throw core::Error(core::ErrorKind::bad_request, "body is not valid JSON");
  if (!j.is_object()) {
    throw core::Error(core::ErrorKind::bad_request, "body must be a JSON object");
  }
  return j;
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::function<void(HttpRequest&, Reply)> bound(ApiContext& ctx,
                                               void (*fn)(ApiContext&, HttpRequest&, Reply)) {
  return [&ctx, fn](HttpRequest& req, Reply reply) { fn(ctx, req, std::move(reply)); };
}

}  // namespace remhart::api
