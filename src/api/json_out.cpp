#include "api/json_out.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace remhart::api {

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

void append_json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  out.append(buf, ec == std::errc() ? end : buf);
}

namespace {
void append_triple(std::string& out, const char* key, const std::array<double, 3>& v) {
  out += key;
  out.push_back('[');
  for (std::size_t k = 0; k < 3; ++k) {
    if (k) out.push_back(',');
    append_json_number(out, v[k]);
  }
  out.push_back(']');
}
}  // namespace

void append_sample_json(std::string& out, std::string_view device, std::string_view origin,
                        const core::Record& r) {
  const auto& v = r.values;
  out += "{\"device\":";
  append_json_string(out, device);
  out += ",\"ts\":\"";
  core::append_rfc3339(out, r.ts);
  out.push_back('"');
  append_triple(out, ",\"v\":", v.v);
  append_triple(out, ",\"i\":", v.i);
  append_triple(out, ",\"p\":", v.p);
  append_triple(out, ",\"q\":", v.q);
  out += ",\"f\":";
  append_json_number(out, v.f);
  if (core::is_present(v.thd_v[0]) || core::is_present(v.thd_v[1]) ||
      core::is_present(v.thd_v[2])) {
    append_triple(out, ",\"thd_v\":", v.thd_v);
  }
  if (core::is_present(v.thd_i[0]) || core::is_present(v.thd_i[1]) ||
      core::is_present(v.thd_i[2])) {
    append_triple(out, ",\"thd_i\":", v.thd_i);
  }
  if (core::is_present(v.temp)) {
    out += ",\"temp\":";
    append_json_number(out, v.temp);
  }
  const auto d = core::derive(v);
  out += ",\"v_avg\":";
  append_json_number(out, d.v_avg);
  out += ",\"i_avg\":";
  append_json_number(out, d.i_avg);
  out += ",\"p_total\":";
  append_json_number(out, d.p_total);
  out += ",\"q_total\":";
  append_json_number(out, d.q_total);
  out += ",\"pf\":";
  append_json_number(out, d.pf);
  out += ",\"origin\":";
  append_json_string(out, origin);
  out.push_back('}');
}

std::string sample_json(const store::StoredSample& s) {
  std::string out;
  out.reserve(384);
  append_sample_json(out, s.device, s.origin, s.record);
  return out;
}

std::string samples_json(const std::vector<store::StoredSample>& samples) {
  std::string out = "{\"items\":[";
  for (std::size_t k = 0; k < samples.size(); ++k) {
    if (k) out.push_back(',');
    append_sample_json(out, samples[k].device, samples[k].origin, samples[k].record);
  }
  out += "]}";
  return out;
}

std::string data_page_json(const store::DataQuery& q, const store::DataPage& page) {
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
  return out;
}

std::string series_json(const store::SeriesQuery& q, std::string_view agg,
                        const std::vector<std::string>& field_names,
                        const std::vector<store::SeriesPoint>& points) {
  std::string out = "{\"device\":";
  append_json_string(out, q.device);
  out += ",\"origin\":";
  append_json_string(out, q.origin);
  out += ",\"step\":";
  append_json_number(out, static_cast<double>(q.step) / core::kUsPerSecond);
  out += ",\"agg\":";
  append_json_string(out, agg);
  out += ",\"fields\":[";
  for (std::size_t k = 0; k < field_names.size(); ++k) {
    if (k) out.push_back(',');
    append_json_string(out, field_names[k]);
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
  return out;
}

}  // namespace remhart::api
