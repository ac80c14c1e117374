#pragma once
// The state estimate of the active network model from a source's devices — their newest
// samples, completed by pseudo-measurements (the twin's forecasts when the model is the twin's
// network, else the model's own loads) — as GET /api/grid/state answers it. Used by the route
// and by the estimator that runs on its own (StateService).
#include <string>

#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "core/time.hpp"

namespace remhart::api {

/// Throws grid::NetworkError (field `measurements`) when the measurements do not observe the
/// network.
nlohmann::json estimate_network_state(ApiContext& ctx, const std::string& origin,
                                      core::TimeUs max_age, bool pseudo);

/// Scores a simulation run's state estimates: at each of its newest `limit` true-state snapshots,
/// the state estimated from its samples at that step (with pseudo-measurements for that time)
/// against the true |V| of every bus no meter measures — RMSE and the share inside ±3σ, per
/// snapshot and overall. Throws grid::NetworkError (field `network`) when the active model is not
/// the run's network.
nlohmann::json score_run_estimates(ApiContext& ctx, const std::string& run, std::size_t limit);

}  // namespace remhart::api
