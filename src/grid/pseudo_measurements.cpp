#include "grid/pseudo_measurements.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace remhart::grid {

namespace {

using Kind = Measurement::Kind;

bool is_flow(Kind k) {
  return k != Kind::vm && k != Kind::p_injection && k != Kind::q_injection;
}

}  // namespace

std::vector<BusForecast> model_forecast(const Network& net, double relative_sigma) {
  std::vector<BusForecast> out(net.buses.size());
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    const auto& b = net.buses[k];
    out[k] = {b.pd, b.qd, std::fabs(b.pd) * relative_sigma, std::fabs(b.qd) * relative_sigma};
  }
  return out;
}

std::optional<double> scale_to_feeder_head(const Network& net, std::span<const Measurement> meters,
                                           std::vector<BusForecast>& forecast) {
  const BusIndex index(net.buses);
  const std::size_t n = net.buses.size();
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> adj(n);  // (bus, branch)
  for (std::size_t b = 0; b < net.branches.size(); ++b) {
    if (!net.branches[b].in_service) continue;
    const auto f = index.at(net.branches[b].from), t = index.at(net.branches[b].to);
    adj[f].push_back({t, b});
    adj[t].push_back({f, b});
  }
  // Depth of every bus from the reference buses.
  constexpr std::size_t kFar = std::numeric_limits<std::size_t>::max();
  std::vector<std::size_t> depth(n, kFar), queue;
  for (std::size_t k = 0; k < n; ++k) {
    if (net.buses[k].type == BusType::ref) {
      depth[k] = 0;
      queue.push_back(k);
    }
  }
  for (std::size_t q = 0; q < queue.size(); ++q) {
    for (const auto& [w, b] : adj[queue[q]]) {
      if (depth[w] == kFar) {
        depth[w] = depth[queue[q]] + 1;
        queue.push_back(w);
      }
    }
  }
  // The metered active-power flow nearest a reference bus.
  const Measurement* head = nullptr;
  std::size_t head_depth = kFar;
  for (const auto& m : meters) {
    if (m.kind != Kind::p_flow_from && m.kind != Kind::p_flow_to) continue;
    const auto& br = net.branches[m.element];
    const std::size_t d = std::min(depth[index.at(br.from)], depth[index.at(br.to)]);
    if (d < head_depth) {
      head_depth = d;
      head = &m;
    }
  }
  if (!head) return std::nullopt;
  const auto& br = net.branches[head->element];
  const auto f = index.at(br.from), t = index.at(br.to);
  const bool from_upstream = depth[f] <= depth[t];
  const std::size_t down = from_upstream ? t : f;
  const bool metered_upstream = (head->kind == Kind::p_flow_from) == from_upstream;
  // Power into the part below: the flow into the branch at its upstream end, or out at the other.
  const double supplied_mw = (metered_upstream ? head->value : -head->value) * net.base_mva;
  // The part below: reached from its first bus without crossing the head branch.
  std::vector<char> below(n, 0);
  std::vector<std::size_t> stack{down};
  below[down] = 1;
  while (!stack.empty()) {
    const auto u = stack.back();
    stack.pop_back();
    for (const auto& [w, b] : adj[u]) {
      if (b == head->element || below[w]) continue;
      if (net.buses[w].type == BusType::ref) return std::nullopt;  // meshed round the head
      below[w] = 1;
      stack.push_back(w);
    }
  }
  double forecast_mw = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (below[k]) forecast_mw += forecast[k].p_mw;
  }
  if (!(forecast_mw > 0) || !(supplied_mw > 0)) return std::nullopt;
  const double scale = supplied_mw / forecast_mw;
  for (std::size_t k = 0; k < n; ++k) {
    if (!below[k]) continue;
    forecast[k].p_mw *= scale;
    forecast[k].q_mvar *= scale;
    forecast[k].sigma_p_mw *= scale;
    forecast[k].sigma_q_mvar *= scale;
  }
  return scale;
}

std::vector<Measurement> pseudo_measurements(const Network& net,
                                             std::span<const BusForecast> forecast,
                                             std::span<const Measurement> meters,
                                             double zero_sigma_pu) {
  const std::size_t n = net.buses.size();
  std::vector<char> open(n, 1);
  for (const auto& m : meters) {
    if (!is_flow(m.kind) && m.kind != Kind::vm) open[m.element] = 0;  // a metered injection
  }
  const BusIndex index(net.buses);
  for (const auto& g : net.gens) {
    if (g.in_service) open[index.at(g.bus)] = 0;  // its injection is what is solved for
  }
  constexpr double kFloorPu = 1e-3;
  std::vector<Measurement> out;
  for (std::size_t k = 0; k < n && k < forecast.size(); ++k) {
    if (!open[k] || net.buses[k].type == BusType::isolated) continue;
    const auto& f = forecast[k];
    const bool nothing = f.p_mw == 0 && f.q_mvar == 0 && f.sigma_p_mw == 0 && f.sigma_q_mvar == 0;
    const double base = net.base_mva;
    if (nothing) {
      out.push_back({Kind::p_injection, k, 0, zero_sigma_pu});
      out.push_back({Kind::q_injection, k, 0, zero_sigma_pu});
    } else {
      out.push_back(
          {Kind::p_injection, k, -f.p_mw / base, std::max(f.sigma_p_mw / base, kFloorPu)});
      out.push_back(
          {Kind::q_injection, k, -f.q_mvar / base, std::max(f.sigma_q_mvar / base, kFloorPu)});
    }
  }
  return out;
}

}  // namespace remhart::grid
