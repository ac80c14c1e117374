#include "grid/what_if.hpp"

#include <set>
#include <unordered_map>

namespace remhart::grid {

std::size_t find_branch(const Network& net, const BranchRef& ref, const std::string& field) {
  if (ref.index) {
    if (*ref.index >= net.branches.size()) throw NetworkError("no branch with this index", field);
    return *ref.index;
  }
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    if (net.branches[k].from == ref.from && net.branches[k].to == ref.to) return k;
  }
  throw NetworkError("no branch between these buses", field);
}

void apply_changes(Network& net, const std::vector<ModelChange>& changes) {
  std::unordered_map<std::int64_t, std::size_t> bus_index;
  for (std::size_t k = 0; k < net.buses.size(); ++k) bus_index[net.buses[k].id] = k;
  auto bus_of = [&](std::int64_t id, const std::string& field) {
    const auto it = bus_index.find(id);
    if (it == bus_index.end()) throw NetworkError("is not a bus of the model", field);
    return it->second;
  };
  using Type = ModelChange::Type;
  for (const auto& c : changes) {
    switch (c.type) {
      case Type::scale_load: {
        if (!(c.factor >= 0 && c.factor <= 100)) {
          throw NetworkError("must be 0–100", c.field + ".factor");
        }
        std::set<std::size_t> which;
        for (auto id : c.buses) which.insert(bus_of(id, c.field + ".buses"));
        for (std::size_t k = 0; k < net.buses.size(); ++k) {
          if (!which.empty() && !which.count(k)) continue;
          net.buses[k].pd *= c.factor;
          net.buses[k].qd *= c.factor;
        }
        break;
      }
      case Type::set_load: {
        auto& b = net.buses[bus_of(c.bus, c.field + ".bus")];
        if (c.pd_mw) b.pd = *c.pd_mw;
        if (c.qd_mvar) b.qd = *c.qd_mvar;
        break;
      }
      case Type::outage:
        net.branches[find_branch(net, c.branch, c.field + ".branch")].in_service = false;
        break;
      case Type::set_generator: {
        if (c.generator < 0 || static_cast<std::size_t>(c.generator) >= net.gens.size()) {
          throw NetworkError("no generator with this index", c.field + ".generator");
        }
        auto& gen = net.gens[static_cast<std::size_t>(c.generator)];
        if (c.pg_mw) gen.pg = *c.pg_mw;
        if (c.vg_pu) {
          if (!(*c.vg_pu > 0.5 && *c.vg_pu < 1.5)) {
            throw NetworkError("must be 0.5–1.5", c.field + ".vg_pu");
          }
          gen.vg = *c.vg_pu;
        }
        if (c.in_service) gen.in_service = *c.in_service;
        break;
      }
    }
  }
}

PowerFlowResult solve_what_if(const Network& net, bool distributed_slack,
                              const PowerFlowOptions& options) {
  try {
    PowerFlow pf(net, distributed_slack);
    return pf.solve(options);
  } catch (const NetworkError& e) {
    throw NetworkError(e.what(), "changes");
  }
}

}  // namespace remhart::grid
