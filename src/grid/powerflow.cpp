#include "grid/powerflow.hpp"

#include "grid/admittance.hpp"

#include <klu.h>

#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <Eigen/SparseLU>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <tuple>
#include <unordered_map>

namespace remhart::grid {

using cd = std::complex<double>;

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

using BranchY = BranchAdmittance;

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

// A real sparse matrix in compressed columns, factorised once with KLU.
struct Factorised {
  klu_common common{};
  klu_symbolic* symbolic = nullptr;
  klu_numeric* numeric = nullptr;
  int n = 0;

  Factorised() = default;
  Factorised(const Factorised&) = delete;
  Factorised& operator=(const Factorised&) = delete;
  ~Factorised() {
    if (numeric) klu_free_numeric(&numeric, &common);
    if (symbolic) klu_free_symbolic(&symbolic, &common);
  }

  /// `entries` are (row, col, value) with duplicates summed. False when singular.
  bool factor(int size, std::vector<std::tuple<int, int, double>> entries) {
    n = size;
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return std::get<1>(a) != std::get<1>(b) ? std::get<1>(a) < std::get<1>(b)
                                              : std::get<0>(a) < std::get<0>(b);
    });
    std::vector<int> ptr(static_cast<std::size_t>(n) + 1, 0), row;
    std::vector<double> val;
    int prev_r = -1, prev_c = -1;
    for (const auto& [r, c, v] : entries) {
      if (r == prev_r && c == prev_c) {
        val.back() += v;
        continue;
      }
      row.push_back(r);
      val.push_back(v);
      ++ptr[static_cast<std::size_t>(c) + 1];
      prev_r = r;
      prev_c = c;
    }
    for (int c = 0; c < n; ++c)
      ptr[static_cast<std::size_t>(c) + 1] += ptr[static_cast<std::size_t>(c)];
    klu_defaults(&common);
    common.btf = 0;
    if (n == 0) return true;
    symbolic = klu_analyze(n, ptr.data(), row.data(), &common);
    if (!symbolic) return false;
    numeric = klu_factor(ptr.data(), row.data(), val.data(), symbolic, &common);
    return numeric != nullptr && common.status == KLU_OK;
  }

  void solve(std::vector<double>& b) {
    if (n > 0) klu_solve(symbolic, numeric, n, 1, b.data(), &common);
  }
};

}  // namespace

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

  klu_common common{};
  klu_symbolic* symbolic = nullptr;
  klu_numeric* numeric = nullptr;

  std::vector<cd> v;  // last solution
  bool have_solution = false;

  // Fast-decoupled (XB) matrices, built on first use for the current topology.
  std::unique_ptr<Factorised> bp, bpp;
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

  ~Impl() {
    if (numeric) klu_free_numeric(&numeric, &common);
    if (symbolic) klu_free_symbolic(&symbolic, &common);
  }

  void compile(const Network& net);
  void sbus(const Network& net, std::vector<cd>& s) const;

  struct Work {
    std::vector<cd> v, s, ibus;
    std::vector<double> vm, va, f, dx;
    std::vector<cd> v_dc, ibus_dc;  // the DC start, tried in cold solves
    std::vector<double> va_dc, f_dc, va_keep;
  } work;
  void mismatch(const std::vector<cd>& volts, const std::vector<cd>& s, double lambda,
                std::vector<cd>& ibus, std::vector<double>& f, double& norm) const;
  void fill_jacobian(const std::vector<cd>& volts, const std::vector<double>& vm,
                     const std::vector<cd>& ibus);
  bool factor();
  /// Solves J dx = f in place; false when J is singular.
  bool solve_linear(std::vector<double>& f, LinearSolver how);
};

bool PowerFlow::Impl::solve_linear(std::vector<double>& f, LinearSolver how) {
  if (how == LinearSolver::klu) {
    if (!factor()) return false;
    klu_solve(symbolic, numeric, nj, 1, f.data(), &common);
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

void PowerFlow::Impl::compile(const Network& net) {
  const BusIndex index = validate(net);
  n = net.buses.size();

  // Effective bus types: a PV or reference bus needs an in-service generator.
  type.resize(n);
  std::vector<char> has_gen(n, 0);
  gen_bus.reserve(net.gens.size());
  for (const auto& g : net.gens) {
    gen_bus.push_back(index.at(g.bus));
    if (g.in_service) has_gen[gen_bus.back()] = 1;
  }
  for (std::size_t k = 0; k < n; ++k) {
    type[k] = net.buses[k].type;
    if ((type[k] == BusType::pv || type[k] == BusType::ref) && !has_gen[k]) type[k] = BusType::pq;
  }

  // Branches by bus (CSR), then islands over in-service branches; each needs a reference bus
  // (else its first PV bus is promoted, as MATPOWER does).
  const std::size_t nb = net.branches.size();
  from.resize(nb);
  to.resize(nb);
  adj_ptr.assign(n + 1, 0);
  for (std::size_t k = 0; k < nb; ++k) {
    from[k] = index.at(net.branches[k].from);
    to[k] = index.at(net.branches[k].to);
    ++adj_ptr[from[k] + 1];
    ++adj_ptr[to[k] + 1];
  }
  for (std::size_t k = 0; k < n; ++k) adj_ptr[k + 1] += adj_ptr[k];
  adj_branch.resize(2 * nb);
  {
    std::vector<int> fill(adj_ptr.begin(), adj_ptr.end() - 1);
    for (std::size_t k = 0; k < nb; ++k) {
      adj_branch[static_cast<std::size_t>(fill[from[k]]++)] = static_cast<int>(k);
      adj_branch[static_cast<std::size_t>(fill[to[k]]++)] = static_cast<int>(k);
    }
  }
  auto live = [&](std::size_t k) {
    return net.branches[k].in_service && type[from[k]] != BusType::isolated &&
           type[to[k]] != BusType::isolated;
  };
  std::vector<int> island(n, -1);
  std::vector<std::size_t> members, stack;
  for (std::size_t s = 0; s < n; ++s) {
    if (island[s] >= 0 || type[s] == BusType::isolated) continue;
    members.assign(1, s);
    stack.assign(1, s);
    island[s] = static_cast<int>(s);
    while (!stack.empty()) {
      const auto u = stack.back();
      stack.pop_back();
      for (int p = adj_ptr[u]; p < adj_ptr[u + 1]; ++p) {
        const auto k = static_cast<std::size_t>(adj_branch[static_cast<std::size_t>(p)]);
        if (!live(k)) continue;
        const auto w = from[k] == u ? to[k] : from[k];
        if (island[w] < 0) {
          island[w] = static_cast<int>(s);
          members.push_back(w);
          stack.push_back(w);
        }
      }
    }
    const bool has_ref = std::any_of(members.begin(), members.end(),
                                     [&](std::size_t b) { return type[b] == BusType::ref; });
    if (!has_ref) {
      const auto pv_bus = std::find_if(members.begin(), members.end(),
                                       [&](std::size_t b) { return type[b] == BusType::pv; });
      if (pv_bus == members.end()) {
        std::string ids;
        for (std::size_t k = 0; k < members.size() && k < 10; ++k) {
          ids += (k ? ", " : "") + std::to_string(net.buses[members[k]].id);
        }
        if (members.size() > 10) ids += ", …";
        throw NetworkError("an island of " + std::to_string(members.size()) +
                           " bus(es) has no reference bus or generator: " + ids);
      }
      type[*pv_bus] = BusType::ref;
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (type[k] == BusType::pv) pv.push_back(k);
    if (type[k] == BusType::pq) pq.push_back(k);
    if (type[k] == BusType::ref) ref.push_back(k);
  }
  a_idx.assign(n, -1);
  m_idx.assign(n, -1);
  int pos = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (type[k] == BusType::pv || type[k] == BusType::pq) a_idx[k] = pos++;
  }
  for (auto k : pq) m_idx[k] = pos++;
  nj = pos;
  if (distributed) {
    if (ref.size() != 1) {
      throw NetworkError("a distributed slack needs exactly one island with one reference bus");
    }
    alpha.assign(net.gens.size(), 0.0);
    double total = 0;
    for (int pass = 0; pass < 3 && total <= 0; ++pass) {
      for (std::size_t g = 0; g < net.gens.size(); ++g) {
        const auto& gen = net.gens[g];
        if (!gen.in_service) continue;
        alpha[g] = pass == 0   ? gen.participation
                   : pass == 1 ? (std::isfinite(gen.pmax) && gen.pmax > 0 ? gen.pmax : 0)
                               : 1.0;
        total += alpha[g];
      }
    }
    beta.assign(n, 0.0);
    for (std::size_t g = 0; g < net.gens.size(); ++g) {
      alpha[g] /= total;
      beta[gen_bus[g]] += alpha[g];
    }
    lam = nj++;
  }

  // Admittance matrix in CSR: row j holds j and the other end of each of its branches
  // (out-of-service ones too, as zeros, so switching changes values only). Placing bus i into the
  // rows of i and of its neighbours, for i rising, leaves every row sorted; parallel branches
  // repeat a column, merged afterwards. The pattern is structurally symmetric with every
  // diagonal present. Each branch's ff, ft, tf, tt positions are recorded on the way.
  branch_y.resize(nb);
  branch_nz.resize(nb);
  std::vector<int> raw_col(n + 2 * nb), cursor(n), diag_of(n);
  for (std::size_t j = 0; j < n; ++j) cursor[j] = adj_ptr[j] + static_cast<int>(j);
  for (std::size_t i = 0; i < n; ++i) {
    diag_of[i] = cursor[i]++;
    raw_col[static_cast<std::size_t>(diag_of[i])] = static_cast<int>(i);
    for (int p = adj_ptr[i]; p < adj_ptr[i + 1]; ++p) {
      const auto k = static_cast<std::size_t>(adj_branch[static_cast<std::size_t>(p)]);
      const bool at_from = from[k] == i;
      const auto j = at_from ? to[k] : from[k];
      const int q = cursor[j]++;
      raw_col[static_cast<std::size_t>(q)] = static_cast<int>(i);
      branch_nz[k][at_from ? 2 : 1] = q;  // entry (j, i): tf when i is the from end, else ft
    }
  }
  std::vector<int>& merged = cursor;  // reused: raw position → merged position
  merged.resize(raw_col.size());
  y_ptr.assign(1, 0);
  y_col.clear();
  y_col.reserve(raw_col.size());
  for (std::size_t j = 0; j < n; ++j) {
    for (int q = adj_ptr[j] + static_cast<int>(j); q < adj_ptr[j + 1] + static_cast<int>(j) + 1;
         ++q) {
      const int c = raw_col[static_cast<std::size_t>(q)];
      if (static_cast<int>(y_col.size()) == y_ptr.back() || y_col.back() != c) y_col.push_back(c);
      merged[static_cast<std::size_t>(q)] = static_cast<int>(y_col.size()) - 1;
    }
    y_ptr.push_back(static_cast<int>(y_col.size()));
  }
  for (std::size_t i = 0; i < n; ++i) diag_of[i] = merged[static_cast<std::size_t>(diag_of[i])];
  for (std::size_t k = 0; k < nb; ++k) {
    auto& nz = branch_nz[k];
    nz = {diag_of[from[k]], merged[static_cast<std::size_t>(nz[1])],
          merged[static_cast<std::size_t>(nz[2])], diag_of[to[k]]};
  }
  y_val.assign(y_col.size(), cd(0));
  for (std::size_t i = 0; i < n; ++i) {
    y_val[static_cast<std::size_t>(diag_of[i])] =
        cd(net.buses[i].gs, net.buses[i].bs) / net.base_mva;
  }
  for (std::size_t k = 0; k < nb; ++k) {
    branch_y[k] = branch_admittance(net.branches[k]);
    if (!net.branches[k].in_service) continue;
    const auto& y = branch_y[k];
    const auto& nz = branch_nz[k];
    y_val[static_cast<std::size_t>(nz[0])] += y.ff;
    y_val[static_cast<std::size_t>(nz[1])] += y.ft;
    y_val[static_cast<std::size_t>(nz[2])] += y.tf;
    y_val[static_cast<std::size_t>(nz[3])] += y.tt;
  }

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

  klu_defaults(&common);
  // A power-flow Jacobian is one irreducible block: the block-triangular pre-ordering only costs.
  // Sum scaling is cheaper than the default max scaling and keeps pivoting sound (measured on
  // case9241pegase: warm solves −15 %).
  common.btf = 0;
  common.scale = -1;
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
    symbolic = klu_analyze_given(nj, j_ptr.data(), j_row.data(), q.data(), q.data(), &common);
    if (!symbolic) throw NetworkError("the Jacobian's structure could not be analysed");
  }
}

void PowerFlow::Impl::sbus(const Network& net, std::vector<cd>& s) const {
  s.resize(n);
  for (std::size_t k = 0; k < n; ++k) s[k] = -cd(net.buses[k].pd, net.buses[k].qd);
  for (std::size_t g = 0; g < net.gens.size(); ++g) {
    if (net.gens[g].in_service) s[gen_bus[g]] += cd(net.gens[g].pg, net.gens[g].qg);
  }
  for (auto& x : s) x /= net.base_mva;
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

// Numeric factorisation: refactor with the previous pivots when possible, else factor afresh.
bool PowerFlow::Impl::factor() {
  if (numeric) {
    if (klu_refactor(j_ptr.data(), j_row.data(), j_val.data(), symbolic, numeric, &common) &&
        common.status == KLU_OK) {
      // Guard against pivots that have become poor for the new values.
      klu_rcond(symbolic, numeric, &common);
      if (common.rcond > 1e-12) return true;
    }
    klu_free_numeric(&numeric, &common);
  }
  numeric = klu_factor(j_ptr.data(), j_row.data(), j_val.data(), symbolic, &common);
  return numeric != nullptr && common.status == KLU_OK;
}

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
  bp = std::make_unique<Factorised>();
  bpp = std::make_unique<Factorised>();
  if (!bp->factor(npvpq, reduce(p, a_idx, 0)) ||
      !bpp->factor(static_cast<int>(pq.size()), reduce(pp, m_idx, npvpq))) {
    bp.reset();
    bpp.reset();
    throw NetworkError("the fast-decoupled matrices are singular");
  }
}

PowerFlow::PowerFlow(Network net, bool distributed_slack)
    : net_(std::move(net)), impl_(std::make_unique<Impl>()) {
  impl_->distributed = distributed_slack;
  impl_->compile(net_);
}

PowerFlow::~PowerFlow() = default;

void PowerFlow::set_branch_in_service(std::size_t k, bool on) {
  auto& br = net_.branches.at(k);
  if (br.in_service == on) return;
  const auto& y = impl_->branch_y[k];
  const double sign = on ? 1.0 : -1.0;
  const auto& nz = impl_->branch_nz[k];
  impl_->y_val[static_cast<std::size_t>(nz[0])] += sign * y.ff;
  impl_->y_val[static_cast<std::size_t>(nz[1])] += sign * y.ft;
  impl_->y_val[static_cast<std::size_t>(nz[2])] += sign * y.tf;
  impl_->y_val[static_cast<std::size_t>(nz[3])] += sign * y.tt;
  br.in_service = on;
  impl_->bp.reset();  // the fast-decoupled and DC matrices follow the topology
  impl_->bpp.reset();
  impl_->dc.reset();
}

void PowerFlow::set_shunt(std::size_t k, double gs, double bs) {
  auto& bus = net_.buses.at(k);
  if (bus.gs == gs && bus.bs == bs) return;
  auto& m = *impl_;
  const int* lo = m.y_col.data() + m.y_ptr[k];
  const int* hi = m.y_col.data() + m.y_ptr[k + 1];
  const auto diag =
      static_cast<std::size_t>(std::lower_bound(lo, hi, static_cast<int>(k)) - m.y_col.data());
  m.y_val[diag] += cd(gs - bus.gs, bs - bus.bs) / net_.base_mva;
  bus.gs = gs;
  bus.bs = bs;
  m.bpp.reset();  // B'' holds the shunts
}

std::vector<std::size_t> PowerFlow::unreachable_buses() const {
  const auto& m = *impl_;
  std::vector<bool> seen(m.n, false);
  std::vector<std::size_t> stack(m.ref.begin(), m.ref.end());
  for (auto r : m.ref) seen[r] = true;
  while (!stack.empty()) {
    const auto u = stack.back();
    stack.pop_back();
    for (int p = m.adj_ptr[u]; p < m.adj_ptr[u + 1]; ++p) {
      const auto k = static_cast<std::size_t>(m.adj_branch[static_cast<std::size_t>(p)]);
      if (!net_.branches[k].in_service) continue;
      const auto w = m.from[k] == u ? m.to[k] : m.from[k];
      if (!seen[w] && m.type[w] != BusType::isolated) {
        seen[w] = true;
        stack.push_back(w);
      }
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < m.n; ++k) {
    if (!seen[k] && m.type[k] != BusType::isolated) out.push_back(k);
  }
  return out;
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

std::vector<std::complex<double>> PowerFlow::voltages() const {
  return impl_->v;
}

void PowerFlow::set_voltages(std::vector<std::complex<double>> v) {
  if (v.size() != impl_->n) throw NetworkError("set_voltages: one voltage per bus is needed");
  impl_->v = std::move(v);
  impl_->have_solution = true;
}

PowerFlowResult PowerFlow::solve(const PowerFlowOptions& opt, bool warm) {
  return opt.enforce_q_limits ? solve_q_limited(opt, warm) : solve_once(opt, warm);
}

// Repeatedly: solve, find PV buses whose generators' total Q lies outside the sum of their
// limits, fix each such generator at its violated limit and make the bus PQ (a new model, as
// the Jacobian's structure changes), and solve again from the current voltages.
PowerFlowResult PowerFlow::solve_q_limited(const PowerFlowOptions& opt, bool warm) {
  PowerFlowOptions inner = opt;
  inner.enforce_q_limits = false;
  auto r = solve_once(inner, warm);
  Network net = net_;
  std::vector<std::int64_t> switched;
  const auto& bus_of = impl_->gen_bus;  // generator → bus index
  for (int round = 0; round < 50 && r.converged; ++round) {
    std::unordered_map<std::size_t, std::pair<double, double>> q_range;  // bus → (Σ qmin, Σ qmax)
    std::unordered_map<std::size_t, double> q_total;
    for (std::size_t g = 0; g < net.gens.size(); ++g) {
      if (!net.gens[g].in_service) continue;
      const auto b = bus_of[g];
      auto& range = q_range[b];
      range.first += net.gens[g].qmin;
      range.second += net.gens[g].qmax;
      q_total[b] += r.qg[g];
    }
    bool any = false;
    for (const auto& [b, q] : q_total) {
      // The compiled type: a PV bus made an island's reference keeps its reactive power free.
      if (net.buses[b].type != BusType::pv || impl_->type[b] != BusType::pv) continue;
      const auto [lo, hi] = q_range[b];
      if (q <= hi + 1e-9 && q >= lo - 1e-9) continue;
      any = true;
      net.buses[b].type = BusType::pq;
      switched.push_back(net.buses[b].id);
      for (std::size_t g = 0; g < net.gens.size(); ++g) {
        auto& gen = net.gens[g];
        if (gen.in_service && bus_of[g] == b) gen.qg = q > hi ? gen.qmax : gen.qmin;
      }
    }
    if (!any) break;
    std::optional<PowerFlow> built;
    try {
      built.emplace(net, impl_->distributed);
    } catch (const NetworkError& e) {  // switching left no operating point to solve for
      r.converged = false;
      r.message = std::string("reactive limits: ") + e.what();
      break;
    }
    PowerFlow& limited = *built;
    std::vector<std::complex<double>> start(r.vm.size());
    for (std::size_t k = 0; k < start.size(); ++k)
      start[k] = std::polar(r.vm[k], r.va_deg[k] * kDeg);
    limited.set_voltages(std::move(start));
    const int before = r.iterations;
    r = limited.solve_once(inner, true);
    r.iterations += before;  // every round's Newton steps
    // Report generator Q at the held limits (the inner model solved them as fixed injections).
    for (std::size_t g = 0; g < net.gens.size(); ++g) {
      if (net.buses[bus_of[g]].type == BusType::pq && net.gens[g].in_service) {
        r.qg[g] = net.gens[g].qg;
      }
    }
  }
  r.switched_to_pq = std::move(switched);
  return r;
}

PowerFlowResult PowerFlow::solve_once(const PowerFlowOptions& opt, bool warm) {
  auto& m = *impl_;
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t n = m.n;
  PowerFlowResult r;

  // Starting point: the case's voltages with generator set-points, or the last solution.
  // Work vectors live in the model, so repeated (warm) solves allocate nothing here.
  auto& w = m.work;
  auto& v = w.v;
  auto& vm = w.vm;
  auto& va = w.va;
  v.resize(n);
  vm.resize(n);
  va.resize(n);
  auto held = [&](std::size_t g) {
    const auto b = m.gen_bus[g];
    return net_.gens[g].in_service && (m.type[b] == BusType::pv || m.type[b] == BusType::ref);
  };
  if (warm && m.have_solution) {
    v = m.v;
    for (std::size_t g = 0; g < net_.gens.size(); ++g) {
      const auto b = m.gen_bus[g];
      if (held(g)) v[b] = net_.gens[g].vg / std::abs(v[b]) * v[b];
    }
    for (std::size_t k = 0; k < n; ++k) {
      vm[k] = std::abs(v[k]);
      va[k] = std::arg(v[k]);
    }
  } else {
    for (std::size_t k = 0; k < n; ++k) {
      vm[k] = net_.buses[k].vm;
      va[k] = net_.buses[k].va * kDeg;
    }
    for (std::size_t g = 0; g < net_.gens.size(); ++g) {
      if (held(g)) vm[m.gen_bus[g]] = net_.gens[g].vg;
    }
    for (std::size_t k = 0; k < n; ++k) v[k] = std::polar(vm[k], va[k]);
  }

  m.sbus(net_, w.s);
  const auto& s = w.s;
  auto& ibus = w.ibus;
  auto& f = w.f;
  auto& dx = w.dx;
  ibus.resize(n);
  f.resize(static_cast<std::size_t>(m.nj));
  double norm = 0;
  double lambda = 0;  // distributed slack, p.u.
  if (m.distributed && opt.method != Method::newton_raphson) {
    r.message = "a distributed slack needs Newton-Raphson";
    return r;
  }
  m.mismatch(v, s, lambda, ibus, f, norm);
  r.converged = norm < opt.tolerance;
  if (!(warm && m.have_solution) && opt.start != Start::case_voltages && !r.converged) {
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
  auto update = [&] {
    for (std::size_t k = 0; k < n; ++k) v[k] = std::polar(vm[k], va[k]);
    m.mismatch(v, s, lambda, ibus, f, norm);
    r.converged = norm < opt.tolerance;
    return std::isfinite(norm);
  };
  if (opt.method == Method::fast_decoupled_xb && !r.converged) {
    if (!m.bp) m.build_fast_decoupled(net_);
    const std::size_t npvpq = m.pv.size() + m.pq.size();
    std::vector<double> dp(npvpq), dq(m.pq.size());
    while (!r.converged && r.iterations < opt.max_iterations) {
      ++r.iterations;
      // P half-iteration: B' ΔVa = ΔP / |V|.
      for (std::size_t k = 0; k < n; ++k) {
        if (m.a_idx[k] >= 0)
          dp[static_cast<std::size_t>(m.a_idx[k])] =
              f[static_cast<std::size_t>(m.a_idx[k])] / vm[k];
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
    if (!std::isfinite(norm)) r.message = "the iteration diverged";
  }
  // Newton–Raphson. Once a step has cut the largest mismatch a hundredfold (quadratic
  // convergence has set in), the next steps reuse the factorised Jacobian — chord steps: a solve,
  // no new Jacobian or refactorisation, a third of the cost — for as long as each cuts the
  // mismatch at least tenfold.
  bool chord = false;
  while (opt.method == Method::newton_raphson && !r.converged &&
         r.iterations < opt.max_iterations) {
    ++r.iterations;
    dx = f;
    if (chord) {
      klu_solve(m.symbolic, m.numeric, m.nj, 1, dx.data(), &m.common);
    } else {
      m.fill_jacobian(v, vm, ibus);
      if (!m.solve_linear(dx, opt.linear_solver)) {
        r.message = "the Jacobian is singular";
        break;
      }
    }
    const double before = norm;
    for (std::size_t k = 0; k < n; ++k) {
      if (m.a_idx[k] >= 0) va[k] -= dx[static_cast<std::size_t>(m.a_idx[k])];
      if (m.m_idx[k] >= 0) vm[k] -= dx[static_cast<std::size_t>(m.m_idx[k])];
      v[k] = std::polar(vm[k], va[k]);
    }
    if (m.distributed) lambda -= dx[static_cast<std::size_t>(m.lam)];
    m.mismatch(v, s, lambda, ibus, f, norm);
    if (!std::isfinite(norm)) {
      r.message = "the iteration diverged";
      break;
    }
    r.converged = norm < opt.tolerance;
    chord = opt.linear_solver == LinearSolver::klu && norm * (chord ? 10 : 100) <= before;
  }
  if (!r.converged && r.message.empty()) {
    r.message = "no convergence in " + std::to_string(opt.max_iterations) + " iterations";
  }
  r.max_mismatch = norm;

  // The solution: voltages, generator outputs at reference and PV buses, branch flows, losses.
  r.vm = vm;
  r.va_deg.resize(n);
  for (std::size_t k = 0; k < n; ++k) r.va_deg[k] = va[k] / kDeg;
  r.pg.resize(net_.gens.size());
  r.qg.resize(net_.gens.size());
  std::vector<int> gens_at(n, 0);
  for (std::size_t g = 0; g < net_.gens.size(); ++g) {
    if (net_.gens[g].in_service) ++gens_at[m.gen_bus[g]];
  }
  std::vector<bool> first_seen(n, false);
  for (std::size_t g = 0; g < net_.gens.size(); ++g) {
    const auto& gen = net_.gens[g];
    r.pg[g] = gen.in_service ? gen.pg : 0;
    r.qg[g] = gen.in_service ? gen.qg : 0;
  }
  for (std::size_t g = 0; g < net_.gens.size(); ++g) {
    const auto b = m.gen_bus[g];
    if (!net_.gens[g].in_service || m.type[b] == BusType::pq) continue;
    const cd sb =
        v[b] * std::conj(ibus[b]) * net_.base_mva + cd(net_.buses[b].pd, net_.buses[b].qd);
    r.qg[g] = sb.imag() / gens_at[b];  // shared equally between the bus's generators
    if (m.type[b] == BusType::ref && !m.distributed) {
      if (!first_seen[b]) {
        first_seen[b] = true;
        double others = 0;
        for (std::size_t h = 0; h < net_.gens.size(); ++h) {
          if (h != g && m.gen_bus[h] == b && net_.gens[h].in_service) others += net_.gens[h].pg;
        }
        r.pg[g] = sb.real() - others;
      }
    }
  }
  if (m.distributed) {
    r.slack_mw = lambda * net_.base_mva;
    for (std::size_t g = 0; g < net_.gens.size(); ++g) {
      if (net_.gens[g].in_service) r.pg[g] = net_.gens[g].pg + m.alpha[g] * r.slack_mw;
    }
  }
  r.flows.resize(net_.branches.size());
  for (std::size_t k = 0; k < net_.branches.size(); ++k) {
    if (!net_.branches[k].in_service) continue;
    const auto& y = m.branch_y[k];
    const cd vf = v[m.from[k]], vt = v[m.to[k]];
    const cd sf = vf * std::conj(y.ff * vf + y.ft * vt) * net_.base_mva;
    const cd st = vt * std::conj(y.tf * vf + y.tt * vt) * net_.base_mva;
    r.flows[k] = {sf.real(), sf.imag(), st.real(), st.imag()};
    r.losses_mw += sf.real() + st.real();
  }
  if (r.converged) {
    m.v = v;
    m.have_solution = true;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::optional<Start> start_from_name(std::string_view name) {
  if (name == "auto") return Start::automatic;
  if (name == "case") return Start::case_voltages;
  if (name == "dc") return Start::dc;
  return std::nullopt;
}

// In real arithmetic: complex division goes through the slow, overflow-guarded library routine,
// and model builds do this for every branch. With t = ratio·e^{jθ}: 1/t = e^{−jθ}/ratio.
BranchAdmittance branch_admittance(const Branch& br) {
  const double z2 = br.r * br.r + br.x * br.x;
  const cd ys(br.r / z2, -br.x / z2);
  const double ratio = br.ratio == 0 ? 1.0 : br.ratio;
  const cd unit =
      br.shift == 0 ? cd(1.0 / ratio) : std::polar(1.0 / ratio, br.shift * kDeg);  // conj(1/t)
  const cd ytt = ys + cd(0, br.b / 2);
  return {ytt / (ratio * ratio), -ys * unit, -ys * std::conj(unit), ytt};
}

}  // namespace remhart::grid
