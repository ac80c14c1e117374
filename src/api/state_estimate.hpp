#pragma once
// The state estimate of the active network model from a source's devices — their newest
// samples, completed by pseudo-measurements (the twin's forecasts when the model is the twin's
// network, else the model's own loads) — as GET /api/grid/state answers it. Used by the route
// and by the estimator that runs on its own (StateService).
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "core/time.hpp"
#include "grid/state_estimation.hpp"

namespace remhart::api {

/// Throws grid::NetworkError (field `measurements`) when the measurements do not observe the
/// network.
nlohmann::json estimate_network_state(ApiContext& ctx, const std::string& origin,
                                      core::TimeUs max_age, bool pseudo);

/// The same with what the network-level analytics need: the model and the estimate itself.
struct ActiveEstimate {
  nlohmann::json body;
  std::shared_ptr<const grid::Network> network;
  std::int64_t network_id = 0;
  grid::EstimationResult result;
  core::TimeUs at = 0;
};
ActiveEstimate estimate_active_network(ApiContext& ctx, const std::string& origin,
                                       core::TimeUs max_age, bool pseudo);

/// Scores a simulation run's state estimates: at each of its newest `limit` true-state snapshots,
/// the state estimated from its samples at that step (with pseudo-measurements for that time)
/// against the true |V| of every bus no meter measures — RMSE and the share inside ±3σ, per
/// snapshot and overall. Throws grid::NetworkError (field `network`) when the active model is not
/// the run's network.
nlohmann::json score_run_estimates(ApiContext& ctx, const std::string& run, std::size_t limit);

}  // namespace remhart::api
