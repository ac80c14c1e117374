// Operations routes: liveness, readiness and Prometheus metrics.
#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace remhart::api {

void add_ops_routes(Router& router, ApiContext& ctx) {
  // Liveness: 200 while the process answers; the body says how the database is (a real query,
  // on a WAL reader: it never waits for the writer).
  router.add("GET", "/health", Permission::probe, [&ctx](HttpRequest&, Reply reply) {
    const auto now = core::now_us();
    const std::string db = ctx.store.check_database();
    const auto st = ctx.store.stats();
    const bool ok = db == "ok" && st.write_error.empty();
    nlohmann::json j = {{"status", ok ? "ok" : "degraded"},
                        {"database", db},
                        {"storage", st.write_error.empty() ? "ok" : st.write_error},
                        {"models_loaded", 0},
                        {"version", ctx.version},
                        {"uptime_s", static_cast<double>(now - ctx.started_at) / 1e6},
                        {"timestamp", core::format_rfc3339(now)}};
    reply(json_response(200, j.dump()));
  });
  // Readiness: 503 with the reason while the server cannot take data.
  router.add("GET", "/ready", Permission::probe, [&ctx](HttpRequest& req, Reply reply) {
    auto not_ready = [&](const std::string& why, int retry_s) {
      reply(error_response(core::Error(core::ErrorKind::unavailable, why, "", retry_s),
                           req.request_id));
    };
    if (ctx.ready && !ctx.ready()) return not_ready("not ready", 1);
    const auto st = ctx.store.stats();
    if (st.full) return not_ready("the disk is full: measurements cannot be stored", 30);
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
