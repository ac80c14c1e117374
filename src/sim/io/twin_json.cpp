#include "sim/io/twin_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/json_depth.hpp"
#include "grid/io/json_fields.hpp"
#include "grid/io/json_network.hpp"

namespace remhart::sim::io {

using grid::NetworkError;
using grid::io::Fields;
using nlohmann::json;

namespace {

const json& list(const json& j, const char* key) {
  static const json empty = json::array();
  const auto it = j.find(key);
  if (it == j.end()) return empty;
  if (!it->is_array()) throw NetworkError(std::string(key) + ": must be an array");
  return *it;
}

std::string at(const char* key, std::size_t k) {
  return std::string(key) + "[" + std::to_string(k) + "]";
}

std::pair<std::int64_t, std::int64_t> branch_ref(const Fields& f, const std::string& text,
                                                 const char* key) {
  const auto ref = parse_branch_ref(text);
  if (!ref) f.fail(key, "must be `from-to` (two bus ids)");
  return {ref->from, ref->to};
}

}  // namespace

Twin parse_twin_json(std::string_view text) {
  if (core::json_too_deep(text)) throw NetworkError("JSON nested too deeply");
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw NetworkError("not valid JSON");
  Fields top(j, "twin",
             {"format", "version", "name", "latitude_deg", "network", "system", "transformer",
              "scenario_defaults", "loads", "pv", "wind", "batteries", "capacitors", "devices"});
  if (top.text("format") != "remhart-twin") top.fail("format", "must be \"remhart-twin\"");
  if (top.required("version") != 1) top.fail("version", "must be 1");
  Twin t;
  t.name = top.text("name");
  t.latitude_deg = top.num("latitude_deg", 51.5);
  if (!j.contains("network")) top.fail("network", "is required");
  try {
    t.network = grid::io::parse_network_json(j["network"].dump());
  } catch (const NetworkError& e) {
    throw NetworkError(std::string("network: ") + e.what());
  }

  if (j.contains("system")) {
    Fields f(j["system"], "system",
             {"frequency_hz", "inertia_h_s", "damping_d", "droop_r", "governor_tg_s", "wander_hz"});
    auto& d = t.dynamics;
    d.frequency_hz = f.num("frequency_hz", d.frequency_hz);
    d.inertia_h_s = f.num("inertia_h_s", d.inertia_h_s);
    d.damping_d = f.num("damping_d", d.damping_d);
    d.droop_r = f.num("droop_r", d.droop_r);
    d.governor_tg_s = f.num("governor_tg_s", d.governor_tg_s);
    d.wander_hz = f.num("wander_hz", d.wander_hz);
  }
  if (!j.contains("transformer")) top.fail("transformer", "is required");
  {
    Fields f(j["transformer"], "transformer",
             {"branch", "rated_kva", "top_oil_rise_c", "hot_spot_gradient_c", "loss_ratio",
              "oil_exponent_n", "winding_exponent_m", "oil_time_constant_min",
              "winding_time_constant_min", "normal_life_h"});
    auto& x = t.transformer;
    std::tie(x.from, x.to) = branch_ref(f, f.text("branch"), "branch");
    x.rated_kva = f.required("rated_kva");
    x.top_oil_rise_c = f.num("top_oil_rise_c", x.top_oil_rise_c);
    x.hot_spot_gradient_c = f.num("hot_spot_gradient_c", x.hot_spot_gradient_c);
    x.loss_ratio = f.num("loss_ratio", x.loss_ratio);
    x.oil_exponent_n = f.num("oil_exponent_n", x.oil_exponent_n);
    x.winding_exponent_m = f.num("winding_exponent_m", x.winding_exponent_m);
    x.oil_time_constant_min = f.num("oil_time_constant_min", x.oil_time_constant_min);
    x.winding_time_constant_min = f.num("winding_time_constant_min", x.winding_time_constant_min);
    x.normal_life_h = f.num("normal_life_h", x.normal_life_h);
  }
  if (j.contains("scenario_defaults")) {
    Fields f(j["scenario_defaults"], "scenario_defaults", {"sag_bus", "lateral"});
    if (j["scenario_defaults"].contains("sag_bus")) t.sag_bus = f.id("sag_bus");
    const auto lateral = f.text("lateral");
    if (!lateral.empty())
      std::tie(t.lateral_from, t.lateral_to) = branch_ref(f, lateral, "lateral");
  }
  if (!t.sag_bus) t.sag_bus = t.transformer.from;

  const auto& loads = list(j, "loads");
  for (std::size_t k = 0; k < loads.size(); ++k) {
    Fields f(loads[k], at("loads", k),
             {"name", "bus", "class", "peak_kw", "power_factor", "phase_share", "nonlinear"});
    TwinLoad l;
    l.name = f.text("name");
    l.bus = f.id("bus");
    const auto cls = f.text("class");
    if (cls == "residential" || cls.empty()) {
      l.cls = LoadClass::residential;
    } else if (cls == "commercial") {
      l.cls = LoadClass::commercial;
    } else if (cls == "industrial") {
      l.cls = LoadClass::industrial;
    } else {
      f.fail("class", "must be residential, commercial or industrial");
    }
    l.peak_kw = f.required("peak_kw");
    l.power_factor = f.num("power_factor", l.power_factor);
    l.nonlinear = f.num("nonlinear", l.nonlinear);
    if (loads[k].contains("phase_share")) {
      const auto& s = loads[k]["phase_share"];
      if (!s.is_array() || s.size() != 3 ||
          !std::all_of(s.begin(), s.end(), [](const json& x) { return x.is_number(); })) {
        f.fail("phase_share", "must be three numbers");
      }
      for (std::size_t p = 0; p < 3; ++p) l.phase_share[p] = s[p].get<double>();
      const double sum = l.phase_share[0] + l.phase_share[1] + l.phase_share[2];
      if (std::fabs(sum - 1) <= 1e-3) {
        for (auto& x : l.phase_share) x /= sum;  // rounding in the file
      }
    }
    t.loads.push_back(l);
  }
  const auto& pv = list(j, "pv");
  for (std::size_t k = 0; k < pv.size(); ++k) {
    Fields f(pv[k], at("pv", k), {"name", "bus", "peak_kw"});
    t.pv.push_back({f.text("name"), f.id("bus"), f.required("peak_kw")});
  }
  const auto& wind = list(j, "wind");
  for (std::size_t k = 0; k < wind.size(); ++k) {
    Fields f(wind[k], at("wind", k), {"name", "bus", "rated_kw", "mean_speed_ms"});
    t.wind.push_back(
        {f.text("name"), f.id("bus"), f.required("rated_kw"), f.num("mean_speed_ms", 7)});
  }
  const auto& bats = list(j, "batteries");
  for (std::size_t k = 0; k < bats.size(); ++k) {
    Fields f(bats[k], at("batteries", k), {"name", "bus", "power_kw", "energy_kwh", "soc"});
    t.batteries.push_back({f.text("name"), f.id("bus"), f.required("power_kw"),
                           f.required("energy_kwh"), f.num("soc", 0.5)});
  }
  const auto& caps = list(j, "capacitors");
  for (std::size_t k = 0; k < caps.size(); ++k) {
    Fields f(caps[k], at("capacitors", k), {"name", "bus", "kvar", "on"});
    t.capacitors.push_back({f.text("name"), f.id("bus"), f.required("kvar"), f.flag("on", true)});
  }
  const auto& devs = list(j, "devices");
  for (std::size_t k = 0; k < devs.size(); ++k) {
    Fields f(devs[k], at("devices", k),
             {"id", "name", "kind", "element", "nominal_voltage", "rated_current",
              "nominal_frequency", "site", "accuracy_class", "tags"});
    TwinDevice d;
    d.device.id = f.text("id");
    d.device.name = f.text("name");
    d.device.kind = f.text("kind");
    if (d.device.kind.empty()) d.device.kind = "meter";
    d.device.element = f.text("element");
    d.device.nominal_voltage = f.required("nominal_voltage");
    d.device.rated_current = f.required("rated_current");
    d.device.nominal_frequency = f.num("nominal_frequency", t.dynamics.frequency_hz);
    d.device.site = f.text("site");
    d.device.accuracy_class = f.num("accuracy_class", 0.5);
    if (devs[k].contains("tags")) {
      const auto& tags = devs[k]["tags"];
      if (!tags.is_array()) f.fail("tags", "must be an array of strings");
      for (const auto& tag : tags) {
        if (!tag.is_string()) f.fail("tags", "must be an array of strings");
        d.device.tags.push_back(tag.get<std::string>());
      }
    }
    t.devices.push_back(d);
  }
  validate(t);
  return t;
}

Twin read_twin_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NetworkError(path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return parse_twin_json(ss.str());
  } catch (const NetworkError& e) {
    throw NetworkError(path + ": " + e.what());
  }
}

}  // namespace remhart::sim::io
