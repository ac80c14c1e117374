#include "grid/io/json_network.hpp"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/json_depth.hpp"
#include "grid/io/json_fields.hpp"

namespace remhart::grid::io {

using nlohmann::json;

namespace {

constexpr const char* kFormat = "remhart-network";
constexpr double kInf = std::numeric_limits<double>::infinity();

const char* type_name(BusType t) {
  switch (t) {
    case BusType::pq:
      return "pq";
    case BusType::pv:
      return "pv";
    case BusType::ref:
      return "ref";
    case BusType::isolated:
      return "isolated";
  }
  return "pq";
}

const json& array(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) throw NetworkError(std::string(key) + ": must be an array");
  return *it;
}

json finite_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

}  // namespace

Network parse_network_json(std::string_view text) {
  if (core::json_too_deep(text)) throw NetworkError("JSON nested too deeply");
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw NetworkError("not valid JSON");
  Fields top(j, "network",
             {"format", "version", "name", "base_mva", "buses", "branches", "generators"});
  if (top.text("format") != kFormat) top.fail("format", std::string("must be \"") + kFormat + "\"");
  if (top.num("version", 0) != 1) top.fail("version", "must be 1");
  Network n;
  n.name = top.text("name");
  n.base_mva = top.num("base_mva", 100);
  if (!(n.base_mva > 0)) top.fail("base_mva", "must be positive");
  const auto& buses = array(j, "buses");
  for (std::size_t k = 0; k < buses.size(); ++k) {
    Fields f(buses[k], "buses[" + std::to_string(k) + "]",
             {"id", "name", "type", "pd_mw", "qd_mvar", "gs_mw", "bs_mvar", "vm_pu", "va_deg",
              "base_kv", "vmax_pu", "vmin_pu", "x", "y"});
    Bus b;
    b.id = f.id("id");
    b.name = f.text("name");
    const std::string t = f.text("type");
    if (t == "pq" || t.empty()) {
      b.type = BusType::pq;
    } else if (t == "pv") {
      b.type = BusType::pv;
    } else if (t == "ref") {
      b.type = BusType::ref;
    } else if (t == "isolated") {
      b.type = BusType::isolated;
    } else {
      f.fail("type", "must be pq, pv, ref or isolated");
    }
    b.pd = f.num("pd_mw", 0, 0);
    b.qd = f.num("qd_mvar", 0, 0);
    b.gs = f.num("gs_mw", 0, 0);
    b.bs = f.num("bs_mvar", 0, 0);
    b.vm = f.num("vm_pu", 1, 1);
    b.va = f.num("va_deg", 0, 0);
    b.base_kv = f.num("base_kv", 0, 0);
    b.vmax = f.num("vmax_pu", 1.1);
    b.vmin = f.num("vmin_pu", 0.9, 0);
    if (!(b.vm > 0)) f.fail("vm_pu", "must be positive");
    if (buses[k].contains("x") != buses[k].contains("y")) {
      f.fail(buses[k].contains("x") ? "y" : "x", "is required with the other coordinate");
    }
    if (buses[k].contains("x")) b.xy = {f.required("x"), f.required("y")};
    n.buses.push_back(std::move(b));
  }
  const auto& branches = array(j, "branches");
  for (std::size_t k = 0; k < branches.size(); ++k) {
    Fields f(
        branches[k], "branches[" + std::to_string(k) + "]",
        {"from", "to", "r_pu", "x_pu", "b_pu", "rate_a_mva", "ratio", "shift_deg", "in_service"});
    Branch br;
    br.from = f.id("from");
    br.to = f.id("to");
    br.r = f.num("r_pu", 0, 0);
    br.x = f.required("x_pu");
    br.b = f.num("b_pu", 0, 0);
    br.rate_a = f.num("rate_a_mva", 0, 0);
    br.ratio = f.num("ratio", 0, 0);
    br.shift = f.num("shift_deg", 0, 0);
    br.in_service = f.flag("in_service", true);
    if (br.ratio < 0) f.fail("ratio", "must not be negative");
    n.branches.push_back(br);
  }
  const auto& gens = array(j, "generators");
  for (std::size_t k = 0; k < gens.size(); ++k) {
    Fields f(gens[k], "generators[" + std::to_string(k) + "]",
             {"bus", "pg_mw", "qg_mvar", "qmax_mvar", "qmin_mvar", "vg_pu", "pmax_mw", "pmin_mw",
              "in_service"});
    Gen g;
    g.bus = f.id("bus");
    g.pg = f.num("pg_mw", 0, 0);
    g.qg = f.num("qg_mvar", 0, 0);
    g.qmax = f.num("qmax_mvar", kInf);
    g.qmin = f.num("qmin_mvar", -kInf, -kInf);
    g.vg = f.num("vg_pu", 1, 1);
    g.pmax = f.num("pmax_mw", kInf);
    g.pmin = f.num("pmin_mw", 0, -kInf);
    g.in_service = f.flag("in_service", true);
    if (!(g.vg > 0)) f.fail("vg_pu", "must be positive");
    n.gens.push_back(g);
  }
  validate(n);
  return n;
}

std::string network_to_json(const Network& n) {
  json buses = json::array(), branches = json::array(), gens = json::array();
  for (const auto& b : n.buses) {
    buses.push_back({{"id", b.id},
                     {"name", b.name},
                     {"type", type_name(b.type)},
                     {"pd_mw", b.pd},
                     {"qd_mvar", b.qd},
                     {"gs_mw", b.gs},
                     {"bs_mvar", b.bs},
                     {"vm_pu", b.vm},
                     {"va_deg", b.va},
                     {"base_kv", b.base_kv},
                     {"vmax_pu", finite_or_null(b.vmax)},
                     {"vmin_pu", finite_or_null(b.vmin)}});
    if (b.xy) {
      buses.back()["x"] = (*b.xy)[0];
      buses.back()["y"] = (*b.xy)[1];
    }
  }
  for (const auto& br : n.branches) {
    branches.push_back({{"from", br.from},
                        {"to", br.to},
                        {"r_pu", br.r},
                        {"x_pu", br.x},
                        {"b_pu", br.b},
                        {"rate_a_mva", br.rate_a},
                        {"ratio", br.ratio},
                        {"shift_deg", br.shift},
                        {"in_service", br.in_service}});
  }
  for (const auto& g : n.gens) {
    gens.push_back({{"bus", g.bus},
                    {"pg_mw", g.pg},
                    {"qg_mvar", g.qg},
                    {"qmax_mvar", finite_or_null(g.qmax)},
                    {"qmin_mvar", finite_or_null(g.qmin)},
                    {"vg_pu", g.vg},
                    {"pmax_mw", finite_or_null(g.pmax)},
                    {"pmin_mw", finite_or_null(g.pmin)},
                    {"in_service", g.in_service}});
  }
  return json{{"format", kFormat},      {"version", 1},   {"name", n.name},
              {"base_mva", n.base_mva}, {"buses", buses}, {"branches", branches},
              {"generators", gens}}
      .dump();
}

}  // namespace remhart::grid::io
