#pragma once
// What the twin expects at each bus at a given time, for the state estimator's
// pseudo-measurements: every load's class profile times its peak, PV from the clear-sky model
// and its nameplate (a mean cloud factor), batteries and wind unknown around zero and their mean
// — each with an honest, large deviation.
#include <vector>

#include "core/time.hpp"
#include "grid/network.hpp"
#include "grid/pseudo_measurements.hpp"
#include "sim/twin.hpp"

namespace remhart::sim {

/// Forecasts for the buses of `model` (matched to the twin's by id). A model bus the twin has
/// nothing on, but which has load in the model, gets the model's load with 50 %.
std::vector<grid::BusForecast> bus_forecast(const Twin& twin, const grid::Network& model,
                                            core::TimeUs at);

}  // namespace remhart::sim
