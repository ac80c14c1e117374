#pragma once
// Meters on a network model, for state estimation: where a meter measures (its device's
// `element`) and the measurements its reading gives (the measurement model).
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "grid/network.hpp"
#include "grid/state_estimation.hpp"

namespace remhart::grid {

/// "bus:<id>": a meter at a bus (power drawn at the bus is positive). "branch:<from>-<to>:from"
/// or ":to": a meter on a branch at one end (power flowing into the branch is positive).
struct MeterPlacement {
  bool branch = false;
  std::size_t index = 0;  ///< bus or branch index
  bool at_from = true;
};
/// nullopt when `element` is not of these forms or names no element of the model.
std::optional<MeterPlacement> place_meter(const Network& net, std::string_view element);

/// One meter's reading: |V| in per unit of its nominal voltage; P and Q (three-phase totals) in
/// W and var, with the sign convention of its placement; its accuracy class (% of reading) and
/// rated apparent power (3 × nominal voltage × rated current, VA; 0 when unknown).
struct MeterReading {
  std::string element;
  double v_pu = 0;
  double p_w = 0;
  double q_var = 0;
  double accuracy_class = 1;
  double rated_va = 0;
};

struct MeterMeasurements {
  std::vector<Measurement> measurements;
  std::vector<std::size_t> reading_of;  ///< per measurement, the index of its reading
  std::size_t placed = 0;               ///< readings placed on the model
};

/// The measurement model: per placed reading, |V| at its bus, and P and Q as injections at a bus
/// meter's bus or as flows at a branch meter's end, each with σ a third of its accuracy class (a
/// class's limit taken as 3σ) of the reading — of |S| for P and Q, at least 5 % of the meter's
/// rating (or 0.1 % of the base without one), so a meter near zero is not trusted to the watt.
/// Readings whose element is not on the model are skipped.
MeterMeasurements meter_measurements(const Network& net, std::span<const MeterReading> readings);

/// Estimates the state from meter readings, completed by `pseudo` measurements (placed after the
/// meters' in the estimate's indexes). Throws NetworkError (field `measurements`) when they
/// cannot observe the network, saying how many meters were placed on it.
EstimationResult estimate_from_meters(const Network& net, const MeterMeasurements& meters,
                                      std::span<const Measurement> pseudo = {},
                                      const EstimationOptions& options = {});

}  // namespace remhart::grid
