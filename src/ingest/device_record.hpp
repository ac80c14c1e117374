#pragma once
// A device record as a client sends it (create or replace): checked field by field.
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/measurement.hpp"

namespace remhart::ingest {

/// The device described by a JSON object `{id?, name?, kind?, nominal_voltage?, rated_current?,
/// nominal_frequency?, element?, site?, location?: {lat, lon}, tags?: [..]}`; absent fields keep
/// the defaults of core::Device. `path_id`, when given (PUT /devices/{id}), is the id; a body id
/// must then match it. Throws core::Error(unprocessable) naming the first field that is wrong.
core::Device parse_device_record(const nlohmann::json& body, std::optional<std::string> path_id);

}  // namespace remhart::ingest
