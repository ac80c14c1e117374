#include "sim/twin.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace remhart::sim {
namespace {

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<BranchRef> parse_branch_ref(std::string_view text) {
  const auto dash = text.find('-', 1);  // the first character may be a minus sign
  if (dash == std::string_view::npos) return std::nullopt;
  const auto from = to_int(text.substr(0, dash)), to = to_int(text.substr(dash + 1));
  if (!from || !to) return std::nullopt;
  return BranchRef{*from, *to};
}

std::optional<std::size_t> branch_index(const grid::Network& net, BranchRef ref) {
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    if (net.branches[k].from == ref.from && net.branches[k].to == ref.to) return k;
  }
  return std::nullopt;
}

ElementRef resolve_element(const grid::Network& net, const std::string& element) {
  const auto bad = [&](const std::string& why) {
    return grid::NetworkError("element '" + element + "': " + why);
  };
  auto has_bus = [&](std::int64_t id) {
    return std::any_of(net.buses.begin(), net.buses.end(),
                       [&](const grid::Bus& b) { return b.id == id; });
  };
  ElementRef r;
  const std::string_view e = element;
  if (e.starts_with("bus:")) {
    const auto id = to_int(e.substr(4));
    if (!id) throw bad("expected bus:<id>");
    if (!has_bus(*id)) throw bad("no such bus");
    r.bus = *id;
    return r;
  }
  if (e.starts_with("branch:")) {
    const auto rest = e.substr(7);
    const auto colon = rest.find(':');
    const auto ref =
        colon == std::string_view::npos ? std::nullopt : parse_branch_ref(rest.substr(0, colon));
    const auto end = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
    if (!ref || (end != "from" && end != "to")) {
      throw bad("expected branch:<from>-<to>:from|to");
    }
    if (const auto k = branch_index(net, *ref)) {
      r.is_bus = false;
      r.branch = *k;
      r.from_end = end == "from";
      r.bus = r.from_end ? ref->from : ref->to;
      return r;
    }
    throw bad("no such branch");
  }
  throw bad("expected bus:<id> or branch:<from>-<to>:from|to");
}

void validate(const Twin& twin) {
  using grid::NetworkError;
  const auto& net = twin.network;
  const grid::BusIndex index = grid::validate(net);
  const auto refs = std::count_if(net.buses.begin(), net.buses.end(),
                                  [](const grid::Bus& b) { return b.type == grid::BusType::ref; });
  if (refs != 1) throw NetworkError("network: a twin needs exactly one reference (source) bus");
  // Radial and connected: n − 1 branches reaching every bus.
  if (net.branches.size() + 1 != net.buses.size()) {
    throw NetworkError("network: a twin must be radial (" + std::to_string(net.buses.size()) +
                       " buses need " + std::to_string(net.buses.size() - 1) + " branches)");
  }
  std::vector<std::vector<std::size_t>> adj(net.buses.size());
  for (const auto& br : net.branches) {
    adj[index.at(br.from)].push_back(index.at(br.to));
    adj[index.at(br.to)].push_back(index.at(br.from));
  }
  std::vector<char> seen(net.buses.size(), 0);
  std::vector<std::size_t> stack{0};
  seen[0] = 1;
  while (!stack.empty()) {
    const auto u = stack.back();
    stack.pop_back();
    for (auto w : adj[u]) {
      if (!seen[w]) {
        seen[w] = 1;
        stack.push_back(w);
      }
    }
  }
  for (std::size_t k = 0; k < seen.size(); ++k) {
    if (!seen[k]) {
      throw NetworkError("network: bus " + std::to_string(net.buses[k].id) + " is not connected");
    }
  }
  for (const auto& b : net.buses) {
    if (!(b.base_kv > 0)) {
      throw NetworkError("network: bus " + std::to_string(b.id) + " needs base_kv");
    }
  }
  auto bus_ok = [&](std::int64_t bus, const std::string& where) {
    if (index.find(bus) < 0) throw NetworkError(where + ".bus: no such bus");
  };
  std::set<std::string> names;
  auto name_ok = [&](const std::string& name, const std::string& where) {
    if (name.empty()) throw NetworkError(where + ".name: required");
    if (!names.insert(name).second) throw NetworkError(where + ".name: duplicate '" + name + "'");
  };
  for (std::size_t k = 0; k < twin.loads.size(); ++k) {
    const auto& l = twin.loads[k];
    const std::string w = "loads[" + std::to_string(k) + "]";
    name_ok(l.name, w);
    bus_ok(l.bus, w);
    if (!(l.peak_kw >= 0)) throw NetworkError(w + ".peak_kw: must not be negative");
    if (!(l.power_factor > 0 && l.power_factor <= 1)) {
      throw NetworkError(w + ".power_factor: must be in (0, 1]");
    }
    const double sum = l.phase_share[0] + l.phase_share[1] + l.phase_share[2];
    if (std::fabs(sum - 1) > 1e-3 ||
        std::any_of(l.phase_share.begin(), l.phase_share.end(), [](double x) { return x < 0; })) {
      throw NetworkError(w + ".phase_share: three non-negative shares summing to 1 (±0.001)");
    }
    if (!(l.nonlinear >= 0 && l.nonlinear <= 1)) {
      throw NetworkError(w + ".nonlinear: must be between 0 and 1");
    }
  }
  for (std::size_t k = 0; k < twin.pv.size(); ++k) {
    const std::string w = "pv[" + std::to_string(k) + "]";
    name_ok(twin.pv[k].name, w);
    bus_ok(twin.pv[k].bus, w);
    if (!(twin.pv[k].peak_kw >= 0)) throw NetworkError(w + ".peak_kw: must not be negative");
  }
  for (std::size_t k = 0; k < twin.wind.size(); ++k) {
    const std::string w = "wind[" + std::to_string(k) + "]";
    name_ok(twin.wind[k].name, w);
    bus_ok(twin.wind[k].bus, w);
    if (!(twin.wind[k].rated_kw >= 0)) throw NetworkError(w + ".rated_kw: must not be negative");
  }
  for (std::size_t k = 0; k < twin.batteries.size(); ++k) {
    const auto& b = twin.batteries[k];
    const std::string w = "batteries[" + std::to_string(k) + "]";
    name_ok(b.name, w);
    bus_ok(b.bus, w);
    if (!(b.energy_kwh > 0)) throw NetworkError(w + ".energy_kwh: must be positive");
    if (!(b.power_kw >= 0)) throw NetworkError(w + ".power_kw: must not be negative");
    if (!(b.soc >= 0 && b.soc <= 1)) throw NetworkError(w + ".soc: must be between 0 and 1");
  }
  for (std::size_t k = 0; k < twin.capacitors.size(); ++k) {
    const std::string w = "capacitors[" + std::to_string(k) + "]";
    name_ok(twin.capacitors[k].name, w);
    bus_ok(twin.capacitors[k].bus, w);
  }
  const auto& d = twin.dynamics;
  if (!(d.frequency_hz == 50 || d.frequency_hz == 60)) {
    throw NetworkError("system.frequency_hz: must be 50 or 60");
  }
  if (!(d.inertia_h_s > 0 && d.droop_r > 0 && d.governor_tg_s > 0 && d.damping_d >= 0 &&
        d.wander_hz >= 0)) {
    throw NetworkError("system: H, R and T_g must be positive, D and the wander non-negative");
  }
  const auto& t = twin.transformer;
  if (!branch_index(net, {t.from, t.to})) throw NetworkError("transformer.branch: no such branch");
  if (!(t.rated_kva > 0)) throw NetworkError("transformer.rated_kva: must be positive");
  if (twin.sag_bus) bus_ok(twin.sag_bus, "scenario_defaults.sag");
  if (twin.lateral_from && !branch_index(net, {twin.lateral_from, twin.lateral_to})) {
    throw NetworkError("scenario_defaults.lateral: no such branch");
  }
  std::set<std::string> ids;
  for (std::size_t k = 0; k < twin.devices.size(); ++k) {
    const auto& dev = twin.devices[k].device;
    const std::string w = "devices[" + std::to_string(k) + "]";
    if (!core::valid_device_id(dev.id))
      throw NetworkError(w + ".id: must match [A-Za-z0-9_.-]{1,64}");
    if (!ids.insert(dev.id).second) throw NetworkError(w + ".id: duplicate '" + dev.id + "'");
    ElementRef ref;
    try {
      ref = resolve_element(net, dev.element);
    } catch (const NetworkError& e) {
      throw NetworkError(w + ".element: " + e.what());
    }
    const double v_ln = net.buses[index.at(ref.bus)].base_kv * 1000 / std::sqrt(3.0);
    if (std::fabs(dev.nominal_voltage - v_ln) > 0.02 * v_ln) {
      throw NetworkError(w + ".nominal_voltage: must match the bus's base voltage (" +
                         std::to_string(static_cast<int>(std::round(v_ln))) +
                         " V line-to-neutral)");
    }
    if (dev.nominal_frequency != d.frequency_hz) {
      throw NetworkError(w + ".nominal_frequency: must match the system frequency");
    }
    if (!(twin.devices[k].device.accuracy_class > 0 &&
          twin.devices[k].device.accuracy_class <= 5)) {
      throw NetworkError(w + ".accuracy_class: must be in (0, 5] %");
    }
  }
}

grid::Network study_model(const Twin& twin) {
  grid::Network net = twin.network;
  if (net.name.empty()) net.name = twin.name;
  for (const auto& load : twin.loads) {
    for (auto& bus : net.buses) {
      if (bus.id != load.bus) continue;
      const double p_mw = load.peak_kw / 1000;
      const double pf = std::clamp(load.power_factor, 0.05, 1.0);
      bus.pd += p_mw;
      bus.qd += p_mw * std::sqrt(1 - pf * pf) / pf;
    }
  }
  for (const auto& c : twin.capacitors) {
    if (!c.on) continue;
    for (auto& bus : net.buses) {
      if (bus.id == c.bus) bus.bs += c.kvar / 1000;  // Mvar at 1 p.u., as the simulator has it
    }
  }
  return net;
}

}  // namespace remhart::sim
