// Operations routes: liveness, readiness and Prometheus metrics.
#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace remhart::api {

void add_ops_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/health", Permission::probe, [&ctx](HttpRequest&, Reply reply) {
    const auto now = core::now_us();
    std::string db = "ok";
    try {
      (void)ctx.store.stats();
    } catch (const std::exception& e) {
      db = e.what();
    }
    nlohmann::json j = {{"status", db == "ok" ? "ok" : "degraded"},
                        {"database", db},
                        {"models_loaded", 0},
                        {"version", ctx.version},
                        {"uptime_s", static_cast<double>(now - ctx.started_at) / 1e6},
                        {"timestamp", core::format_rfc3339(now)}};
    reply(json_response(db == "ok" ? 200 : 503, j.dump()));
  });
  router.add("GET", "/ready", Permission::probe, [&ctx](HttpRequest& req, Reply reply) {
    if (ctx.ready && !ctx.ready()) {
      auto r = error_response(503, "unavailable", "not ready", "", req.request_id);
      r.headers.emplace_back("Retry-After", "1");
      reply(std::move(r));
      return;
    }
    const auto st = ctx.store.stats();
    reply(json_response(
        200, nlohmann::json{{"status", "ready"}, {"queued_samples", st.queued_samples}}.dump()));
  });
  router.add("GET", "/metrics", Permission::probe, [&ctx](HttpRequest&, Reply reply) {
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = ctx.metrics.render();
    reply(std::move(r));
  });
}

}  // namespace remhart::api
