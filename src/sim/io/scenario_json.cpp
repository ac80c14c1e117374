#include "sim/io/scenario_json.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace remhart::sim::io {

using nlohmann::json;

namespace {

std::optional<EventKind> kind_of(const std::string& s) {
  static const std::pair<const char*, EventKind> kinds[] = {
      {"fault", EventKind::fault},
      {"trip", EventKind::trip},
      {"capacitor", EventKind::capacitor},
      {"load_scale", EventKind::load_scale},
      {"generation_loss", EventKind::generation_loss},
      {"harmonics", EventKind::harmonics},
      {"imbalance", EventKind::imbalance},
      {"voltage_setpoint", EventKind::voltage_setpoint},
      {"frequency_offset", EventKind::frequency_offset},
      {"load_target", EventKind::load_target},
      {"single_phase_load", EventKind::single_phase_load},
  };
  for (const auto& [name, k] : kinds) {
    if (s == name) return k;
  }
  return std::nullopt;
}

Event parse_event(const json& j, const std::string& field, const Twin& twin) {
  if (!j.is_object()) throw ParamError(field, "must be an object");
  for (const auto& item : j.items()) {
    const std::string& k = item.key();  // named, not bound: lambdas capture it (clang 14)
    static const char* known[] = {"at_s",   "duration_s", "type",  "bus",
                                  "branch", "value",      "label", "severity"};
    if (std::none_of(std::begin(known), std::end(known), [&](const char* n) { return k == n; })) {
      throw ParamError(field + "." + k, "is not a known field");
    }
  }
  auto number = [&](const char* key, double fallback) {
    if (!j.contains(key)) return fallback;
    if (!j[key].is_number()) throw ParamError(field + "." + key, "must be a number");
    const double v = j[key].get<double>();
    if (!std::isfinite(v)) throw ParamError(field + "." + key, "must be finite");
    return v;
  };
  Event e;
  if (!j.contains("type") || !j["type"].is_string()) {
    throw ParamError(field + ".type",
                     "is required: fault, trip, capacitor, load_scale, "
                     "generation_loss, harmonics, imbalance, voltage_setpoint "
                     "or frequency_offset");
  }
  const auto kind = kind_of(j["type"].get<std::string>());
  if (!kind) throw ParamError(field + ".type", "is not a known event type");
  e.kind = *kind;
  e.at_s = number("at_s", -1);
  if (e.at_s < 0) throw ParamError(field + ".at_s", "is required and must not be negative");
  const double d = number("duration_s", 0);
  if (d < 0) throw ParamError(field + ".duration_s", "must not be negative");
  e.duration_s = d == 0 ? std::numeric_limits<double>::infinity() : d;
  const double bus = number("bus", 0);
  if (bus != std::floor(bus)) throw ParamError(field + ".bus", "must be a bus id");
  e.bus = static_cast<std::int64_t>(bus);
  e.value = number("value", 0);
  if (e.kind == EventKind::fault && !(e.value > 0)) {
    throw ParamError(field + ".value", "a fault needs its impedance in Ω (> 0)");
  }
  if ((e.kind == EventKind::fault || e.kind == EventKind::capacitor) && e.bus == 0) {
    throw ParamError(field + ".bus", "is required for this event");
  }
  if (e.kind == EventKind::trip) {
    if (!j.contains("branch") || !j["branch"].is_string()) {
      throw ParamError(field + ".branch", "is required for a trip: `from-to`");
    }
    const auto ref = parse_branch_ref(j["branch"].get<std::string>());
    if (!ref) throw ParamError(field + ".branch", "must be `from-to` (two bus ids)");
    const auto k = branch_index(twin.network, *ref);
    if (!k) throw ParamError(field + ".branch", "names no branch of the twin");
    e.branch = *k;
    e.bus = ref->to;
  }
  if (j.contains("label")) {
    if (!j["label"].is_string()) throw ParamError(field + ".label", "must be a string");
    e.label = j["label"].get<std::string>();
  }
  if (j.contains("severity")) {
    const auto s = j["severity"].is_string() ? j["severity"].get<std::string>() : "";
    bool ok = false;
    for (auto sev : {Severity::minor, Severity::moderate, Severity::severe, Severity::critical}) {
      if (s == severity_name(sev)) {
        e.severity = sev;
        ok = true;
      }
    }
    if (!ok) throw ParamError(field + ".severity", "must be minor, moderate, severe or critical");
  }
  return e;
}

}  // namespace

ScenarioParams parse_scenario_params(const json& params, const Twin& twin) {
  ScenarioParams p;
  if (params.is_null()) return p;
  if (!params.is_object()) throw ParamError("params", "must be an object");
  for (const auto& [name, v] : params.items()) {
    const std::string field = "params." + name;
    if (name == "events") {
      if (!v.is_array()) throw ParamError(field, "must be an array");
      for (std::size_t k = 0; k < v.size(); ++k) {
        p.events.push_back(parse_event(v[k], field + "[" + std::to_string(k) + "]", twin));
      }
    } else if (v.is_boolean()) {
      p.numbers[name] = v.get<bool>() ? 1 : 0;
    } else if (v.is_number()) {
      p.numbers[name] = v.get<double>();
    } else if (v.is_string()) {
      p.texts[name] = v.get<std::string>();
    } else {
      throw ParamError(field, "must be a number, a boolean or a string");
    }
  }
  return p;
}

json scenario_catalogue_json() {
  json items = json::array();
  for (const auto& d : scenario_catalogue()) {
    json params = json::array();
    for (const auto& p : d.params) {
      json j = {{"name", p.name}, {"description", p.description}};
      switch (p.type) {
        case ParamDef::Type::number:
        case ParamDef::Type::integer:
          j["type"] = p.type == ParamDef::Type::number ? "number" : "integer";
          j["default"] = p.def;
          j["min"] = p.min;
          j["max"] = p.max;
          break;
        case ParamDef::Type::boolean:
          j["type"] = "boolean";
          j["default"] = p.def != 0;
          break;
        case ParamDef::Type::choice:
          j["type"] = "choice";
          j["choices"] = p.choices;
          j["default"] = p.text_def;
          break;
        case ParamDef::Type::text:
          j["type"] = "text";
          j["default"] = p.text_def;
          break;
      }
      if (!p.unit.empty()) j["unit"] = p.unit;
      params.push_back(std::move(j));
    }
    items.push_back({{"id", d.id}, {"description", d.description}, {"params", params}});
  }
  return {{"items", items},
          {"aliases",
           {{"normal", "normal_day"},
            {"overcurrent", "overload"},
            {"frequency_drift", "frequency_excursion"},
            {"fault", "line_fault"}}}};
}

}  // namespace remhart::sim::io
