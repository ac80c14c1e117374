#include "sim/scenario.hpp"

#include <algorithm>
#include <cmath>

namespace remhart::sim {
namespace {

using Type = ParamDef::Type;
constexpr double kInf = std::numeric_limits<double>::infinity();

ParamDef num(std::string name, double def, double min, double max, std::string unit,
             std::string description) {
  return {std::move(name), Type::number,          def, min, max, {}, {},
          std::move(unit), std::move(description)};
}
ParamDef integer(std::string name, double def, double min, double max, std::string description) {
  return {std::move(name), Type::integer, def, min, max, {}, {}, {}, std::move(description)};
}
ParamDef flag(std::string name, bool def, std::string description) {
  return {std::move(name),       Type::boolean, def ? 1.0 : 0.0, 0, 1, {}, {}, {},
          std::move(description)};
}
ParamDef choice(std::string name, std::vector<std::string> choices, std::string def,
                std::string description) {
  return {std::move(name),       Type::choice, 0, 0, 0, std::move(choices), std::move(def), {},
          std::move(description)};
}
ParamDef text(std::string name, std::string def, std::string description) {
  return {std::move(name), Type::text, 0, 0, 0, {}, std::move(def), {}, std::move(description)};
}

std::vector<ParamDef> common(double load_scale = 1, double pv_scale = 1, double cloudiness = 0.3) {
  return {
      num("load_scale", load_scale, 0.05, 3, "×", "every load's demand relative to its profile"),
      num("pv_scale", pv_scale, 0, 5, "×", "PV output relative to the plants' ratings"),
      num("cloudiness", cloudiness, 0, 1, "", "mean cloud cover (0 clear, 1 overcast)"),
      num("data_fault_rate_per_h", 0.05, 0, 60, "1/h",
          "per device: stuck values and dropped samples (labelled)"),
      flag("noise", true, "sensor noise by accuracy class"),
  };
}

ParamDef start(double def = 60) {
  return num("start_s", def, 0, 1e9, "s", "when the event begins, from the run's start");
}
ParamDef duration(double def, std::string what = "how long the event lasts (0 = to the end)") {
  return num("duration_s", def, 0, 1e9, "s", std::move(what));
}
ParamDef lateral() {
  return text("branch", "", "the affected lateral's head branch, `from-to` (default: the twin's)");
}

std::vector<ParamDef> with(std::vector<ParamDef> base, std::vector<ParamDef> extra) {
  base.insert(base.end(), extra.begin(), extra.end());
  return base;
}

std::vector<ScenarioDef> make_catalogue() {
  const auto dynamics = std::vector<ParamDef>{
      num("inertia_h_s", 5, 0.5, 20, "s", "system inertia constant H"),
      num("damping_d", 1, 0, 5, "p.u.", "load damping D"),
      num("droop_r", 0.05, 0.01, 0.2, "p.u.", "governor droop R"),
      num("governor_tg_s", 0.5, 0.05, 20, "s", "governor time constant T_g"),
  };
  std::vector<ScenarioDef> c;
  c.push_back({"normal_day",
               "An ordinary day: load profiles, sun and clouds, noise, rare data faults",
               common()});
  c.push_back({"peak_load", "A hot, clear day with high demand",
               with(common(1.3, 1, 0.05), {num("ambient_offset_c", 8, -30, 30, "°C",
                                               "ambient temperature above the season's")})});
  c.push_back(
      {"voltage_sag", "A remote fault through an impedance pulls the voltage down",
       with(common(),
            {start(), duration(2),
             num("fault_impedance_ohm", 3, 0.01, 1e4, "Ω", "fault impedance (lower = deeper sag)"),
             integer("bus", 0, 0, 1e12, "faulted bus (0 = the twin's remote bus)")})});
  c.push_back({"voltage_swell", "A capacitor bank switched in while load is rejected",
               with(common(),
                    {start(), duration(120),
                     num("capacitor_kvar", 8000, 0, 50000, "kvar", "bank switched in"),
                     num("load_rejection", 0.5, 0, 0.9, "", "fraction of the load that drops off"),
                     integer("bus", 0, 0, 1e12, "capacitor bus (0 = the substation busbar)")})});
  c.push_back({"overload", "Demand on a lateral far above its rating",
               with(common(), {start(), duration(900),
                               num("loading", 1.5, 0.1, 5, "×",
                                   "the lateral's demand, per unit of its head branch's rating"),
                               lateral()})});
  c.push_back({"frequency_excursion",
               "Loss of generation in the bulk system: a nadir, then the governors settle",
               with(with(common(), {start(), duration(0),
                                    num("generation_loss_pu", 0.05, 0.001, 0.3, "p.u.",
                                        "generation lost, per unit of system load")}),
                    dynamics)});
  c.push_back({"renewable_intermittency", "Clouds passing over the PV plant",
               with(common(1, 1.5, 0.2),
                    {num("transients_per_h", 30, 0, 3600, "1/h", "passing clouds an hour"),
                     num("transient_s", 40, 1, 3600, "s", "how long each dims the sun"),
                     num("depth", 0.7, 0, 1, "", "how much a passing cloud dims")})});
  c.push_back({"harmonic_pollution", "Non-linear loads distort currents and voltages",
               with(common(),
                    {start(), duration(0),
                     num("nonlinear_share", 0.7, 0, 1, "", "share of each load that is non-linear"),
                     integer("bus", 0, 0, 1e12, "affected part (0 = everywhere)")})});
  c.push_back({"phase_imbalance", "Single-phase loads pile onto one phase of a lateral",
               with(common(), {start(), duration(0),
                               num("unbalance", 0.35, 0, 0.66, "",
                                   "share of the lateral's load moved onto phase a"),
                               num("added_kw", 1800, 0, 10000, "kW",
                                   "single-phase load added on phase a across the lateral"),
                               lateral()})});
  c.push_back(
      {"line_fault", "A fault on a lateral: protection trips it, then recloses",
       with(common(), {start(), num("fault_impedance_ohm", 10, 0.01, 1e4, "Ω", "fault impedance"),
                       num("trip_after_s", 1, 0, 60, "s", "protection clearing time"),
                       num("reclose_after_s", 10, 0.1, 3600, "s", "dead time before reclosing"),
                       flag("permanent", false,
                            "the fault is still there at reclose: trip again and lock out"),
                       lateral()})});
  c.push_back({"transformer_degradation",
               "The substation transformer runs hot (IEEE C57.91 ageing) until it fails",
               with(common(1.5, 1, 0.3),
                    {num("ambient_offset_c", 15, -30, 30, "°C", "ambient above the season's"),
                     num("life_remaining_h", 12, 0.001, 1e6, "h",
                         "normal-life hours left; aged through them, an incipient winding fault "
                         "starts"),
                     num("fault_development_min", 20, 0, 600, "min",
                         "from the incipient fault to the failure: its heating and current "
                         "harmonics grow meanwhile")})});
  c.push_back(
      {"custom", "The original's 17 parameters steering the network, plus timed events",
       with(common(),
            {integer("num_points", 0, 0, 1e8, "samples (0 = use the run's duration)"),
             num("interval", 1, 0.01, 86400, "s", "seconds between samples"),
             num("voltage_min", 220, 100, 400, "V", "lowest source voltage (230 V base)"),
             num("voltage_max", 240, 100, 400, "V", "highest source voltage (230 V base)"),
             choice("voltage_pattern", {"stable", "fluctuating", "sag", "swell"}, "stable",
                    "source voltage over the run"),
             num("current_min", 10, 0, 1e5, "A", "lowest load level (relative)"),
             num("current_max", 50, 0, 1e5, "A", "highest load level (relative)"),
             choice("current_pattern", {"stable", "increasing", "decreasing", "spike"}, "stable",
                    "load level over the run"),
             num("frequency_min", 49.9, 40, 70, "Hz", "lowest ambient frequency"),
             num("frequency_max", 50.1, 40, 70, "Hz", "highest ambient frequency"),
             choice("frequency_pattern", {"stable", "drift"}, "stable",
                    "ambient frequency over the run"),
             num("power_factor", 0.95, 0.5, 1, "", "every load's power factor"),
             num("renewable_percentage", 20, 0, 200, "%", "PV rating as a share of the peak load"),
             flag("inject_fault", false, "apply `fault_type` at `fault_start_point`"),
             choice("fault_type", {"voltage_sag", "overcurrent", "frequency_drift"}, "voltage_sag",
                    "the fault injected"),
             integer("fault_start_point", 50, 0, 1e8, "sample index the fault starts at"),
             integer("fault_duration", 10, 1, 1e8, "samples the fault lasts"),
             choice("load_profile", {"constant", "ramping_up", "ramping_down", "random"},
                    "constant", "load shape over the run")})});
  return c;
}

}  // namespace

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::none:
      return "none";
    case Severity::minor:
      return "minor";
    case Severity::moderate:
      return "moderate";
    case Severity::severe:
      return "severe";
    case Severity::critical:
      return "critical";
  }
  return "none";
}

const std::vector<ScenarioDef>& scenario_catalogue() {
  static const std::vector<ScenarioDef> catalogue = make_catalogue();
  return catalogue;
}

std::optional<std::string> canonical_scenario(std::string_view id) {
  if (id == "normal") return "normal_day";
  if (id == "overcurrent") return "overload";
  if (id == "frequency_drift") return "frequency_excursion";
  if (id == "fault") return "line_fault";
  for (const auto& d : scenario_catalogue()) {
    if (d.id == id) return d.id;
  }
  return std::nullopt;
}

namespace {

// Checked parameter values of one scenario: given ones, else defaults.
class Values {
 public:
  Values(const ScenarioDef& def, const ScenarioParams& given) : def_(def), given_(given) {
    for (const auto& [name, v] : given.numbers) check_number(name, v);
    for (const auto& [name, v] : given.texts) check_text(name, v);
  }
  double num(const std::string& name) const {
    const auto& p = find(name);
    const auto it = given_.numbers.find(name);
    return it != given_.numbers.end() ? it->second : p.def;
  }
  std::string text(const std::string& name) const {
    const auto& p = find(name);
    const auto it = given_.texts.find(name);
    return it != given_.texts.end() ? it->second : p.text_def;
  }

 private:
  const ParamDef* lookup(const std::string& name) const {
    for (const auto& p : def_.params) {
      if (p.name == name) return &p;
    }
    return nullptr;
  }
  const ParamDef& find(const std::string& name) const {
    const auto* p = lookup(name);
    if (!p) throw std::logic_error("scenario parameter not in the catalogue: " + name);
    return *p;
  }
  void check_number(const std::string& name, double v) const {
    const auto* p = lookup(name);
    const std::string field = "params." + name;
    if (!p) throw ParamError(field, "is not a parameter of scenario " + def_.id);
    if (p->type == Type::choice || p->type == Type::text) {
      throw ParamError(field, "must be a string");
    }
    if (!std::isfinite(v)) throw ParamError(field, "must be a finite number");
    if (p->type == Type::integer && v != std::floor(v)) {
      throw ParamError(field, "must be an integer");
    }
    if (v < p->min || v > p->max) {
      throw ParamError(field, "must be between " + fmt(p->min) + " and " + fmt(p->max));
    }
  }
  void check_text(const std::string& name, const std::string& v) const {
    const auto* p = lookup(name);
    const std::string field = "params." + name;
    if (!p) throw ParamError(field, "is not a parameter of scenario " + def_.id);
    if (p->type == Type::choice &&
        std::find(p->choices.begin(), p->choices.end(), v) == p->choices.end()) {
      std::string list;
      for (const auto& c : p->choices) list += (list.empty() ? "" : ", ") + c;
      throw ParamError(field, "must be one of: " + list);
    }
    if (p->type != Type::choice && p->type != Type::text) {
      throw ParamError(field, "must be a number");
    }
  }
  static std::string fmt(double x) {
    std::string s = std::to_string(x);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  const ScenarioDef& def_;
  const ScenarioParams& given_;
};

// The lateral a scenario strikes: its head branch and the bus below it.
std::pair<std::size_t, std::int64_t> pick_lateral(const Twin& twin, const std::string& given) {
  BranchRef ref{twin.lateral_from, twin.lateral_to};
  if (!given.empty()) {
    const auto parsed = parse_branch_ref(given);
    if (!parsed) throw ParamError("params.branch", "must be `from-to` (two bus ids)");
    ref = *parsed;
  }
  const auto k = branch_index(twin.network, ref);
  if (!k) throw ParamError("params.branch", "names no branch of the twin");
  return {*k, ref.to};
}

std::int64_t pick_bus(const Twin& twin, double given, std::int64_t fallback) {
  if (given == 0) return fallback;
  const auto id = static_cast<std::int64_t>(given);
  for (const auto& b : twin.network.buses) {
    if (b.id == id) return id;
  }
  throw ParamError("params.bus", "names no bus of the twin");
}

double until_end(double d) {
  return d == 0 ? kInf : d;
}

}  // namespace

Scenario build_scenario(std::string_view requested, const ScenarioParams& params,
                        const Twin& twin) {
  const auto id = canonical_scenario(requested);
  if (!id) throw ParamError("scenario", "unknown scenario '" + std::string(requested) + "'");
  const auto& def = *std::find_if(scenario_catalogue().begin(), scenario_catalogue().end(),
                                  [&](const ScenarioDef& d) { return d.id == *id; });
  if (!params.events.empty() && *id != "custom") {
    throw ParamError("params.events", "timed events belong to the custom scenario");
  }
  const Values v(def, params);
  Scenario s;
  s.id = *id;
  s.dynamics = twin.dynamics;
  s.load_scale = v.num("load_scale");
  s.pv_scale = v.num("pv_scale");
  s.cloudiness = v.num("cloudiness");
  s.data_fault_rate_per_h = v.num("data_fault_rate_per_h");
  s.noise = v.num("noise");
  const auto event = [&](EventKind kind, Severity sev) {
    Event e;
    e.kind = kind;
    e.label = s.id;
    e.severity = sev;
    return e;
  };
  // An event over the scenario's `start_s` and `duration_s` (0 = to the end).
  const auto timed = [&](EventKind kind, Severity sev) {
    auto e = event(kind, sev);
    e.at_s = v.num("start_s");
    e.duration_s = until_end(v.num("duration_s"));
    return e;
  };

  if (s.id == "peak_load") {
    s.ambient_offset_c = v.num("ambient_offset_c");
  } else if (s.id == "voltage_sag") {
    auto e = timed(EventKind::fault, Severity::moderate);
    e.bus = pick_bus(twin, v.num("bus"), twin.sag_bus);
    e.value = v.num("fault_impedance_ohm");
    s.events.push_back(e);
  } else if (s.id == "voltage_swell") {
    auto e = timed(EventKind::capacitor, Severity::moderate);
    e.bus = pick_bus(twin, v.num("bus"), twin.transformer.to);
    e.value = v.num("capacitor_kvar");
    s.events.push_back(e);
    auto shed = e;
    shed.kind = EventKind::load_scale;
    shed.bus = 0;
    shed.value = 1 - v.num("load_rejection");
    s.events.push_back(shed);
  } else if (s.id == "overload") {
    const auto [branch, below] = pick_lateral(twin, v.text("branch"));
    const double rating = twin.network.branches[branch].rate_a;
    if (!(rating > 0)) throw ParamError("params.branch", "the lateral's head branch has no rating");
    auto e = timed(EventKind::load_target, Severity::severe);
    e.bus = below;
    e.value = v.num("loading") * rating;
    s.events.push_back(e);
  } else if (s.id == "frequency_excursion") {
    s.dynamics.inertia_h_s = v.num("inertia_h_s");
    s.dynamics.damping_d = v.num("damping_d");
    s.dynamics.droop_r = v.num("droop_r");
    s.dynamics.governor_tg_s = v.num("governor_tg_s");
    auto e = timed(EventKind::generation_loss, Severity::severe);
    e.value = v.num("generation_loss_pu");
    s.events.push_back(e);
  } else if (s.id == "renewable_intermittency") {
    auto e = event(EventKind::cloud, Severity::minor);
    e.rate = v.num("transients_per_h");
    e.length_s = v.num("transient_s");
    e.value = v.num("depth");
    s.events.push_back(e);
  } else if (s.id == "harmonic_pollution") {
    auto e = timed(EventKind::harmonics, Severity::moderate);
    e.bus = pick_bus(twin, v.num("bus"), 0);
    e.value = v.num("nonlinear_share");
    s.events.push_back(e);
  } else if (s.id == "phase_imbalance") {
    auto e = timed(EventKind::imbalance, Severity::moderate);
    e.bus = pick_lateral(twin, v.text("branch")).second;
    e.value = v.num("unbalance");
    s.events.push_back(e);
    if (v.num("added_kw") > 0) {
      e.kind = EventKind::single_phase_load;
      e.value = v.num("added_kw");
      s.events.push_back(e);
    }
  } else if (s.id == "line_fault") {
    const auto [branch, below] = pick_lateral(twin, v.text("branch"));
    const double t0 = v.num("start_s"), clear = v.num("trip_after_s"),
                 dead = v.num("reclose_after_s");
    auto fault = event(EventKind::fault, Severity::severe);
    fault.at_s = t0;
    fault.duration_s = clear;
    fault.bus = below;
    fault.value = v.num("fault_impedance_ohm");
    auto trip = event(EventKind::trip, Severity::severe);
    trip.at_s = t0 + clear;
    trip.duration_s = dead;
    trip.branch = branch;
    trip.bus = below;
    s.events.push_back(fault);
    s.events.push_back(trip);
    if (v.num("permanent") != 0) {  // reclose onto the fault, trip again and lock out
      fault.at_s = trip.at_s + dead;
      trip.at_s = fault.at_s + clear;
      trip.duration_s = kInf;
      trip.severity = Severity::critical;
      s.events.push_back(fault);
      s.events.push_back(trip);
    }
  } else if (s.id == "transformer_degradation") {
    s.ambient_offset_c = v.num("ambient_offset_c");
    s.life_remaining_h = v.num("life_remaining_h");
    s.fault_development_s = v.num("fault_development_min") * 60;
  } else if (s.id == "custom") {
    const double interval = v.num("interval");
    if (v.num("num_points") > 0) {
      s.duration_s = v.num("num_points") * interval;
      s.step_s = interval;
    }
    constexpr double kBase = 230.0;  // the original's meter
    s.voltage_min_pu = v.num("voltage_min") / kBase;
    s.voltage_max_pu = v.num("voltage_max") / kBase;
    if (s.voltage_min_pu > s.voltage_max_pu) {
      throw ParamError("params.voltage_min", "must not exceed voltage_max");
    }
    if (s.voltage_min_pu < 0.8 || s.voltage_max_pu > 1.2) {
      throw ParamError("params.voltage_min",
                       "the range must stay within 184–276 V (0.8–1.2 p.u.) for a solvable feeder");
    }
    s.voltage_pattern = v.text("voltage_pattern");
    const double cmin = v.num("current_min"), cmax = v.num("current_max");
    if (cmin > cmax) throw ParamError("params.current_min", "must not exceed current_max");
    if (cmax <= 0) throw ParamError("params.current_max", "must be positive");
    const double ref = (cmin + cmax) / 2;  // the middle of the range is the profile's level
    s.current_min = cmin / ref;
    s.current_max = cmax / ref;
    s.current_pattern = v.text("current_pattern");
    s.frequency_min_hz = v.num("frequency_min");
    s.frequency_max_hz = v.num("frequency_max");
    if (s.frequency_min_hz > s.frequency_max_hz) {
      throw ParamError("params.frequency_min", "must not exceed frequency_max");
    }
    s.frequency_pattern = v.text("frequency_pattern");
    s.power_factor = v.num("power_factor");
    double peak_load = 0, peak_pv = 0;
    for (const auto& l : twin.loads) peak_load += l.peak_kw;
    for (const auto& p : twin.pv) peak_pv += p.peak_kw;
    s.pv_scale = peak_pv > 0 ? v.num("renewable_percentage") / 100 * peak_load / peak_pv : 0;
    s.load_profile = v.text("load_profile");
    if (v.num("inject_fault") != 0) {
      const auto type = v.text("fault_type");
      Event e;
      e.at_s = v.num("fault_start_point") * interval;
      e.duration_s = v.num("fault_duration") * interval;
      if (type == "voltage_sag") {
        e.kind = EventKind::fault;
        e.label = "voltage_sag";
        e.bus = twin.sag_bus;
        e.value = 5;
      } else if (type == "overcurrent") {
        e.kind = EventKind::load_scale;
        e.label = "overload";
        e.bus = 0;
        e.value = 1.8;
        e.severity = Severity::severe;
      } else {
        e.kind = EventKind::generation_loss;
        e.label = "frequency_excursion";
        e.value = 0.03;
      }
      s.events.push_back(e);
    }
    for (std::size_t k = 0; k < params.events.size(); ++k) {
      auto e = params.events[k];
      const std::string field = "params.events[" + std::to_string(k) + "]";
      if (e.kind == EventKind::trip && e.branch >= twin.network.branches.size()) {
        throw ParamError(field + ".branch", "names no branch of the twin");
      }
      if (e.bus != 0 && std::none_of(twin.network.buses.begin(), twin.network.buses.end(),
                                     [&](const grid::Bus& b) { return b.id == e.bus; })) {
        throw ParamError(field + ".bus", "names no bus of the twin");
      }
      if (e.label.empty()) e.label = "custom_event";
      s.events.push_back(e);
    }
  }
  return s;
}

}  // namespace remhart::sim
