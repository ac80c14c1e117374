#include "grid/io/what_if_json.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace remhart::grid::io {

using nlohmann::json;

namespace {
double number(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || !j[key].is_number() || !std::isfinite(j[key].get<double>())) {
    throw NetworkError("must be a number", path + "." + key);
  }
  return j[key].get<double>();
}

std::optional<double> optional_number(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key)) return std::nullopt;
  return number(j, key, path);
}

std::int64_t bus_id(const json& j, const std::string& field) {
  if (!j.is_number_integer()) throw NetworkError("is not a bus of the model", field);
  return j.get<std::int64_t>();
}
}  // namespace

BranchRef parse_branch_ref(const json& j, const std::string& field) {
  if (j.is_number_integer()) {
    const auto k = j.get<std::int64_t>();
    if (k < 0) throw NetworkError("no branch with this index", field);
    return {static_cast<std::size_t>(k), 0, 0};
  }
  if (j.is_object() && j.contains("from") && j.contains("to") && j["from"].is_number_integer() &&
      j["to"].is_number_integer()) {
    return {std::nullopt, j["from"].get<std::int64_t>(), j["to"].get<std::int64_t>()};
  }
  throw NetworkError("must be a branch index or {\"from\", \"to\"}", field);
}

std::vector<ModelChange> parse_changes(const json& changes, const std::string& field) {
  if (!changes.is_array()) throw NetworkError("must be an array", field);
  std::vector<ModelChange> out;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const auto& c = changes[i];
    ModelChange m;
    m.field = field + "[" + std::to_string(i) + "]";
    const std::string& path = m.field;
    if (!c.is_object() || !c.contains("type") || !c["type"].is_string()) {
      throw NetworkError("must be an object with a type", path);
    }
    const std::string type = c["type"].get<std::string>();
    using Type = ModelChange::Type;
    if (type == "scale_load") {
      m.type = Type::scale_load;
      m.factor = number(c, "factor", path);
      if (c.contains("buses")) {
        if (!c["buses"].is_array()) throw NetworkError("must be an array", path + ".buses");
        for (const auto& b : c["buses"]) m.buses.push_back(bus_id(b, path + ".buses"));
      }
    } else if (type == "set_load") {
      m.type = Type::set_load;
      m.bus = bus_id(c.value("bus", json()), path + ".bus");
      m.pd_mw = optional_number(c, "pd_mw", path);
      m.qd_mvar = optional_number(c, "qd_mvar", path);
    } else if (type == "outage") {
      m.type = Type::outage;
      m.branch = parse_branch_ref(c.value("branch", json()), path + ".branch");
    } else if (type == "set_generator") {
      m.type = Type::set_generator;
      const auto& g = c.value("generator", json());
      if (!g.is_number_integer()) {
        throw NetworkError("no generator with this index", path + ".generator");
      }
      m.generator = g.get<std::int64_t>();
      m.pg_mw = optional_number(c, "pg_mw", path);
      m.vg_pu = optional_number(c, "vg_pu", path);
      if (c.contains("in_service")) {
        if (!c["in_service"].is_boolean()) {
          throw NetworkError("must be true or false", path + ".in_service");
        }
        m.in_service = c["in_service"].get<bool>();
      }
    } else {
      throw NetworkError("type must be scale_load, set_load, outage or set_generator",
                         path + ".type");
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace remhart::grid::io
