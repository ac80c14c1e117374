#pragma once
// Training and scoring the models of a device's load over days (9 load forecast, 12 demand
// response, 16 optimal dispatch) on their own data: long runs of the twin at 15-minute steps,
// split by run like the others. Part of `remhart train` (training.cpp calls it).
#include <vector>

#include "analytics/forecast.hpp"
#include "analytics/training.hpp"
#include "sim/twin.hpp"

namespace remhart::analytics {

/// Fills the load-forecast, demand-response and optimal-dispatch entries of `out` (indexed by
/// ModelId). Throws TrainingCancelled or std::runtime_error.
void train_energy_models(const sim::Twin& twin, const TrainOptions& options,
                         std::vector<TrainedModel>& out);

/// The device measuring the twin's substation transformer (the feeder head), or empty.
std::string head_device_id(const sim::Twin& twin);

/// The twin's batteries as one (powers and energies summed, charge energy-weighted); zero
/// power when it has none.
Battery twin_battery(const sim::Twin& twin);

}  // namespace remhart::analytics
