// Newton–Raphson's linear algebra: the power mismatches, the Jacobian in compressed columns
// (its pattern derived once from the admittance matrix's, each admittance entry's derivatives
// located), its values per iteration, and the linear solve (KLU, with the symbolic analysis
// reused; Eigen's SparseLU afresh as a benchmark reference).
#include <Eigen/SparseLU>

#include <algorithm>
#include <cmath>
#include <limits>

#include <amd.h>

#include "grid/detail/powerflow_model.hpp"

namespace remhart::grid {

void PowerFlow::Impl::compile_jacobian() {
  // Jacobian pattern, column by column without sorting: the columns of bus k (Va_k, then Vm_k)
  // hold the rows of k's neighbours i — P rows (a_idx) first, then Q rows (m_idx), both rising
  // with i — taken from Ybus row k, since the pattern is symmetric. Each entry records where the
  // derivative of admittance entry (i, k) goes.
  std::vector<int> transpose(y_col.size());  // nz of (k, i) → nz of (i, k)
  {
    // Rows visited in order: entry (i, k) is the next unvisited one of row i.
    std::vector<int> next(y_ptr.begin(), y_ptr.end() - 1);
    for (std::size_t k = 0; k < n; ++k) {
      for (int p = y_ptr[k]; p < y_ptr[k + 1]; ++p) {
        const auto i = static_cast<std::size_t>(y_col[static_cast<std::size_t>(p)]);
        transpose[static_cast<std::size_t>(p)] = next[i]++;
      }
    }
  }
  j_pos.assign(y_col.size(), {-1, -1, -1, -1, -1, -1});
  j_ptr.assign(1, 0);
  j_ptr.reserve(static_cast<std::size_t>(nj) + 1);
  j_row.clear();
  j_row.reserve(4 * y_col.size() + (distributed ? 2 * y_col.size() + n : 0));
  const int parts = distributed ? 3 : 2;
  // Columns in order: the angles (PV and PQ buses, rising), then the magnitudes (PQ buses,
  // rising), then (distributed slack) λ.
  for (std::size_t which = 0; which < 2; ++which) {
    for (std::size_t k = 0; k < n; ++k) {
      if ((which == 0 ? a_idx[k] : m_idx[k]) < 0) continue;
      // P rows, then Q rows, then (distributed slack) the reference bus's P row: rising rows.
      for (int part = 0; part < parts; ++part) {
        for (int p = y_ptr[k]; p < y_ptr[k + 1]; ++p) {
          const auto i = static_cast<std::size_t>(y_col[static_cast<std::size_t>(p)]);
          const int row = part == 0 ? a_idx[i] : part == 1 ? m_idx[i] : (i == ref[0] ? lam : -1);
          if (row < 0) continue;
          // Slot in j_pos: dP/dVa 0, dP/dVm 1, dQ/dVa 2, dQ/dVm 3, reference dP/dVa 4, dP/dVm 5.
          j_pos[static_cast<std::size_t>(transpose[static_cast<std::size_t>(p)])]
               [static_cast<std::size_t>(part * 2) + which] = static_cast<int>(j_row.size());
          j_row.push_back(row);
        }
      }
      j_ptr.push_back(static_cast<int>(j_row.size()));
    }
  }
  std::vector<std::pair<int, double>> lam_entries;  // ∂(P mismatch)/∂λ = −beta
  if (distributed) {
    for (std::size_t i = 0; i < n; ++i) {
      if (beta[i] == 0) continue;
      lam_entries.emplace_back(i == ref[0] ? lam : a_idx[i], -beta[i]);
    }
    std::sort(lam_entries.begin(), lam_entries.end());
    for (const auto& [row, value] : lam_entries) j_row.push_back(row);
    j_ptr.push_back(static_cast<int>(j_row.size()));
  }
  const int j_scratch = static_cast<int>(j_row.size());
  j_val.assign(j_row.size() + 1, 0.0);
  for (std::size_t e = 0; e < lam_entries.size(); ++e) {
    j_val[j_row.size() - lam_entries.size() + e] = lam_entries[e].second;
  }
  for (auto& pos : j_pos) {
    for (auto& q : pos) q = q < 0 ? j_scratch : q;
  }

  // The symbolic analysis, once per topology (detail::SparseLu: no block-triangular
  // pre-ordering, no scaling).
  if (nj > 0) {
    // Fill-reducing order from the bus graph (Ybus, a quarter of the Jacobian's entries), each
    // bus's angle then magnitude unknowns kept together: cheaper to compute than AMD on the
    // Jacobian and as good.
    std::vector<int> q;
    bus_order.resize(n);
    q.reserve(static_cast<std::size_t>(nj));
    if (amd_order(static_cast<int>(n), y_ptr.data(), y_col.data(), bus_order.data(), nullptr,
                  nullptr) < AMD_OK) {
      throw NetworkError("the admittance matrix could not be ordered");
    }
    for (int b : bus_order) {
      const auto k = static_cast<std::size_t>(b);
      if (a_idx[k] >= 0) q.push_back(a_idx[k]);
      if (m_idx[k] >= 0) q.push_back(m_idx[k]);
    }
    if (distributed) q.push_back(lam);
    if (!jacobian_lu.analyze(nj, j_ptr.data(), j_row.data(), q.data())) {
      throw NetworkError("the Jacobian's structure could not be analysed");
    }
  }
}

void PowerFlow::Impl::mismatch(const std::vector<cd>& volts, const std::vector<cd>& s,
                               double lambda, std::vector<cd>& ibus, std::vector<double>& f,
                               double& norm) const {
  norm = 0;
  bool finite = true;  // std::max would skip a NaN: a non-finite iterate must never converge
  for (std::size_t i = 0; i < n; ++i) {
    cd acc = 0;
    for (int p = y_ptr[i]; p < y_ptr[i + 1]; ++p) {
      acc += y_val[static_cast<std::size_t>(p)] *
             volts[static_cast<std::size_t>(y_col[static_cast<std::size_t>(p)])];
    }
    ibus[i] = acc;
    const cd mis = volts[i] * std::conj(acc) - s[i];
    const int p_row = a_idx[i] >= 0 ? a_idx[i] : (distributed && i == ref[0] ? lam : -1);
    if (p_row >= 0) {
      const double p = distributed ? mis.real() - beta[i] * lambda : mis.real();
      f[static_cast<std::size_t>(p_row)] = p;
      norm = std::max(norm, std::abs(p));
      finite = finite && std::isfinite(p);
    }
    if (m_idx[i] >= 0) {
      f[static_cast<std::size_t>(m_idx[i])] = mis.imag();
      norm = std::max(norm, std::abs(mis.imag()));
      finite = finite && std::isfinite(mis.imag());
    }
  }
  if (!finite) norm = std::numeric_limits<double>::infinity();
}

// dS/dVa and dS/dVm (polar), entry by entry, with t = V_i conj(Y_ik V_k):
//   off-diagonal: dS_i/dVa_k = -j t,                  dS_i/dVm_k = t / |V_k|
//   diagonal adds:            +j V_i conj(I_i),         + conj(I_i) V_i / |V_i|
void PowerFlow::Impl::fill_jacobian(const std::vector<cd>& volts, const std::vector<double>& vm,
                                    const std::vector<cd>& ibus) {
  double* const jv = j_val.data();
  for (std::size_t i = 0; i < n; ++i) {
    if (a_idx[i] < 0 && m_idx[i] < 0 && !(distributed && i == ref[0])) continue;
    const cd vi = volts[i];
    for (int p = y_ptr[i]; p < y_ptr[i + 1]; ++p) {
      const auto& pos = j_pos[static_cast<std::size_t>(p)];
      const auto k = static_cast<std::size_t>(y_col[static_cast<std::size_t>(p)]);
      const cd t = vi * std::conj(y_val[static_cast<std::size_t>(p)] * volts[k]);
      cd d_va(t.imag(), -t.real());
      cd d_vm = t / vm[k];
      if (k == i) {
        const cd vi_ii = vi * std::conj(ibus[i]);
        d_va += cd(-vi_ii.imag(), vi_ii.real());
        d_vm += vi_ii / vm[i];
      }
      // Unconditional stores (absent derivatives land in the scratch slot).
      jv[pos[0]] = d_va.real();
      jv[pos[1]] = d_vm.real();
      jv[pos[2]] = d_va.imag();
      jv[pos[3]] = d_vm.imag();
      jv[pos[4]] = d_va.real();
      jv[pos[5]] = d_vm.real();
    }
  }
}

bool PowerFlow::Impl::solve_linear(std::vector<double>& f, LinearSolver how) {
  if (how == LinearSolver::klu) {
    if (!jacobian_lu.factor(j_val.data())) return false;
    jacobian_lu.solve(f.data());
    return true;
  }
  const Eigen::Map<const Eigen::SparseMatrix<double>> j(
      nj, nj, static_cast<Eigen::Index>(j_row.size()), j_ptr.data(), j_row.data(), j_val.data());
  const Eigen::SparseMatrix<double> copy = j;
  Eigen::SparseLU<Eigen::SparseMatrix<double>, Eigen::COLAMDOrdering<int>> lu;
  lu.analyzePattern(copy);
  lu.factorize(copy);
  if (lu.info() != Eigen::Success) return false;
  Eigen::Map<Eigen::VectorXd> x(f.data(), nj);
  x = lu.solve(Eigen::VectorXd(x));
  return true;
}

}  // namespace remhart::grid
