#pragma once
// Fast JSON output for the hot paths (samples, series); nlohmann is used elsewhere.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/measurement.hpp"
#include "store/store.hpp"

namespace remhart::api {

void append_json_string(std::string& out, std::string_view s);
/// Shortest round-trip form; NaN and infinities become null.
void append_json_number(std::string& out, double v);

/// A stored sample as returned by queries (SPEC §16): sample fields, derived values, origin.
void append_sample_json(std::string& out, std::string_view device, std::string_view origin,
                        const core::Record& r);
std::string sample_json(const store::StoredSample& s);
/// `{"items": [sample, …]}`.
std::string samples_json(const std::vector<store::StoredSample>& samples);
/// A data page: `{"items": [...], "next": cursor|null}` (the cursor is the last record's time).
std::string data_page_json(const store::DataQuery& q, const store::DataPage& page);
/// A chart series: `{device, origin, step (s), agg, fields, points: [[ts, v…], …]}`.
std::string series_json(const store::SeriesQuery& q, std::string_view agg,
                        const std::vector<std::string>& field_names,
                        const std::vector<store::SeriesPoint>& points);

}  // namespace remhart::api
