#include "api/query_params.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include "core/error.hpp"
#include "core/measurement.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;

std::optional<std::int64_t> int_arg(const HttpRequest& req, const char* name, std::int64_t lo,
                                    std::int64_t hi) {
  const auto v = req.arg(name);
  if (!v) return std::nullopt;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n < lo || n > hi) {
    throw Error(ErrorKind::bad_request,
                "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi),
                name);
  }
  return n;
}

std::optional<core::TimeUs> time_arg(const HttpRequest& req, const char* name) {
  const auto v = req.arg(name);
  if (!v) return std::nullopt;
  const auto t = core::parse_time_param(*v);
  if (!t) throw Error(ErrorKind::bad_request, "must be RFC 3339 or Unix milliseconds", name);
  return *t;
}

std::optional<bool> bool_arg(const HttpRequest& req, const char* name) {
  const auto v = req.arg(name);
  if (!v) return std::nullopt;
  if (*v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  throw Error(ErrorKind::bad_request, "must be true or false", name);
}

std::string origin_arg(const HttpRequest& req) {
  auto o = req.arg("origin").value_or(std::string(core::kOriginReal));
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

SeriesArgs series_args(const HttpRequest& req, core::TimeUs now) {
  SeriesArgs a;
  auto& q = a.query;
  q.device = device_arg(req);
  q.origin = origin_arg(req);
  q.to = time_arg(req, "to").value_or(now + 1);
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
  a.agg = req.arg("agg").value_or("avg");
  const auto agg = store::parse_agg(a.agg);
  if (!agg) throw Error(ErrorKind::bad_request, "must be avg, min, max or last", "agg");
  q.agg = *agg;
  const std::string fields = req.arg("fields").value_or("v_avg,i_avg,p_total,q_total,f");
  for (std::size_t start = 0; start <= fields.size();) {
    const std::size_t end = std::min(fields.find(',', start), fields.size());
    const std::string name = fields.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    const auto idx = core::field_index(name);
    if (!idx) throw Error(ErrorKind::bad_request, "unknown field '" + name + "'", "fields");
    q.fields.push_back(*idx);
    a.names.push_back(name);
  }
  if (q.fields.empty()) throw Error(ErrorKind::bad_request, "name at least one field", "fields");
  return a;
}

store::DataQuery data_args(const HttpRequest& req) {
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
  return q;
}

auth::AuditQuery audit_args(const HttpRequest& req) {
  auth::AuditQuery q;
  q.from = time_arg(req, "from");
  q.to = time_arg(req, "to");
  q.limit = static_cast<std::size_t>(int_arg(req, "limit", 1, 1000).value_or(100));
  q.before_id = int_arg(req, "cursor", 1, std::numeric_limits<std::int64_t>::max());
  if (const auto u = req.arg("user")) {
    std::int64_t id = 0;
    auto [p, ec] = std::from_chars(u->data(), u->data() + u->size(), id);
    if (ec == std::errc() && p == u->data() + u->size()) {
      q.user_id = id;
    } else {
      q.actor = *u;
    }
  }
  q.kind = req.arg("kind").value_or("");
  if (!q.kind.empty() && q.kind != "request" && q.kind != "security") {
    throw Error(ErrorKind::bad_request, "must be request or security", "kind");
  }
  q.event = req.arg("event").value_or("");
  return q;
}

}  // namespace remhart::api
