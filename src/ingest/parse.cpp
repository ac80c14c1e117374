#include "ingest/parse.hpp"

#include <charconv>
#include <cmath>
#include <map>

#include <simdjson.h>

#include "core/error.hpp"

namespace remhart::ingest {

using core::Error;
using core::ErrorKind;

namespace {

// One parser per thread, reused: its buffers are allocated once instead of per request.
// A parser that grew for one huge body is replaced, so each I/O thread keeps only a modest one.
simdjson::dom::parser& thread_parser() {
  constexpr std::size_t kKeep = 4 * 1024 * 1024;
  thread_local simdjson::dom::parser parser;
  if (parser.capacity() > kKeep) parser = simdjson::dom::parser();
  return parser;
}

struct FieldError {
  std::string field;
  std::string message;
};

// Reads a finite-or-not number (finiteness is validation's job); returns false on a wrong type.
bool read_number(simdjson::dom::element e, double& out) {
  switch (e.type()) {
    case simdjson::dom::element_type::DOUBLE:
      out = e.get_double().value_unsafe();
      return true;
    case simdjson::dom::element_type::INT64:
      out = static_cast<double>(e.get_int64().value_unsafe());
      return true;
    case simdjson::dom::element_type::UINT64:
      out = static_cast<double>(e.get_uint64().value_unsafe());
      return true;
    default:
      return false;
  }
}

std::optional<FieldError> read_phases(simdjson::dom::object obj, const char* name, bool required,
                                      std::array<double, 3>& out) {
  simdjson::dom::element e;
  if (obj[name].get(e) != simdjson::SUCCESS || e.is_null()) {
    if (required) return FieldError{name, "is required"};
    return std::nullopt;
  }
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) {
    return FieldError{name, "must be an array of 3 numbers"};
  }
  if (arr.size() != 3) {
    return FieldError{
        name, "must have exactly 3 values (one per phase), got " + std::to_string(arr.size())};
  }
  std::size_t k = 0;
  for (auto item : arr) {
    if (!read_number(item, out[k])) {
      return FieldError{std::string(name) + "[" + std::to_string(k) + "]", "must be a number"};
    }
    ++k;
  }
  return std::nullopt;
}

std::optional<FieldError> read_ts(simdjson::dom::element e, core::TimeUs& out) {
  if (e.is_string()) {
    const auto t = core::parse_rfc3339(e.get_string().value_unsafe());
    if (!t) return FieldError{"ts", "must be an RFC 3339 timestamp or Unix milliseconds"};
    out = *t;
    return std::nullopt;
  }
  double ms;
  if (!read_number(e, ms)) {
    return FieldError{"ts", "must be an RFC 3339 timestamp or Unix milliseconds"};
  }
  if (!std::isfinite(ms) || std::fabs(ms) > 9.0e15) {
    return FieldError{"ts", "Unix milliseconds out of range"};
  }
  out = static_cast<core::TimeUs>(std::llround(ms * 1000.0));
  return std::nullopt;
}

std::optional<FieldError> read_sample(simdjson::dom::element e, core::Sample& s) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return FieldError{"", "must be a JSON object"};
  simdjson::dom::element d;
  if (obj["device"].get(d) != simdjson::SUCCESS || d.is_null()) {
    return FieldError{"device", "is required"};
  }
  if (!d.is_string()) return FieldError{"device", "must be a string"};
  const std::string_view dev = d.get_string().value_unsafe();
  if (!core::valid_device_id(dev)) {
    return FieldError{"device", "must match [A-Za-z0-9_.-]{1,64}"};
  }
  s.device.assign(dev);
  simdjson::dom::element ts;
  if (obj["ts"].get(ts) != simdjson::SUCCESS || ts.is_null())
    return FieldError{"ts", "is required"};
  if (auto err = read_ts(ts, s.ts)) return err;
  auto& v = s.values;
  if (auto err = read_phases(obj, "v", true, v.v)) return err;
  if (auto err = read_phases(obj, "i", true, v.i)) return err;
  if (auto err = read_phases(obj, "p", true, v.p)) return err;
  if (auto err = read_phases(obj, "q", true, v.q)) return err;
  simdjson::dom::element f;
  if (obj["f"].get(f) != simdjson::SUCCESS || f.is_null()) return FieldError{"f", "is required"};
  if (!read_number(f, v.f)) return FieldError{"f", "must be a number"};
  if (auto err = read_phases(obj, "thd_v", false, v.thd_v)) return err;
  if (auto err = read_phases(obj, "thd_i", false, v.thd_i)) return err;
  simdjson::dom::element t;
  if (obj["temp"].get(t) == simdjson::SUCCESS && !t.is_null()) {
    if (!read_number(t, v.temp)) return FieldError{"temp", "must be a number"};
  }
  return std::nullopt;
}

void add_item(ParsedBatch& out, simdjson::dom::element e, std::size_t line) {
  const std::size_t index = out.items++;
  core::Sample s;
  if (auto err = read_sample(e, s)) {
    out.errors.push_back(ItemError{index, std::move(err->field), std::move(err->message),
                                   line ? std::optional<std::size_t>(line) : std::nullopt});
    return;
  }
  out.samples.push_back(std::move(s));
  out.positions.push_back(index);
  out.lines.push_back(line);
}

[[noreturn]] void too_many(std::size_t max_items) {
  throw Error(ErrorKind::too_large,
              "a batch holds at most " + std::to_string(max_items) + " samples");
}

ParsedBatch parse_json(std::string_view body, std::size_t max_items) {
  simdjson::dom::parser& parser = thread_parser();
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size(), true).get(doc)) {
    throw Error(ErrorKind::bad_request,
                std::string("body is not valid JSON: ") + simdjson::error_message(err));
  }
  ParsedBatch out;
  simdjson::dom::array arr;
  if (doc.get_array().get(arr) == simdjson::SUCCESS) {
    if (arr.size() > max_items) too_many(max_items);
    out.samples.reserve(arr.size());
    for (auto e : arr) add_item(out, e, 0);
  } else if (doc.is_object()) {
    add_item(out, doc, 0);
  } else {
    throw Error(ErrorKind::bad_request, "body must be a JSON array of samples or one sample");
  }
  return out;
}

ParsedBatch parse_ndjson(std::string_view body, std::size_t max_items) {
  simdjson::dom::parser& parser = thread_parser();
  ParsedBatch out;
  std::size_t line_no = 0, parsed = 0;
  std::size_t pos = 0;
  while (pos < body.size()) {
    const std::size_t end = std::min(body.find('\n', pos), body.size());
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (out.items >= max_items) too_many(max_items);
    simdjson::dom::element doc;
    if (auto err = parser.parse(line.data(), line.size(), true).get(doc)) {
      out.errors.push_back(ItemError{
          out.items++, "", std::string("invalid JSON: ") + simdjson::error_message(err), line_no});
      continue;
    }
    ++parsed;
    add_item(out, doc, line_no);
  }
  if (out.items == 0) throw Error(ErrorKind::bad_request, "body holds no samples");
  if (parsed == 0) {  // not NDJSON at all: refuse the body rather than every line
    throw Error(ErrorKind::bad_request, "no line of the body is JSON (line " +
                                            std::to_string(*out.errors.front().line) + ": " +
                                            out.errors.front().message + ")");
  }
  return out;
}

// ---- CSV --------------------------------------------------------------------------------------

std::vector<std::string_view> split_csv(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    std::string_view cell =
        line.substr(start, comma == std::string_view::npos ? line.npos : comma - start);
    while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) cell.remove_prefix(1);
    while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
    if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') {
      cell = cell.substr(1, cell.size() - 2);
    }
    cells.push_back(cell);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return cells;
}

// Columns, in the order of core::Values; then device and ts.
constexpr std::array<std::string_view, 20> kCsvValueColumns = {
    "va", "vb", "vc", "ia",     "ib",     "ic",     "pa",     "pb",     "pc",     "qa",
    "qb", "qc", "f",  "thd_va", "thd_vb", "thd_vc", "thd_ia", "thd_ib", "thd_ic", "temp"};
constexpr std::size_t kCsvRequired = 13;  // va … f

std::string json_field(std::size_t value_col) {
  static constexpr const char* kGroups[] = {"v", "i", "p", "q"};
  if (value_col < 12) {
    return std::string(kGroups[value_col / 3]) + "[" + std::to_string(value_col % 3) + "]";
  }
  if (value_col == 12) return "f";
  if (value_col < 16) return "thd_v[" + std::to_string(value_col - 13) + "]";
  if (value_col < 19) return "thd_i[" + std::to_string(value_col - 16) + "]";
  return "temp";
}

ParsedBatch parse_csv(std::string_view body, std::size_t max_items) {
  ParsedBatch out;
  std::size_t pos = 0;
  std::size_t line_no = 0;
  auto next_line = [&](std::string_view& line) {
    while (pos < body.size()) {
      const std::size_t end = std::min(body.find('\n', pos), body.size());
      line = body.substr(pos, end - pos);
      pos = end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") != std::string_view::npos) return true;
    }
    return false;
  };
  std::string_view header;
  if (!next_line(header)) throw Error(ErrorKind::bad_request, "CSV body is empty");
  const auto names = split_csv(header);
  int device_col = -1, ts_col = -1;
  std::array<int, kCsvValueColumns.size()> value_col;
  value_col.fill(-1);
  for (std::size_t c = 0; c < names.size(); ++c) {
    if (names[c] == "device") device_col = static_cast<int>(c);
    if (names[c] == "ts") ts_col = static_cast<int>(c);
    for (std::size_t k = 0; k < kCsvValueColumns.size(); ++k) {
      if (names[c] == kCsvValueColumns[k]) value_col[k] = static_cast<int>(c);
    }
  }
  auto missing = [](std::string_view col) {
    throw Error(ErrorKind::bad_request,
                "CSV header (line 1) lacks the required column '" + std::string(col) + "'",
                std::string(col));
  };
  if (device_col < 0) missing("device");
  if (ts_col < 0) missing("ts");
  for (std::size_t k = 0; k < kCsvRequired; ++k) {
    if (value_col[k] < 0) missing(kCsvValueColumns[k]);
  }
  std::string_view line;
  while (next_line(line)) {
    if (out.items >= max_items) too_many(max_items);
    const std::size_t index = out.items++;
    const auto cells = split_csv(line);
    auto reject = [&](std::string field, std::string message) {
      out.errors.push_back(ItemError{index, std::move(field), std::move(message), line_no});
    };
    if (cells.size() != names.size()) {
      reject("", "expected " + std::to_string(names.size()) + " cells, got " +
                     std::to_string(cells.size()));
      continue;
    }
    core::Sample s;
    const auto dev = cells[static_cast<std::size_t>(device_col)];
    if (!core::valid_device_id(dev)) {
      reject("device", "must match [A-Za-z0-9_.-]{1,64}");
      continue;
    }
    s.device.assign(dev);
    const auto ts = core::parse_time_param(cells[static_cast<std::size_t>(ts_col)]);
    if (!ts) {
      reject("ts", "must be an RFC 3339 timestamp or Unix milliseconds");
      continue;
    }
    s.ts = *ts;
    double* values = core::as_array(s.values);
    bool ok = true;
    for (std::size_t k = 0; k < kCsvValueColumns.size() && ok; ++k) {
      if (value_col[k] < 0) continue;
      const auto cell = cells[static_cast<std::size_t>(value_col[k])];
      if (cell.empty() && k >= kCsvRequired) continue;  // optional, absent
      double x = 0;
      auto [p, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), x);
      if (cell.empty() || ec != std::errc() || p != cell.data() + cell.size()) {
        reject(json_field(k), cell.empty() ? "is required" : "must be a number");
        ok = false;
      } else {
        values[k] = x;
      }
    }
    if (!ok) continue;
    out.samples.push_back(std::move(s));
    out.positions.push_back(index);
    out.lines.push_back(line_no);
  }
  return out;
}

}  // namespace

ParsedBatch ParsedBatch::of(std::vector<core::Sample> samples) {
  ParsedBatch b;
  b.items = samples.size();
  for (std::size_t k = 0; k < samples.size(); ++k) b.positions.push_back(k);
  b.lines.assign(samples.size(), 0);
  b.samples = std::move(samples);
  return b;
}

std::optional<Format> format_from_content_type(std::string_view ct) {
  const auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  std::string lower(ct);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.empty() || lower == "application/json") return Format::json;
  if (lower == "application/x-ndjson" || lower == "application/ndjson" ||
      lower == "application/jsonl") {
    return Format::ndjson;
  }
  if (lower == "text/csv") return Format::csv;
  return std::nullopt;
}

ParsedBatch parse_batch(std::string_view body, Format format, std::size_t max_items) {
  switch (format) {
    case Format::json:
      return parse_json(body, max_items);
    case Format::ndjson:
      return parse_ndjson(body, max_items);
    case Format::csv:
      return parse_csv(body, max_items);
  }
  throw Error(ErrorKind::bad_request, "unknown format");
}

core::Sample parse_legacy_point(std::string_view body, std::string device, core::TimeUs now) {
  simdjson::dom::parser& parser = thread_parser();
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size(), true).get(doc)) {
    throw Error(ErrorKind::bad_request,
                std::string("body is not valid JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    throw Error(ErrorKind::bad_request, "body must be a JSON object");
  }
  core::Sample s;
  s.device = std::move(device);
  s.ts = now;
  simdjson::dom::element ts;
  if (obj["timestamp"].get(ts) == simdjson::SUCCESS && !ts.is_null()) {
    if (auto err = read_ts(ts, s.ts)) {
      throw Error(ErrorKind::unprocessable, err->message, "timestamp");
    }
  }
  auto phases = [&](const char* group, std::array<double, 3>& out) {
    static constexpr const char* kPhases[] = {"phaseA", "phaseB", "phaseC"};
    simdjson::dom::object g;
    if (obj[group].get_object().get(g) != simdjson::SUCCESS) {
      throw Error(ErrorKind::unprocessable, "must be an object with phaseA, phaseB, phaseC", group);
    }
    for (std::size_t k = 0; k < 3; ++k) {
      simdjson::dom::element e;
      if (g[kPhases[k]].get(e) != simdjson::SUCCESS || !read_number(e, out[k])) {
        throw Error(ErrorKind::unprocessable, "must be a number",
                    std::string(group) + "." + kPhases[k]);
      }
    }
  };
  phases("voltage", s.values.v);
  phases("current", s.values.i);
  phases("active_power", s.values.p);
  phases("reactive_power", s.values.q);
  simdjson::dom::element f;
  if (obj["frequency"]["frequency_value"].get(f) != simdjson::SUCCESS ||
      !read_number(f, s.values.f)) {
    throw Error(ErrorKind::unprocessable, "must be a number", "frequency.frequency_value");
  }
  return s;
}

std::string legacy_field_name(const std::string& field) {
  static const std::map<std::string, std::string> kNames = {
      {"v[0]", "voltage.phaseA"},         {"v[1]", "voltage.phaseB"},
      {"v[2]", "voltage.phaseC"},         {"i[0]", "current.phaseA"},
      {"i[1]", "current.phaseB"},         {"i[2]", "current.phaseC"},
      {"p[0]", "active_power.phaseA"},    {"p[1]", "active_power.phaseB"},
      {"p[2]", "active_power.phaseC"},    {"q[0]", "reactive_power.phaseA"},
      {"q[1]", "reactive_power.phaseB"},  {"q[2]", "reactive_power.phaseC"},
      {"f", "frequency.frequency_value"}, {"ts", "timestamp"}};
  const auto it = kNames.find(field);
  return it == kNames.end() ? field : it->second;
}

}  // namespace remhart::ingest
