#pragma once
// What-if changes and branch references in JSON (the API's request bodies):
//   {"type":"scale_load","factor":1.1}                    every load (or "buses": [ids])
//   {"type":"set_load","bus":ID,"pd_mw":…,"qd_mvar":…}
//   {"type":"outage","branch":INDEX|{"from","to"}}
//   {"type":"set_generator","generator":INDEX,"pg_mw"?,"vg_pu"?,"in_service"?}
// Shape errors throw NetworkError naming the field (`changes[1].factor`).
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "grid/what_if.hpp"

namespace remhart::grid::io {

/// `changes`: an array of the objects above; `field` names it in errors.
std::vector<ModelChange> parse_changes(const nlohmann::json& changes,
                                       const std::string& field = "changes");
/// A branch index or {"from": id, "to": id}.
BranchRef parse_branch_ref(const nlohmann::json& j, const std::string& field);

}  // namespace remhart::grid::io
