#include "grid/network.hpp"

#include <cmath>
#include <unordered_map>

namespace remhart::grid {

void validate(const Network& net) {
  if (!(net.base_mva > 0)) throw NetworkError("baseMVA must be positive");
  if (net.buses.empty()) throw NetworkError("the network has no buses");
  std::unordered_map<std::int64_t, std::size_t> index;
  index.reserve(net.buses.size());
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    const auto& b = net.buses[k];
    if (!index.emplace(b.id, k).second) {
      throw NetworkError("bus " + std::to_string(b.id) + " is defined twice");
    }
    if (!(b.vm > 0) || !std::isfinite(b.va)) {
      throw NetworkError("bus " + std::to_string(b.id) + " has an invalid voltage");
    }
  }
  // Messages are built only on failure: a large case has tens of thousands of branches.
  auto known = [&](std::int64_t id) { return index.count(id) != 0; };
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& br = net.branches[k];
    auto what = [&] {
      return "branch " + std::to_string(k + 1) + " (" + std::to_string(br.from) + "-" +
             std::to_string(br.to) + ")";
    };
    for (const auto end : {br.from, br.to}) {
      if (!known(end)) {
        throw NetworkError(what() + " refers to unknown bus " + std::to_string(end));
      }
    }
    if (br.from == br.to) throw NetworkError(what() + " connects a bus to itself");
    if (br.in_service && br.r == 0 && br.x == 0) {
      throw NetworkError(what() + " has zero impedance; merge the buses or give it an impedance");
    }
    if (br.ratio < 0 || !std::isfinite(br.ratio) || !std::isfinite(br.shift)) {
      throw NetworkError(what() + " has an invalid tap ratio or phase shift");
    }
  }
  for (std::size_t k = 0; k < net.gens.size(); ++k) {
    if (!known(net.gens[k].bus)) {
      throw NetworkError("generator " + std::to_string(k + 1) + " refers to unknown bus " +
                         std::to_string(net.gens[k].bus));
    }
  }
}

}  // namespace remhart::grid
