#pragma once
// The JSON of grid studies: request options in, results out (power flow, N-1, state estimation,
// network versions). No logic beyond naming and units.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "grid/contingency.hpp"
#include "grid/meter_placement.hpp"
#include "grid/powerflow.hpp"
#include "grid/state_estimation.hpp"
#include "store/network_repo.hpp"

namespace remhart::api {

/// `method` (nr|fdxb), `start` (auto|case|dc), `enforce_q_limits`; core::Error(unprocessable)
/// naming the field.
grid::PowerFlowOptions power_flow_options(const nlohmann::json& body);
/// Adds `branches` (references) and `loading_limit` of an N-1 request to the options.
grid::ContingencyOptions contingency_options(const grid::Network& net, const nlohmann::json& body);

nlohmann::json violations_json(const grid::Network& net, const std::vector<grid::Violation>& vs);
/// Buses (|V|, angle), branches (flows, loading), generators, losses, violations.
nlohmann::json power_flow_json(const grid::Network& net, const grid::PowerFlowResult& r);
/// The base case and every outage; `stopped` says why an incomplete study ended.
nlohmann::json contingency_json(const grid::Network& net, const grid::ContingencyReport& rep,
                                double loading_limit, const std::optional<std::string>& stopped);
/// The estimate; `devices` names each reading (to report removed measurements by device, or by
/// bus for the pseudo-measurements that followed the meters').
nlohmann::json estimation_json(const grid::Network& net, const grid::MeterMeasurements& meters,
                               std::span<const grid::Measurement> pseudo,
                               const std::vector<std::string>& devices,
                               const grid::EstimationResult& e);
nlohmann::json network_versions_json(const std::vector<store::NetworkVersion>& versions);

}  // namespace remhart::api
