// Fast-decoupled power flow, XB variant (Stott and Alsaç 1974; MATPOWER's makeB and fdpf): B'
// and B'' built and factorised once per topology, then alternating P and Q half-iterations
//   B' ΔVa = ΔP / |V|,   B'' ΔVm = ΔQ / |V|.
#include <cmath>
#include <tuple>
#include <vector>

#include "grid/detail/powerflow_model.hpp"

namespace remhart::grid {

namespace {

struct Triplet {
  int row, col;
  cd y;
};

// The admittance matrix as unmerged triplets: bus shunts, then every branch (out-of-service ones
// as zeros, so switching them changes values only).
std::vector<Triplet> ybus_triplets(const Network& net, const std::vector<std::size_t>& from,
                                   const std::vector<std::size_t>& to) {
  std::vector<Triplet> trip;
  trip.reserve(net.buses.size() + 4 * net.branches.size());
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    const int i = static_cast<int>(k);
    trip.push_back({i, i, cd(net.buses[k].gs, net.buses[k].bs) / net.base_mva});
  }
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto y = net.branches[k].in_service ? branch_admittance(net.branches[k]) : BranchY{};
    const int f = static_cast<int>(from[k]), t = static_cast<int>(to[k]);
    trip.push_back({f, f, y.ff});
    trip.push_back({f, t, y.ft});
    trip.push_back({t, f, y.tf});
    trip.push_back({t, t, y.tt});
  }
  return trip;
}

}  // namespace

// B' and B'' as MATPOWER's makeB builds them for the XB method: B' without shunts, line
// charging, taps or resistance; B'' without phase shifters. Reduced to the angle and magnitude
// unknowns.
void PowerFlow::Impl::build_fast_decoupled(const Network& net) {
  Network p = net, pp = net;
  for (auto& b : p.buses) b.bs = 0;
  for (auto& br : p.branches) {
    br.b = 0;
    br.ratio = 1;
    br.r = 0;
  }
  for (auto& br : pp.branches) br.shift = 0;
  const int npvpq = static_cast<int>(pv.size() + pq.size());
  auto reduce = [&](const Network& model, const std::vector<int>& idx, int offset) {
    std::vector<std::tuple<int, int, double>> e;
    for (const auto& t : ybus_triplets(model, from, to)) {
      const int r = idx[static_cast<std::size_t>(t.row)], c = idx[static_cast<std::size_t>(t.col)];
      if (r >= 0 && c >= 0 && t.y.imag() != 0) e.emplace_back(r - offset, c - offset, -t.y.imag());
    }
    return e;
  };
  bp = std::make_unique<detail::FactorisedMatrix>();
  bpp = std::make_unique<detail::FactorisedMatrix>();
  if (!bp->factor(npvpq, reduce(p, a_idx, 0)) ||
      !bpp->factor(static_cast<int>(pq.size()), reduce(pp, m_idx, npvpq))) {
    bp.reset();
    bpp.reset();
    throw NetworkError("the fast-decoupled matrices are singular");
  }
}

void PowerFlow::Impl::iterate_fast_decoupled(const Network& net_, const PowerFlowOptions& opt,
                                             PowerFlowResult& r) {
  auto& m = *this;
  auto& f = work.f;
  auto& vm = work.vm;
  auto& va = work.va;
  auto update = [&] { return m.update(opt, r); };
  if (!m.bp) m.build_fast_decoupled(net_);
  const std::size_t npvpq = m.pv.size() + m.pq.size();
  std::vector<double> dp(npvpq), dq(m.pq.size());
  while (!r.converged && r.iterations < opt.max_iterations) {
    ++r.iterations;
    // P half-iteration: B' ΔVa = ΔP / |V|.
    for (std::size_t k = 0; k < n; ++k) {
      if (m.a_idx[k] >= 0)
        dp[static_cast<std::size_t>(m.a_idx[k])] = f[static_cast<std::size_t>(m.a_idx[k])] / vm[k];
    }
    m.bp->solve(dp);
    for (std::size_t k = 0; k < n; ++k) {
      if (m.a_idx[k] >= 0) va[k] -= dp[static_cast<std::size_t>(m.a_idx[k])];
    }
    if (!update() || r.converged) break;
    // Q half-iteration: B'' ΔVm = ΔQ / |V|.
    for (std::size_t k = 0; k < n; ++k) {
      if (m.m_idx[k] >= 0) {
        dq[static_cast<std::size_t>(m.m_idx[k]) - npvpq] =
            f[static_cast<std::size_t>(m.m_idx[k])] / vm[k];
      }
    }
    m.bpp->solve(dq);
    for (std::size_t k = 0; k < n; ++k) {
      if (m.m_idx[k] >= 0) vm[k] -= dq[static_cast<std::size_t>(m.m_idx[k]) - npvpq];
    }
    if (!update()) break;
  }
  if (!std::isfinite(work.norm)) r.message = "the iteration diverged";
}

}  // namespace remhart::grid
