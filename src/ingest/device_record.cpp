#include "ingest/device_record.hpp"

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace remhart::ingest {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

core::Device parse_device_record(const json& j, std::optional<std::string> path_id) {
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
  num("accuracy_class", d.accuracy_class);
  if (d.accuracy_class > 10) {
    throw Error(ErrorKind::unprocessable, "must be at most 10 (% of reading)", "accuracy_class");
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

}  // namespace remhart::ingest
