#pragma once
// Scenario parameters from JSON (the runs API's `params`) and the catalogue as JSON.
#include <string>

#include <nlohmann/json.hpp>

#include "sim/scenario.hpp"

namespace remhart::sim::io {

/// `{"fault_impedance_ohm": 5, "branch": "6-16", "events": [...]}` → parameters; numbers and
/// booleans become numbers, strings texts; `events` (custom) are timed network events
/// `{"at_s","duration_s","type","bus","branch":"from-to","value","label","severity"}`.
/// Throws ParamError naming `params.<name>` or `params.events[i].<field>`.
ScenarioParams parse_scenario_params(const nlohmann::json& params, const Twin& twin);

/// `{"items":[{"id","description","params":[{"name","type","default","min","max","choices",
/// "unit","description"}]}]}`.
nlohmann::json scenario_catalogue_json();

}  // namespace remhart::sim::io
