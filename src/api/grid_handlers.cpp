// Grid data routes: ingestion, devices and queries. Each handler parses (query_params,
// ingest/device_record), calls the store or the ingest service, and serialises (json_out).
#include <algorithm>

#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/json_out.hpp"
#include "api/query_params.hpp"
#include "api/router.hpp"
#include "api/security.hpp"
#include "core/error.hpp"
#include "ingest/device_record.hpp"
#include "ingest/ingest_service.hpp"
#include "ingest/parse.hpp"
#include "store/store.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

json device_json(const core::Device& d) {
  json j = {{"id", d.id},
            {"name", d.name},
            {"kind", d.kind},
            {"nominal_voltage", d.nominal_voltage},
            {"rated_current", d.rated_current},
            {"nominal_frequency", d.nominal_frequency},
            {"accuracy_class", d.accuracy_class},
            {"element", d.element},
            {"site", d.site},
            {"location", nullptr},
            {"tags", d.tags}};
  if (d.lat && d.lon) j["location"] = {{"lat", *d.lat}, {"lon", *d.lon}};
  return j;
}

std::string ingest_reply_json(const ingest::IngestReply& r) {
  json rejected = json::array();
  for (const auto& e : r.rejected) {
    json item = {{"index", e.index}, {"field", e.field}, {"message", e.message}};
    if (e.line) item["line"] = *e.line;
    rejected.push_back(std::move(item));
  }
  return dump_json(
      {{"accepted", r.accepted}, {"duplicates", r.duplicates}, {"rejected", rejected}});
}

// ---- ingestion ----

void ingest_batch(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto format = ingest::format_from_content_type(req.header("content-type"));
  if (!format) {
    throw Error(ErrorKind::bad_request,
                "Content-Type must be application/json, application/x-ndjson or text/csv",
                "Content-Type");
  }
  const bool atomic = bool_arg(req, "atomic").value_or(false);
  auto batch = ingest::parse_batch(req.body, *format, ctx.ingest.options().max_batch);
  ctx.gate.check_write_scope(req.principal, batch.samples);
  ctx.ingest.ingest(std::move(batch), std::string(core::kOriginReal), atomic,
                    [reply = std::move(reply), rid = req.request_id](ingest::IngestOutcome o) {
                      if (o.status == ingest::IngestStatus::ok ||
                          o.status == ingest::IngestStatus::unprocessable) {
                        const int status = o.status == ingest::IngestStatus::ok ? 200 : 422;
                        return reply(json_response(status, ingest_reply_json(o.reply)));
                      }
                      reply(error_response(ingest::storage_failure(o), rid));
                    });
}

// The original single-point shape: one sample, errors named in that shape's terms, the stored
// sample echoed (201 when new).
void ingest_legacy_point(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const std::string device = req.arg("device").value_or(ctx.default_device);
  if (!core::valid_device_id(device)) {
    throw Error(ErrorKind::bad_request, "device must match [A-Za-z0-9_.-]{1,64}", "device");
  }
  auto batch =
      ingest::ParsedBatch::of({ingest::parse_legacy_point(req.body, device, core::now_us())});
  ctx.gate.check_write_scope(req.principal, batch.samples);
  const core::Sample sample = batch.samples.front();
  ctx.ingest.ingest(
      std::move(batch), std::string(core::kOriginReal), true,
      [reply = std::move(reply), rid = req.request_id, sample](ingest::IngestOutcome o) {
        if (o.status == ingest::IngestStatus::unprocessable && !o.reply.rejected.empty()) {
          const auto& e = o.reply.rejected.front();
          return reply(error_response(
              Error(ErrorKind::unprocessable, e.message, ingest::legacy_field_name(e.field)), rid));
        }
        if (o.status != ingest::IngestStatus::ok) {
          return reply(error_response(ingest::storage_failure(o), rid));
        }
        std::string body;
        append_sample_json(body, sample.device, core::kOriginReal,
                           core::Record{sample.ts, sample.values});
        reply(json_response(o.reply.accepted ? 201 : 200, std::move(body)));
      });
}

// ---- queries ----

void latest(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const std::string origin = origin_arg(req);
  if (!req.arg("device"))
    return reply(json_response(200, samples_json(ctx.store.latest_all(origin))));
  const auto s = ctx.store.latest(device_arg(req), origin);
  if (!s) throw Error(ErrorKind::not_found, "no samples for this device and origin", "device");
  reply(json_response(200, sample_json(*s)));
}

void data(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, q = data_args(req)] {
    return json_response(200, data_page_json(q, ctx.store.query(q)));
  });
}

void series(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, a = series_args(req, core::now_us())] {
    return json_response(200, series_json(a.query, a.agg, a.names, ctx.store.series(a.query)));
  });
}

// ---- devices ----

void list_devices(ApiContext& ctx, HttpRequest&, Reply reply) {
  const auto devices = ctx.store.devices();
  std::vector<const core::Device*> sorted;
  for (const auto& [id, d] : *devices) sorted.push_back(&d);
  std::sort(sorted.begin(), sorted.end(),
            [](const core::Device* a, const core::Device* b) { return a->id < b->id; });
  json items = json::array();
  for (const auto* d : sorted) items.push_back(device_json(*d));
  reply(json_response(200, dump_json({{"items", items}})));
}

void get_device(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto devices = ctx.store.devices();
  const auto it = devices->find(req.params["id"]);
  if (it == devices->end()) throw Error(ErrorKind::not_found, "no such device");
  reply(json_response(200, dump_json(device_json(it->second))));
}

void create_device(ApiContext& ctx, HttpRequest& req, Reply reply) {
  auto d = ingest::parse_device_record(json_object_body(req.body), std::nullopt);
  offload(ctx, req, std::move(reply), [&ctx, d] {
    ctx.store.create_device(d);
    return json_response(201, dump_json(device_json(d)));
  });
}

void replace_device(ApiContext& ctx, HttpRequest& req, Reply reply) {
  auto d = ingest::parse_device_record(json_object_body(req.body), req.params["id"]);
  offload(ctx, req, std::move(reply), [&ctx, d] {
    ctx.store.update_device(d);
    return json_response(200, dump_json(device_json(d)));
  });
}

void delete_device(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, id = req.params["id"]] {
    ctx.store.delete_device(id);
    return no_content();
  });
}

}  // namespace

void add_grid_routes(Router& router, ApiContext& ctx) {
  const auto bind = [&ctx](auto fn) { return bound(ctx, fn); };
  using P = Permission;
  router.add("POST", "/api/grid/ingest", P::ingest, bind(ingest_batch), Router::kLargeBody);
  router.add("POST", "/api/grid/data", P::ingest, bind(ingest_legacy_point), Router::kLargeBody);
  router.add("GET", "/api/grid/latest", P::read, bind(latest));
  router.add("GET", "/api/grid/data", P::read, bind(data));
  router.add("GET", "/api/grid/series", P::read, bind(series));
  router.add("GET", "/api/grid/devices", P::read, bind(list_devices));
  router.add("POST", "/api/grid/devices", P::write, bind(create_device));
  router.add("GET", "/api/grid/devices/{id}", P::read, bind(get_device));
  router.add("PUT", "/api/grid/devices/{id}", P::write, bind(replace_device));
  router.add("DELETE", "/api/grid/devices/{id}", P::write, bind(delete_device));
}

}  // namespace remhart::api
