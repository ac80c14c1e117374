#pragma once
// Pseudo-measurements for distribution state estimation. Meters rarely observe a feeder, so every
// bus they leave open gets its expected injection as a measurement with an honest, large standard
// deviation — a forecast from load classes and profiles, or the model's own loads — scaled so the
// forecasts of the part a metered feeder head supplies add up to what it measures; a bus with
// nothing connected gets an exact zero injection (a virtual measurement with a tiny deviation).
#include <optional>
#include <span>
#include <vector>

#include "grid/network.hpp"
#include "grid/state_estimation.hpp"

namespace remhart::grid {

/// The expected net power drawn at a bus (load positive, generation negative) and its standard
/// deviation, MW / Mvar. All zero: nothing is connected there.
struct BusForecast {
  double p_mw = 0, q_mvar = 0;
  double sigma_p_mw = 0, sigma_q_mvar = 0;
};

/// Forecasts from the model's own loads (Pd, Qd — in a planning case usually the peak), each
/// with `relative_sigma` of its value.
std::vector<BusForecast> model_forecast(const Network& net, double relative_sigma = 0.5);

/// Scales the forecasts of the buses supplied through the metered branch nearest a reference bus
/// so their active power adds up to what its meter measures (P, Q and their deviations alike).
/// The factor applied, or nullopt when no branch flow is metered, the branch does not split the
/// network, or the part it supplies has no forecast.
std::optional<double> scale_to_feeder_head(const Network& net, std::span<const Measurement> meters,
                                           std::vector<BusForecast>& forecast);

/// Measurements for the buses `meters` leave open: a bus without a metered injection and without
/// an in-service generator gets its forecast as P and Q injections (σ from the forecast, at least
/// 0.1 % of the base), or exact zero injections (σ `zero_sigma_pu`) when nothing is connected.
std::vector<Measurement> pseudo_measurements(const Network& net,
                                             std::span<const BusForecast> forecast,
                                             std::span<const Measurement> meters,
                                             double zero_sigma_pu = 1e-4);

}  // namespace remhart::grid
