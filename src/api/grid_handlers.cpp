// Grid data routes: ingestion, devices and queries. Handlers parse, call a service, serialise.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/json_out.hpp"
#include "api/router.hpp"
#include "core/error.hpp"
#include "ingest/ingest_service.hpp"
#include "ingest/parse.hpp"
#include "store/store.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxSeriesPoints = 100'000;

std::string origin_arg(const HttpRequest& req) {
  const auto o = req.arg("origin").value_or(std::string(core::kOriginReal));
  if (!core::valid_origin(o)) {
    throw Error(ErrorKind::bad_request, "origin must be \"real\" or \"sim:<run>\"", "origin");
  }
  return o;
}

std::string device_arg(const HttpRequest& req) {
  const auto d = req.arg("device");
  if (!d || d->empty()) throw Error(ErrorKind::bad_request, "device is required", "device");
  if (!core::valid_device_id(*d)) {
    throw Error(ErrorKind::bad_request, "device must match [A-Za-z0-9_.-]{1,64}", "device");
  }
  return *d;
}

// ---- devices ----

json device_json(const core::Device& d) {
  json j = {{"id", d.id},
            {"name", d.name},
            {"kind", d.kind},
            {"nominal_voltage", d.nominal_voltage},
            {"rated_current", d.rated_current},
            {"nominal_frequency", d.nominal_frequency},
            {"element", d.element},
            {"site", d.site},
            {"location", nullptr},
            {"tags", d.tags}};
  if (d.lat && d.lon) j["location"] = {{"lat", *d.lat}, {"lon", *d.lon}};
  return j;
}

core::Device parse_device(const std::string& body, std::optional<std::string> path_id) {
  const json j = json_object_body(body);
  core::Device d;
  auto str = [&](const char* key, std::string& out) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_string()) throw Error(ErrorKind::unprocessable, "must be a string", key);
    out = j[key].get<std::string>();
    if (out.size() > 256)
      throw Error(ErrorKind::unprocessable, "is longer than 256 characters", key);
  };
  auto num = [&](const char* key, double& out) {
    if (!j.contains(key) || j[key].is_null()) return;
    if (!j[key].is_number()) throw Error(ErrorKind::unprocessable, "must be a number", key);
    out = j[key].get<double>();
    if (!(out > 0 && out < 1e7)) throw Error(ErrorKind::unprocessable, "must be positive", key);
  };
  str("id", d.id);
  if (path_id) {
    if (!d.id.empty() && d.id != *path_id) {
      throw Error(ErrorKind::unprocessable, "does not match the id in the path", "id");
    }
    d.id = *path_id;
  }
  if (!core::valid_device_id(d.id)) {
    throw Error(ErrorKind::unprocessable, "must match [A-Za-z0-9_.-]{1,64}", "id");
  }
  d.name = d.id;
  str("name", d.name);
  str("kind", d.kind);
  static const std::set<std::string> kKinds = {"meter", "pmu", "transformer_monitor", "inverter"};
  if (!kKinds.count(d.kind)) {
    throw Error(ErrorKind::unprocessable,
                "must be one of meter, pmu, transformer_monitor, inverter", "kind");
  }
  num("nominal_voltage", d.nominal_voltage);
  num("rated_current", d.rated_current);
  num("nominal_frequency", d.nominal_frequency);
  if (d.nominal_frequency != 50 && d.nominal_frequency != 60) {
    throw Error(ErrorKind::unprocessable, "must be 50 or 60", "nominal_frequency");
  }
  str("element", d.element);
  str("site", d.site);
  if (j.contains("location") && !j["location"].is_null()) {
    const auto& loc = j["location"];
    if (!loc.is_object() || !loc.contains("lat") || !loc.contains("lon") ||
        !loc["lat"].is_number() || !loc["lon"].is_number()) {
      throw Error(ErrorKind::unprocessable, "must be {\"lat\": number, \"lon\": number}",
                  "location");
    }
    d.lat = loc["lat"].get<double>();
    d.lon = loc["lon"].get<double>();
    if (std::fabs(*d.lat) > 90 || std::fabs(*d.lon) > 180) {
      throw Error(ErrorKind::unprocessable, "lat must be within ±90 and lon within ±180",
                  "location");
    }
  }
  if (j.contains("tags") && !j["tags"].is_null()) {
    if (!j["tags"].is_array()) throw Error(ErrorKind::unprocessable, "must be an array", "tags");
    for (const auto& t : j["tags"]) {
      if (!t.is_string() || t.get<std::string>().find('\n') != std::string::npos) {
        throw Error(ErrorKind::unprocessable, "must be single-line strings", "tags");
      }
      d.tags.push_back(t.get<std::string>());
    }
  }
  return d;
}

// ---- ingestion ----

std::string ingest_reply_json(const ingest::IngestReply& r) {
  json rejected = json::array();
  for (const auto& e : r.rejected) {
    json item = {{"index", e.index}, {"field", e.field}, {"message", e.message}};
    if (e.line) item["line"] = *e.line;
    rejected.push_back(std::move(item));
  }
  return json{{"accepted", r.accepted}, {"duplicates", r.duplicates}, {"rejected", rejected}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

// The reply for a batch the store did not take: 503 + Retry-After under back-pressure or on a
// full disk (nothing of the batch was stored: send it again), else 500 — with the request id,
// never the storage engine's text (the store logged it).
HttpResponse storage_failure(const ingest::IngestOutcome& o, const std::string& rid) {
  switch (o.status) {
    case ingest::IngestStatus::unavailable:
      return error_from_exception(
          std::make_exception_ptr(
              Error(ErrorKind::unavailable, "the write queue is full; retry shortly", "", 1)),
          rid);
    case ingest::IngestStatus::storage_full:
      return error_from_exception(
          std::make_exception_ptr(Error(ErrorKind::unavailable,
                                        "the server's disk is full; nothing of this batch was "
                                        "stored, send it again later",
                                        "", 30)),
          rid);
    default:
      return error_response(500, "internal", "storage failed; the request id is in the log", "",
                            rid);
  }
}

// A device key bound to a device or a site may write only there; the whole batch is refused
// otherwise (403 naming the first sample outside its scope).
void check_key_scope(ApiContext& ctx, const HttpRequest& req,
                     const std::vector<core::Sample>& samples) {
  const auto& p = req.principal;
  if (!p.is_device_key() || (p.device.empty() && p.site.empty())) return;
  const auto devices = p.site.empty() ? nullptr : ctx.store.devices();
  for (std::size_t k = 0; k < samples.size(); ++k) {
    const auto& id = samples[k].device;
    bool ok = p.device.empty() || id == p.device;
    if (ok && devices) {
      const auto it = devices->find(id);
      ok = it != devices->end() && it->second.site == p.site;
    }
    if (!ok) {
      throw Error(
          ErrorKind::forbidden,
          "item " + std::to_string(k) + ": this device key may not write device '" + id + "'",
          "device");
    }
  }
}

void handle_ingest(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto format = ingest::format_from_content_type(req.header("content-type"));
  if (!format) {
    throw Error(ErrorKind::bad_request,
                "Content-Type must be application/json, application/x-ndjson or text/csv",
                "Content-Type");
  }
  const auto atomic = req.arg("atomic").value_or("false");
  if (atomic != "true" && atomic != "false" && atomic != "1" && atomic != "0") {
    throw Error(ErrorKind::bad_request, "must be true or false", "atomic");
  }
  auto batch = ingest::parse_batch(req.body, *format, ctx.ingest.options().max_batch);
  check_key_scope(ctx, req, batch.samples);
  ctx.ingest.ingest(std::move(batch), std::string(core::kOriginReal),
                    atomic == "true" || atomic == "1",
                    [reply = std::move(reply), rid = req.request_id](ingest::IngestOutcome o) {
                      switch (o.status) {
                        case ingest::IngestStatus::ok:
                          reply(json_response(200, ingest_reply_json(o.reply)));
                          return;
                        case ingest::IngestStatus::unprocessable:
                          reply(json_response(422, ingest_reply_json(o.reply)));
                          return;
                        case ingest::IngestStatus::unavailable:
                        case ingest::IngestStatus::storage_full:
                        case ingest::IngestStatus::failed:
                          reply(storage_failure(o, rid));
                          return;
                      }
                    });
}

void handle_legacy_point(ApiContext& ctx, HttpRequest& req, Reply reply) {
  std::string device = req.arg("device").value_or(ctx.default_device);
  if (!core::valid_device_id(device)) {
    throw Error(ErrorKind::bad_request, "device must match [A-Za-z0-9_.-]{1,64}", "device");
  }
  auto batch =
      ingest::ParsedBatch::of({ingest::parse_legacy_point(req.body, device, core::now_us())});
  check_key_scope(ctx, req, batch.samples);
  const core::Sample sample = batch.samples.front();
  ctx.ingest.ingest(
      std::move(batch), std::string(core::kOriginReal), true,
      [reply = std::move(reply), rid = req.request_id, sample](ingest::IngestOutcome o) {
        if (o.status == ingest::IngestStatus::unprocessable && !o.reply.rejected.empty()) {
          // Name the field in the original shape's terms.
          static const std::map<std::string, std::string> kNames = {
              {"v[0]", "voltage.phaseA"},         {"v[1]", "voltage.phaseB"},
              {"v[2]", "voltage.phaseC"},         {"i[0]", "current.phaseA"},
              {"i[1]", "current.phaseB"},         {"i[2]", "current.phaseC"},
              {"p[0]", "active_power.phaseA"},    {"p[1]", "active_power.phaseB"},
              {"p[2]", "active_power.phaseC"},    {"q[0]", "reactive_power.phaseA"},
              {"q[1]", "reactive_power.phaseB"},  {"q[2]", "reactive_power.phaseC"},
              {"f", "frequency.frequency_value"}, {"ts", "timestamp"}};
          const auto& e = o.reply.rejected.front();
          const auto it = kNames.find(e.field);
          reply(error_response(422, "unprocessable", e.message,
                               it == kNames.end() ? e.field : it->second, rid));
          return;
        }
        if (o.status != ingest::IngestStatus::ok) {
          reply(storage_failure(o, rid));
          return;
        }
        std::string body;
        append_sample_json(body, sample.device, core::kOriginReal,
                           core::Record{sample.ts, sample.values});
        reply(json_response(o.reply.accepted ? 201 : 200, std::move(body)));
      });
}

// ---- queries ----

core::TimeUs auto_step(core::TimeUs span) {
  static constexpr core::TimeUs kSteps[] = {1,     2,     5,     10,    15,     30,    60,
                                            120,   300,   600,   900,   1800,   3600,  7200,
                                            10800, 21600, 43200, 86400, 172800, 604800};
  for (core::TimeUs s : kSteps) {
    if (span / (s * core::kUsPerSecond) < 2000) return s * core::kUsPerSecond;
  }
  const core::TimeUs day = 86400 * core::kUsPerSecond;
  return (span / 2000 / day + 1) * day;
}

HttpResponse series_response(ApiContext& ctx, const HttpRequest& req) {
  store::SeriesQuery q;
  q.device = device_arg(req);
  q.origin = origin_arg(req);
  q.to = time_arg(req, "to").value_or(core::now_us() + 1);
  q.from = time_arg(req, "from").value_or(q.to - 86400 * core::kUsPerSecond);
  if (q.from >= q.to) throw Error(ErrorKind::bad_request, "from must be before to", "from");
  if (const auto step = req.arg("step")) {
    const auto s = core::parse_duration(*step);
    if (!s) throw Error(ErrorKind::bad_request, "must be seconds or a duration like 15m", "step");
    q.step = *s;
    if ((q.to - q.from) / q.step > static_cast<core::TimeUs>(kMaxSeriesPoints)) {
      throw Error(ErrorKind::bad_request,
                  "too many points: at most " + std::to_string(kMaxSeriesPoints) +
                      " buckets; choose a larger step",
                  "step");
    }
  } else {
    q.step = auto_step(q.to - q.from);
  }
  const auto agg = store::parse_agg(req.arg("agg").value_or("avg"));
  if (!agg) throw Error(ErrorKind::bad_request, "must be avg, min, max or last", "agg");
  q.agg = *agg;
  std::vector<std::string> names;
  std::string fields = req.arg("fields").value_or("v_avg,i_avg,p_total,q_total,f");
  for (std::size_t start = 0; start <= fields.size();) {
    const std::size_t end = std::min(fields.find(',', start), fields.size());
    const std::string name = fields.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    const auto idx = core::field_index(name);
    if (!idx) throw Error(ErrorKind::bad_request, "unknown field '" + name + "'", "fields");
    q.fields.push_back(*idx);
    names.push_back(name);
  }
  if (q.fields.empty()) throw Error(ErrorKind::bad_request, "name at least one field", "fields");
  const auto points = ctx.store.series(q);
  std::string out = "{\"device\":";
  append_json_string(out, q.device);
  out += ",\"origin\":";
  append_json_string(out, q.origin);
  out += ",\"step\":";
  append_json_number(out, static_cast<double>(q.step) / core::kUsPerSecond);
  out += ",\"agg\":";
  append_json_string(out, req.arg("agg").value_or("avg"));
  out += ",\"fields\":[";
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (k) out.push_back(',');
    append_json_string(out, names[k]);
  }
  out += "],\"points\":[";
  for (std::size_t k = 0; k < points.size(); ++k) {
    if (k) out.push_back(',');
    out += "[\"";
    core::append_rfc3339(out, points[k].ts);
    out.push_back('"');
    for (double v : points[k].values) {
      out.push_back(',');
      append_json_number(out, v);
    }
    out.push_back(']');
  }
  out += "]}";
  return json_response(200, std::move(out));
}

HttpResponse data_response(ApiContext& ctx, const HttpRequest& req) {
  store::DataQuery q;
  q.device = device_arg(req);
  q.origin = origin_arg(req);
  q.from = time_arg(req, "from").value_or(q.from);
  q.to = time_arg(req, "to").value_or(q.to);
  q.limit = static_cast<std::size_t>(int_arg(req, "limit", 1, 10000).value_or(1000));
  const auto order = req.arg("order").value_or("desc");
  if (order != "asc" && order != "desc") {
    throw Error(ErrorKind::bad_request, "must be asc or desc", "order");
  }
  q.ascending = order == "asc";
  if (const auto cursor = req.arg("cursor")) {
    core::TimeUs c = 0;
    auto [p, ec] = std::from_chars(cursor->data(), cursor->data() + cursor->size(), c);
    if (ec != std::errc() || p != cursor->data() + cursor->size()) {
      throw Error(ErrorKind::bad_request, "is not a cursor returned by this endpoint", "cursor");
    }
    if (q.ascending) {
      q.from = std::max(q.from, c + 1);
    } else {
      q.to = std::min(q.to, c);
    }
  }
  const auto page = ctx.store.query(q);
  std::string out = "{\"items\":[";
  for (std::size_t k = 0; k < page.records.size(); ++k) {
    if (k) out.push_back(',');
    append_sample_json(out, q.device, q.origin, page.records[k]);
  }
  out += "],\"next\":";
  if (page.more && !page.records.empty()) {
    out += "\"" + std::to_string(page.records.back().ts) + "\"";
  } else {
    out += "null";
  }
  out += "}";
  return json_response(200, std::move(out));
}

}  // namespace

void add_grid_routes(Router& router, ApiContext& ctx) {
  router.add(
      "POST", "/api/grid/ingest", Permission::ingest,
      [&ctx](HttpRequest& req, Reply reply) { handle_ingest(ctx, req, std::move(reply)); },
      Router::kLargeBody);
  router.add(
      "POST", "/api/grid/data", Permission::ingest,
      [&ctx](HttpRequest& req, Reply reply) { handle_legacy_point(ctx, req, std::move(reply)); },
      Router::kLargeBody);
  router.add("GET", "/api/grid/latest", Permission::read, [&ctx](HttpRequest& req, Reply reply) {
    const std::string origin = origin_arg(req);
    if (req.arg("device")) {
      const auto s = ctx.store.latest(device_arg(req), origin);
      if (!s) throw Error(ErrorKind::not_found, "no samples for this device and origin", "device");
      reply(json_response(200, sample_json(*s)));
      return;
    }
    std::string out = "{\"items\":[";
    bool first = true;
    for (const auto& s : ctx.store.latest_all(origin)) {
      if (!first) out.push_back(',');
      first = false;
      append_sample_json(out, s.device, s.origin, s.record);
    }
    out += "]}";
    reply(json_response(200, std::move(out)));
  });
  router.add("GET", "/api/grid/data", Permission::read, [&ctx](HttpRequest& req, Reply reply) {
    offload(ctx, req, std::move(reply), [&ctx, req] { return data_response(ctx, req); });
  });
  router.add("GET", "/api/grid/series", Permission::read, [&ctx](HttpRequest& req, Reply reply) {
    offload(ctx, req, std::move(reply), [&ctx, req] { return series_response(ctx, req); });
  });

  router.add("GET", "/api/grid/devices", Permission::read, [&ctx](HttpRequest&, Reply reply) {
    const auto devices = ctx.store.devices();
    std::vector<const core::Device*> sorted;
    for (const auto& [id, d] : *devices) sorted.push_back(&d);
    std::sort(sorted.begin(), sorted.end(),
              [](const core::Device* a, const core::Device* b) { return a->id < b->id; });
    json items = json::array();
    for (const auto* d : sorted) items.push_back(device_json(*d));
    reply(json_response(200, json{{"items", items}}.dump()));
  });
  router.add("POST", "/api/grid/devices", Permission::write, [&ctx](HttpRequest& req, Reply reply) {
    auto d = parse_device(req.body, std::nullopt);
    offload(ctx, req, std::move(reply), [&ctx, d] {
      ctx.store.create_device(d);
      return json_response(201, device_json(d).dump());
    });
  });
  router.add("GET", "/api/grid/devices/{id}", Permission::read,
             [&ctx](HttpRequest& req, Reply reply) {
               const auto devices = ctx.store.devices();
               const auto it = devices->find(req.params["id"]);
               if (it == devices->end()) throw Error(ErrorKind::not_found, "no such device");
               reply(json_response(200, device_json(it->second).dump()));
             });
  router.add("PUT", "/api/grid/devices/{id}", Permission::write,
             [&ctx](HttpRequest& req, Reply reply) {
               auto d = parse_device(req.body, req.params["id"]);
               offload(ctx, req, std::move(reply), [&ctx, d] {
                 ctx.store.update_device(d);
                 return json_response(200, device_json(d).dump());
               });
             });
  router.add("DELETE", "/api/grid/devices/{id}", Permission::write,
             [&ctx](HttpRequest& req, Reply reply) {
               offload(ctx, req, std::move(reply), [&ctx, id = req.params["id"]] {
                 ctx.store.delete_device(id);
                 return no_content();
               });
             });
}

}  // namespace remhart::api
