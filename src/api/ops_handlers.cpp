// Operations routes: liveness, readiness, Prometheus metrics, and the effective settings.
#include <nlohmann/json.hpp>

#include "api/analytics_service.hpp"
#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"
#include "bus/redis_bus.hpp"
#include "ingest/mqtt_source.hpp"
#include "obs/metrics.hpp"
#include "obs/self_check.hpp"
#include "store/store.hpp"

namespace remhart::api {

namespace {

// Liveness: 200 while the process answers; the body says how the database is (a real query, on
// a WAL reader: it never waits for the writer).
void health(ApiContext& ctx, HttpRequest&, Reply reply) {
  const auto now = core::now_us();
  const std::string db = ctx.store.check_database();
  const auto st = ctx.store.stats();
  const bool ok = db == "ok" && st.write_error.empty();
  reply(json_response(
      200, dump_json({{"status", ok ? "ok" : "degraded"},
                      {"database", db},
                      {"storage", st.write_error.empty() ? "ok" : st.write_error},
                      {"models_loaded", ctx.analytics ? ctx.analytics->models_loaded() : 0},
                      {"training", ctx.analytics ? ctx.analytics->training_status() : "off"},
                      {"mqtt", !ctx.mqtt               ? "off"
                               : ctx.mqtt->connected() ? "connected"
                                                       : "disconnected"},
                      {"redis", !ctx.redis               ? "off"
                                : ctx.redis->connected() ? "connected"
                                                         : "disconnected"},
                      {"version", ctx.version},
                      {"uptime_s", static_cast<double>(now - ctx.started_at) / 1e6},
                      {"timestamp", core::format_rfc3339(now)}})));
}

// Readiness: 503 with the reason while the server cannot take data. A broker that is away does
// not make it unready (HTTP ingestion still works): it is listed as degraded.
void ready(ApiContext& ctx, HttpRequest&, Reply reply) {
  if (!ctx.ready()) throw core::Error(core::ErrorKind::unavailable, "not ready", "", 1);
  const auto st = ctx.store.stats();
  if (st.full) {
    throw core::Error(core::ErrorKind::unavailable,
                      "the disk is full: measurements cannot be stored", "", 30);
  }
  if (st.unreachable) {
    throw core::Error(core::ErrorKind::unavailable,
                      "the database is unreachable: measurements cannot be stored", "", 5);
  }
  const auto disk = ctx.data_dir.empty() ? std::nullopt : obs::disk_usage(ctx.data_dir);
  if (disk && disk->free_bytes < obs::Thresholds::disk_min_free_bytes) {
    throw core::Error(core::ErrorKind::unavailable,
                      "the disk is full (" + std::to_string(disk->free_bytes >> 20) +
                          " MiB free): measurements cannot be stored",
                      "", 30);
  }
  // Still serving, but past an alert's threshold: named so a gateway or an operator sees why.
  auto degraded = nlohmann::json::array();
  if (ctx.mqtt && !ctx.mqtt->connected()) degraded.push_back("mqtt");
  if (ctx.redis && !ctx.redis->connected()) degraded.push_back("redis");
  if (disk && disk->used_ratio > obs::Thresholds::disk_used_ratio) degraded.push_back("disk");
  if (st.queue_wait_s > obs::Thresholds::ingest_lag_seconds) degraded.push_back("ingest_lag");
  reply(json_response(200, dump_json({{"status", "ready"},
                                      {"queued_samples", st.queued_samples},
                                      {"degraded", std::move(degraded)}})));
}

// The effective configuration, read-only, secrets redacted (computed once at startup).
void settings(ApiContext& ctx, HttpRequest&, Reply reply) {
  reply(json_response(200, ctx.settings_json));
}

void metrics(ApiContext& ctx, HttpRequest&, Reply reply) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = ctx.metrics.render();
  reply(std::move(r));
}

}  // namespace

void add_ops_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/health", Permission::probe, bound(ctx, health));
  router.add("GET", "/ready", Permission::probe, bound(ctx, ready));
  router.add("GET", "/metrics", Permission::probe, bound(ctx, metrics));
  router.add("GET", "/api/settings", Permission::admin, bound(ctx, settings));
}

}  // namespace remhart::api
