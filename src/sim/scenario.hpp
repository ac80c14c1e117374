#pragma once
// Scenarios (SPEC §8): each is a set of settings for the driving profiles plus timed events
// applied to the network. The catalogue lists every scenario's parameters with defaults and
// bounds; building a scenario checks the given values and names the offending parameter.
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sim/twin.hpp"

namespace remhart::sim {

enum class Severity { none = 0, minor, moderate, severe, critical };
std::string_view severity_name(Severity s);

enum class EventKind {
  fault,              ///< shunt fault at `bus` through `value` Ω
  trip,               ///< branch `branch` open
  capacitor,          ///< extra capacitor bank of `value` kvar switched in at `bus`
  load_scale,         ///< loads at and below `bus` (0 = all) × `value`
  generation_loss,    ///< bulk-system generation lost, `value` p.u. of system load
  cloud,              ///< passing clouds: `value` depth, `rate` per hour, `length_s` each
  harmonics,          ///< non-linear share of loads at and below `bus` set to `value`
  imbalance,          ///< `value` of the load at and below `bus` moved onto phase a
  voltage_setpoint,   ///< source voltage set to `value` p.u.
  frequency_offset,   ///< ambient frequency offset of `value` Hz
  load_target,        ///< loads at and below `bus` scaled to `value` MVA in total
  single_phase_load,  ///< `value` kW of unity-pf load on phase a, spread over the loads below `bus`
};

struct Event {
  EventKind kind = EventKind::fault;
  std::string label;  ///< ground truth name, e.g. "voltage_sag"
  Severity severity = Severity::moderate;
  double at_s = 0;
  double duration_s = std::numeric_limits<double>::infinity();
  std::int64_t bus = 0;  ///< 0: the whole network
  std::size_t branch = 0;
  double value = 0;
  double rate = 0, length_s = 0;  ///< cloud transients
  bool active(double t) const { return t >= at_s && t < at_s + duration_s; }
};

/// How a parameter is given.
struct ParamDef {
  std::string name;
  enum class Type { number, integer, boolean, choice, text } type = Type::number;
  double def = 0, min = 0, max = 0;
  std::vector<std::string> choices;  ///< choice parameters
  std::string text_def;              ///< choice and text parameters
  std::string unit;
  std::string description;
};

struct ScenarioDef {
  std::string id;
  std::string description;
  std::vector<ParamDef> params;
};

/// Every scenario with its parameters.
const std::vector<ScenarioDef>& scenario_catalogue();
/// The scenario id for an id or one of the original's aliases (`normal`, `overcurrent`,
/// `frequency_drift`, `fault`); nullopt when unknown.
std::optional<std::string> canonical_scenario(std::string_view id);

/// Parameter values as given: numbers (booleans as 0/1), choices as text, and (custom) events.
struct ScenarioParams {
  std::map<std::string, double> numbers;
  std::map<std::string, std::string> texts;
  std::vector<Event> events;
};

/// A value that does not fit; `field` names it (`params.fault_impedance_ohm`).
class ParamError : public std::runtime_error {
 public:
  ParamError(std::string field, const std::string& message)
      : std::runtime_error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

/// Everything a run needs to know about its scenario.
struct Scenario {
  std::string id;
  double load_scale = 1;
  double pv_scale = 1;
  double cloudiness = 0.3;
  double transients_per_h = 2, transient_s = 60, transient_depth = 0.5;
  double nonlinear_scale = 1;
  double data_fault_rate_per_h = 0.05;  ///< per device: stuck values and dropped samples
  double noise = 1;                     ///< sensor noise on (1) or off (0)
  double ambient_offset_c = 0;
  double life_remaining_h = std::numeric_limits<double>::infinity();  ///< transformer
  /// From the end of the insulation's life to the failure: an incipient winding fault grows.
  double fault_development_s = 0;
  std::optional<double> power_factor;    ///< all loads
  std::string load_profile = "daily";    ///< daily | constant | ramping_up | ramping_down | random
  std::string voltage_pattern = "none";  ///< custom: stable | fluctuating | sag | swell
  double voltage_min_pu = 1, voltage_max_pu = 1;
  std::string current_pattern = "none";     ///< custom: stable | increasing | decreasing | spike
  double current_min = 1, current_max = 1;  ///< load scale range
  std::string frequency_pattern = "none";   ///< custom: stable | drift
  double frequency_min_hz = 0, frequency_max_hz = 0;
  Dynamics dynamics;
  std::vector<Event> events;
  /// custom: duration and step from num_points × interval (used when the run gives none); a run
  /// sets `duration_s` to its own, which the custom patterns (ramps, drift, sag/swell thirds) span
  std::optional<double> duration_s, step_s;
};

/// Builds scenario `id` (canonical or alias) with `params` for `twin`; throws ParamError.
Scenario build_scenario(std::string_view id, const ScenarioParams& params, const Twin& twin);

}  // namespace remhart::sim
