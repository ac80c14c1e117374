#include "grid/network.hpp"

#include <algorithm>
#include <cmath>

namespace remhart::grid {

BusIndex::BusIndex(const std::vector<Bus>& buses) {
  auto twice = [](std::int64_t id) {
    return NetworkError("bus " + std::to_string(id) + " is defined twice");
  };
  if (buses.empty()) return;
  auto [lo, hi] = std::minmax_element(buses.begin(), buses.end(),
                                      [](const Bus& a, const Bus& b) { return a.id < b.id; });
  // A table when it is at most a few times the number of buses (the span is computed in
  // unsigned arithmetic: ids may be any 64-bit values).
  const auto span = static_cast<std::uint64_t>(hi->id) - static_cast<std::uint64_t>(lo->id);
  dense_ = span < 4 * static_cast<std::uint64_t>(buses.size()) + 16;
  if (dense_) {
    lo_ = lo->id;
    table_.assign(static_cast<std::size_t>(span) + 1, -1);
    for (std::size_t k = 0; k < buses.size(); ++k) {
      auto& slot = table_[static_cast<std::size_t>(buses[k].id - lo_)];
      if (slot >= 0) throw twice(buses[k].id);
      slot = static_cast<std::ptrdiff_t>(k);
    }
    return;
  }
  map_.reserve(buses.size());
  for (std::size_t k = 0; k < buses.size(); ++k) {
    if (!map_.emplace(buses[k].id, k).second) throw twice(buses[k].id);
  }
}

std::size_t BusIndex::at(std::int64_t id) const {
  const auto k = find(id);
  if (k < 0) throw NetworkError("unknown bus " + std::to_string(id));
  return static_cast<std::size_t>(k);
}

BusIndex validate(const Network& net) {
  if (!(net.base_mva > 0)) throw NetworkError("baseMVA must be positive");
  if (net.buses.empty()) throw NetworkError("the network has no buses");
  BusIndex index(net.buses);
  for (const auto& b : net.buses) {
    if (!(b.vm > 0) || !std::isfinite(b.va)) {
      throw NetworkError("bus " + std::to_string(b.id) + " has an invalid voltage");
    }
  }
  // Messages are built only on failure: a large case has tens of thousands of branches.
  auto known = [&](std::int64_t id) { return index.find(id) >= 0; };
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
  return index;
}

}  // namespace remhart::grid
