#include "api/context.hpp"

#include <charconv>

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

void offload_study(ApiContext& ctx, HttpRequest& req, Reply reply,
                   std::function<HttpResponse(const StudyControl&)> fn) {
  if (!ctx.studies)
    throw core::Error(core::ErrorKind::unavailable, "grid studies are not available");
  const std::string caller = req.principal.is_user() && req.principal.user_id != 0
                                 ? "user:" + std::to_string(req.principal.user_id)
                                 : "ip:" + req.remote_ip;
  auto disconnected = req.watch_disconnect ? req.watch_disconnect() : nullptr;
  ctx.studies->submit(caller, std::move(disconnected),
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

HttpResponse no_content() {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

std::optional<std::int64_t> int_arg(const HttpRequest& req, const char* name, std::int64_t lo,
                                    std::int64_t hi) {
  const auto v = req.arg(name);
  if (!v) return std::nullopt;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n < lo || n > hi) {
    throw core::Error(core::ErrorKind::bad_request,
                      "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi),
                      name);
  }
  return n;
}

std::optional<core::TimeUs> time_arg(const HttpRequest& req, const char* name) {
  const auto v = req.arg(name);
  if (!v) return std::nullopt;
  const auto t = core::parse_time_param(*v);
  if (!t) {
    throw core::Error(core::ErrorKind::bad_request, "must be RFC 3339 or Unix milliseconds", name);
  }
  return *t;
}

}  // namespace remhart::api
