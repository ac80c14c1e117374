#pragma once
// A synthetic radial distribution feeder for benchmarks: a trunk with laterals, random line
// impedances and loads (fixed seed), loaded so that its lowest voltage lands in [0.92, 0.95] p.u.
#include <cstdint>
#include <random>

#include "grid/network.hpp"
#include "grid/powerflow.hpp"

namespace remhart::bench {

inline grid::Network make_feeder(int buses, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  grid::Network n;
  n.name = "feeder" + std::to_string(buses);
  n.base_mva = 10;
  grid::Bus slack;
  slack.id = 1;
  slack.type = grid::BusType::ref;
  slack.base_kv = 11;
  n.buses.push_back(slack);
  for (int k = 2; k <= buses; ++k) {
    grid::Bus b;
    b.id = k;
    b.base_kv = 11;
    b.pd = 0.05 + 0.1 * u(rng);  // MW, scaled below
    b.qd = b.pd * (0.2 + 0.3 * u(rng));
    n.buses.push_back(b);
    grid::Branch br;
    // Mostly continue the recent path (a trunk), sometimes branch off an earlier bus (a lateral).
    const int back = u(rng) < 0.8 ? 1 : 1 + static_cast<int>(u(rng) * std::min(k - 1, 50));
    br.from = std::max(1, k - back);
    br.to = k;
    br.r = 0.002 + 0.004 * u(rng);
    br.x = 0.002 + 0.003 * u(rng);
    n.branches.push_back(br);
  }
  grid::Gen g;
  g.bus = 1;
  g.vg = 1.0;
  n.gens.push_back(g);
  // Scale the loads so the lowest voltage is 0.935 p.u. (bisection on a common factor).
  const grid::Network base = n;
  double lo = 0.01, hi = 10;
  for (int it = 0; it < 40; ++it) {
    const double mid = (lo + hi) / 2;
    for (std::size_t k = 0; k < n.buses.size(); ++k) {
      n.buses[k].pd = base.buses[k].pd * mid;
      n.buses[k].qd = base.buses[k].qd * mid;
    }
    grid::PowerFlow pf(n);
    const auto r = pf.solve();
    double vmin = 2;
    for (double v : r.vm) vmin = std::min(vmin, v);
    if (r.converged && vmin > 0.935) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  for (std::size_t k = 0; k < n.buses.size(); ++k) {
    n.buses[k].pd = base.buses[k].pd * lo;
    n.buses[k].qd = base.buses[k].qd * lo;
  }
  return n;
}

}  // namespace remhart::bench
