// The DC power flow (MATPOWER's makeBdc and dcpf) on B factorised once per topology (LDLᵀ in a
// fill-reducing order), and the DC starting point of cold solves: the case's magnitudes with DC
// angles, then one fast-decoupled P step with the same matrix.
#include <algorithm>
#include <utility>

#include "grid/detail/powerflow_model.hpp"

namespace remhart::grid {

// MATPOWER's makeBdc and dcpf: B from series reactances and tap ratios (resistance, charging
// and shunt susceptance ignored), phase shifters as injections, G_sh as a load;
//   B(pvpq, pvpq) Va(pvpq) = P(pvpq) − P_shift(pvpq) − G_sh(pvpq) − B(pvpq, others) Va(others).
bool PowerFlow::Impl::dc_angles(const Network& net, const std::vector<cd>& s,
                                std::vector<double>& va) {
  auto b_of = [&](const Branch& br) {
    return br.in_service && br.x != 0 ? 1.0 / (br.x * (br.ratio == 0 ? 1.0 : br.ratio)) : 0.0;
  };
  if (!dc) {
    dc = std::make_unique<Dc>();
    auto& b = dc->b;
    b.assign(y_col.size(), 0.0);
    for (std::size_t k = 0; k < net.branches.size(); ++k) {
      const double bk = b_of(net.branches[k]);
      const auto& nz = branch_nz[k];
      b[static_cast<std::size_t>(nz[0])] += bk;
      b[static_cast<std::size_t>(nz[1])] -= bk;
      b[static_cast<std::size_t>(nz[2])] -= bk;
      b[static_cast<std::size_t>(nz[3])] += bk;
    }
    // Positions in the fill-reducing order; the lower triangle in compressed columns. Column
    // rank[i] holds bus i's neighbours ranked at or after it (bus by bus: sequential reads of the
    // admittance rows), its few rows sorted in place.
    auto& rank = dc->rank;
    rank.assign(n, -1);
    int na = 0;
    for (int bus : bus_order) {
      if (a_idx[static_cast<std::size_t>(bus)] >= 0) rank[static_cast<std::size_t>(bus)] = na++;
    }
    auto lower = [&](std::size_t i, int p) {
      const int c = rank[static_cast<std::size_t>(y_col[static_cast<std::size_t>(p)])];
      return c >= rank[i] ? c : -1;
    };
    Eigen::SparseMatrix<double> m(na, na);
    std::vector<int> start(static_cast<std::size_t>(na) + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
      if (rank[i] < 0) continue;
      for (int p = y_ptr[i]; p < y_ptr[i + 1]; ++p) {
        if (lower(i, p) >= 0) ++start[static_cast<std::size_t>(rank[i]) + 1];
      }
    }
    for (std::size_t c = 0; c < static_cast<std::size_t>(na); ++c) start[c + 1] += start[c];
    m.resizeNonZeros(start.back());
    std::copy(start.begin(), start.end(), m.outerIndexPtr());
    int* const rows = m.innerIndexPtr();
    double* const vals = m.valuePtr();
    for (std::size_t i = 0; i < n; ++i) {
      if (rank[i] < 0) continue;
      const int first = start[static_cast<std::size_t>(rank[i])];
      int q = first;
      for (int p = y_ptr[i]; p < y_ptr[i + 1]; ++p) {
        const int r = lower(i, p);
        if (r < 0) continue;
        // Insertion into the sorted part of the column.
        int at = q++;
        for (; at > first && rows[at - 1] > r; --at) {
          rows[at] = rows[at - 1];
          vals[at] = vals[at - 1];
        }
        rows[at] = r;
        vals[at] = b[static_cast<std::size_t>(p)];
      }
    }
    dc->ldlt.compute(m);
    dc->ok = dc->ldlt.info() == Eigen::Success;
  }
  if (!dc->ok) return false;
  // P − P_shift − G_sh, then the fixed angles' terms moved to the right-hand side.
  auto& p = dc->p;
  p.resize(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = s[i].real() - net.buses[i].gs / net.base_mva;
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& br = net.branches[k];
    if (br.shift == 0) continue;
    const double injection = -br.shift * kDeg * b_of(br);
    p[from[k]] -= injection;
    p[to[k]] += injection;
  }
  dc_solve(
      [&](std::size_t i) {
        double rhs = p[i];
        for (int q = y_ptr[i]; q < y_ptr[i + 1]; ++q) {
          const auto k = static_cast<std::size_t>(y_col[static_cast<std::size_t>(q)]);
          if (a_idx[k] < 0) rhs -= dc->b[static_cast<std::size_t>(q)] * va[k];
        }
        return rhs;
      },
      [&](std::size_t i, double x) { va[i] = x; });
  return true;
}

void PowerFlow::Impl::dc_p_step(const std::vector<double>& f, const std::vector<double>& vm,
                                std::vector<double>& va) {
  dc_solve([&](std::size_t i) { return f[static_cast<std::size_t>(a_idx[i])] / vm[i]; },
           [&](std::size_t i, double x) { va[i] -= x; });
}

void PowerFlow::Impl::try_dc_start(const Network& net_, const PowerFlowOptions& opt,
                                   PowerFlowResult& r) {
  auto& w = work;
  auto& m = *this;
  const auto& s = w.s;
  auto& v = w.v;
  auto& vm = w.vm;
  auto& va = w.va;
  auto& ibus = w.ibus;
  auto& f = w.f;
  auto& norm = w.norm;
  const double lambda = w.lambda;
  // The DC estimate: the case's magnitudes with the DC power flow's angles, then one
  // fast-decoupled P step with the same matrix for what the DC model leaves out (losses, the
  // magnitudes); kept when it is the better start (or asked for).
  auto& va_dc = w.va_dc;
  va_dc = va;
  if (m.dc_angles(net_, s, va_dc)) {
    auto& v_dc = w.v_dc;
    v_dc.resize(n);
    w.ibus_dc.resize(n);
    w.f_dc.resize(static_cast<std::size_t>(m.nj));
    double norm_dc = 0;
    auto evaluate = [&] {
      for (std::size_t k = 0; k < n; ++k) v_dc[k] = std::polar(vm[k], va_dc[k]);
      m.mismatch(v_dc, s, lambda, w.ibus_dc, w.f_dc, norm_dc);
    };
    evaluate();
    // Kept only when it does not raise the largest mismatch (it moves angles only, so it can
    // raise a reactive one).
    const double before = norm_dc;
    w.va_keep = va_dc;
    m.dc_p_step(w.f_dc, vm, va_dc);
    evaluate();
    if (norm_dc > before) {
      std::swap(va_dc, w.va_keep);
      evaluate();
    }
    if (opt.start == Start::dc || norm_dc < norm) {
      std::swap(v, v_dc);
      std::swap(va, va_dc);
      std::swap(ibus, w.ibus_dc);
      std::swap(f, w.f_dc);
      norm = norm_dc;
      r.converged = norm < opt.tolerance;
    }
  }
}

std::vector<double> PowerFlow::dc_angles() {
  auto& m = *impl_;
  std::vector<cd> s;
  m.sbus(net_, s);
  std::vector<double> va(m.n);
  for (std::size_t k = 0; k < m.n; ++k) va[k] = net_.buses[k].va * kDeg;
  if (!m.dc_angles(net_, s, va)) return {};
  for (auto& a : va) a /= kDeg;
  return va;
}

}  // namespace remhart::grid
