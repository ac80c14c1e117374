#pragma once
// What-if edits of a network model for power-flow studies: scale or set loads, take a branch
// out, change a generator. Applied to a copy of the model; every error names the caller's field.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "grid/network.hpp"
#include "grid/powerflow.hpp"

namespace remhart::grid {

/// A branch by its index in Network::branches, or by its end buses.
struct BranchRef {
  std::optional<std::size_t> index;
  std::int64_t from = 0, to = 0;
};

/// Throws NetworkError(field) when the model has no such branch.
std::size_t find_branch(const Network& net, const BranchRef& ref, const std::string& field);

struct ModelChange {
  enum class Type { scale_load, set_load, outage, set_generator };
  Type type = Type::scale_load;
  std::string field;  ///< where the change is in the caller's input (`changes[2]`), for errors

  double factor = 1;                ///< scale_load: 0–100, on P and Q
  std::vector<std::int64_t> buses;  ///< scale_load: bus ids; empty = every bus
  std::int64_t bus = 0;             ///< set_load
  std::optional<double> pd_mw, qd_mvar;
  BranchRef branch;                    ///< outage
  std::int64_t generator = -1;         ///< set_generator: index in Network::gens
  std::optional<double> pg_mw, vg_pu;  ///< vg_pu: 0.5–1.5
  std::optional<bool> in_service;
};

/// Applies the changes in order; throws NetworkError naming the field of the first one that does
/// not fit the model (`changes[0].bus`: "is not a bus of the model").
void apply_changes(Network& net, const std::vector<ModelChange>& changes);

/// Solves a changed model; throws NetworkError naming `changes` when the changes left it
/// unsolvable (an island without a reference, no generator).
PowerFlowResult solve_what_if(const Network& net, bool distributed_slack,
                              const PowerFlowOptions& options);

}  // namespace remhart::grid
