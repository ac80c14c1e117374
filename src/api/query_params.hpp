#pragma once
// Query-parameter parsing for every route, in one place: each helper returns the typed value (or
// nullopt when absent) and throws core::Error(bad_request) naming the parameter when it is
// malformed or out of range.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/http.hpp"
#include "auth/audit.hpp"
#include "core/time.hpp"
#include "store/store.hpp"

namespace remhart::api {

/// An integer in [lo, hi].
std::optional<std::int64_t> int_arg(const HttpRequest& req, const char* name, std::int64_t lo,
                                    std::int64_t hi);
/// RFC 3339 or Unix milliseconds.
std::optional<core::TimeUs> time_arg(const HttpRequest& req, const char* name);
/// true/false/1/0.
std::optional<bool> bool_arg(const HttpRequest& req, const char* name);
/// `origin`: "real" (the default) or "sim:<run>".
std::string origin_arg(const HttpRequest& req);
/// `device`: required, [A-Za-z0-9_.-]{1,64}.
std::string device_arg(const HttpRequest& req);

/// GET /api/grid/series: device, origin, from/to (default the last day), step (a duration, or
/// chosen for ~2,000 points; at most kMaxSeriesPoints buckets), agg, fields (names kept in
/// `names`, in order).
struct SeriesArgs {
  store::SeriesQuery query;
  std::vector<std::string> names;
  std::string agg;
};
SeriesArgs series_args(const HttpRequest& req, core::TimeUs now);
inline constexpr std::size_t kMaxSeriesPoints = 100'000;

/// GET /api/grid/data: device, origin, from/to, limit (1–10,000, default 1,000), order, cursor.
store::DataQuery data_args(const HttpRequest& req);

/// GET /api/audit: from, to, limit (1–1,000, default 100), cursor (an id), user (an id or an
/// actor name), kind (request|security), event.
auth::AuditQuery audit_args(const HttpRequest& req);

/// The chart step for a span: the smallest of 1 s … 1 week giving fewer than 2,000 points.
core::TimeUs auto_step(core::TimeUs span);

}  // namespace remhart::api
