#pragma once
// The compiled model behind grid::PowerFlow, shared by its translation units (private to grid/):
//   powerflow_topology.cpp  bus types, islands, unknowns, the admittance matrix, switching
//   jacobian.cpp            mismatches, the Jacobian's pattern, values and linear solves
//   dc_start.cpp            the DC power flow and the DC starting point
//   fast_decoupled.cpp      B', B'' and the fast-decoupled (XB) iteration
//   powerflow.cpp           solves: starting point, Newton–Raphson, reactive limits, the result
#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>

#include <array>
#include <complex>
#include <memory>
#include <numbers>
#include <vector>

#include "grid/admittance.hpp"
#include "grid/detail/sparse_lu.hpp"
#include "grid/powerflow.hpp"

namespace remhart::grid {

using cd = std::complex<double>;
using BranchY = BranchAdmittance;
inline constexpr double kDeg = std::numbers::pi / 180.0;

struct PowerFlow::Impl {
  std::size_t n = 0;
  std::vector<std::size_t> from, to;  // branch ends as bus indexes
  std::vector<std::size_t> gen_bus;
  std::vector<BusType> type;  // effective types after the generator check
  std::vector<std::size_t> pv, pq, ref;
  std::vector<int> a_idx, m_idx;  // position of Va_i / Vm_i among the unknowns, or -1
  // Distributed slack: the reference bus's P equation is the extra row `lam`, and the slack
  // λ (p.u.) the extra column `lam`; bus i takes beta[i] λ of it.
  bool distributed = false;
  int lam = -1;
  std::vector<double> beta, alpha;  // per bus, per generator

  // Admittance matrix, rows in CSR; every diagonal present.
  std::vector<int> y_ptr, y_col;
  std::vector<cd> y_val;
  std::vector<std::array<int, 4>> branch_nz;  // where each branch's ff, ft, tf, tt entries are
  std::vector<BranchY> branch_y;              // each branch's admittances when in service
  std::vector<int> adj_ptr, adj_branch;       // per bus (CSR): the branches touching it

  // Jacobian in CSC, and for every admittance entry where its derivatives go. j_val has one
  // entry more than the matrix: a scratch slot for the derivatives that have no place in it.
  int nj = 0;
  std::vector<int> j_ptr, j_row;
  std::vector<double> j_val;
  // dP/dVa, dP/dVm, dQ/dVa, dQ/dVm, and the reference bus's dP/dVa, dP/dVm (distributed slack)
  std::vector<std::array<int, 6>> j_pos;

  detail::SparseLu jacobian_lu;  // analysed once per topology, refactorised per iteration

  std::vector<cd> v;  // last solution
  bool have_solution = false;

  // Fast-decoupled (XB) matrices, built on first use for the current topology.
  std::unique_ptr<detail::FactorisedMatrix> bp, bpp;
  void build_fast_decoupled(const Network& net);

  // The DC power flow's B over the angle unknowns, in the buses' fill-reducing order, factorised
  // (LDLᵀ: B is symmetric) on first use for the current topology.
  std::vector<int> bus_order;  // fill-reducing order of the buses (AMD on the admittance graph)
  struct Dc {
    Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>, Eigen::Lower, Eigen::NaturalOrdering<int>>
        ldlt;
    bool ok = false;
    std::vector<int> rank;     // bus → position in the order, or -1 (no angle unknown)
    std::vector<double> b;     // B's values at the admittance matrix's entries
    std::vector<double> x, p;  // work
  };
  std::unique_ptr<Dc> dc;
  /// DC angles for the PV and PQ buses into `va` (the others' angles fixed); false when B is
  /// singular.
  bool dc_angles(const Network& net, const std::vector<cd>& s, std::vector<double>& va);
  /// B x = rhs, with rhs and x per bus that has an angle unknown: x_i goes to apply(i, x_i).
  template <class Rhs, class Apply>
  void dc_solve(Rhs rhs, Apply apply) {
    auto& x = dc->x;
    x.resize(static_cast<std::size_t>(dc->ldlt.rows()));
    for (std::size_t i = 0; i < n; ++i) {
      if (dc->rank[i] >= 0) x[static_cast<std::size_t>(dc->rank[i])] = rhs(i);
    }
    Eigen::Map<Eigen::VectorXd> xv(x.data(), static_cast<Eigen::Index>(x.size()));
    xv = dc->ldlt.solve(xv);
    for (std::size_t i = 0; i < n; ++i) {
      if (dc->rank[i] >= 0) apply(i, x[static_cast<std::size_t>(dc->rank[i])]);
    }
  }
  /// After dc_angles: one fast-decoupled P step with B as B', Δθ = B⁻¹ (ΔP/|V|), from the
  /// mismatches `f` at (vm, va).
  void dc_p_step(const std::vector<double>& f, const std::vector<double>& vm,
                 std::vector<double>& va);

  // Compiling a network (powerflow_topology.cpp, jacobian.cpp): bus types, islands, unknowns,
  // the admittance matrix; then the Jacobian's pattern and its symbolic analysis.
  void compile(const Network& net);
  void compile_topology(const Network& net, const BusIndex& index);
  void compile_admittance(const Network& net);
  void compile_jacobian();
  /// Scheduled injections S = Sgen − Sload per bus, p.u.
  void sbus(const Network& net, std::vector<cd>& s) const;

  // One solve's state. The vectors live in the model, so repeated (warm) solves allocate
  // nothing.
  struct Work {
    std::vector<cd> v, s, ibus;
    std::vector<double> vm, va, f, dx;
    std::vector<cd> v_dc, ibus_dc;  // the DC start, tried in cold solves
    std::vector<double> va_dc, f_dc, va_keep;
    double norm = 0;    // largest mismatch at (v), p.u.
    double lambda = 0;  // distributed slack, p.u.
  } work;

  // The steps of a solve (powerflow.cpp, dc_start.cpp, fast_decoupled.cpp): the starting point,
  // the DC estimate when it is the better start, the iterations, and the result.
  void start_point(const Network& net, bool warm);
  void try_dc_start(const Network& net, const PowerFlowOptions& opt, PowerFlowResult& r);
  void iterate_fast_decoupled(const Network& net, const PowerFlowOptions& opt, PowerFlowResult& r);
  void iterate_newton(const PowerFlowOptions& opt, PowerFlowResult& r);
  /// Mismatch at (vm, va) after an update; false when it is not finite.
  bool update(const PowerFlowOptions& opt, PowerFlowResult& r);
  void extract(const Network& net, PowerFlowResult& r);

  void mismatch(const std::vector<cd>& volts, const std::vector<cd>& s, double lambda,
                std::vector<cd>& ibus, std::vector<double>& f, double& norm) const;
  void fill_jacobian(const std::vector<cd>& volts, const std::vector<double>& vm,
                     const std::vector<cd>& ibus);
  /// Solves J dx = f in place; false when J is singular.
  bool solve_linear(std::vector<double>& f, LinearSolver how);
};

}  // namespace remhart::grid
