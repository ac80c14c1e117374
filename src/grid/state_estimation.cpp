#include "grid/state_estimation.hpp"

#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <optional>
#include <vector>

#include "grid/admittance.hpp"

namespace remhart::grid {

using cd = std::complex<double>;

namespace {

constexpr double kDeg = std::numbers::pi / 180.0;

// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - 0.02425) return -normal_quantile(1 - p);
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

struct Model {
  const Network& net;
  std::size_t n = 0;
  std::vector<std::size_t> from, to;
  std::vector<BranchAdmittance> y;
  Eigen::SparseMatrix<cd, Eigen::RowMajor> ybus;
  std::vector<int> ang;  // state index of Va_k, or -1 for reference buses
  int nx = 0;

  explicit Model(const Network& network) : net(network) {
    const BusIndex index = validate(net);
    n = net.buses.size();
    std::vector<Eigen::Triplet<cd>> t;
    for (std::size_t k = 0; k < n; ++k) {
      t.emplace_back(static_cast<int>(k), static_cast<int>(k),
                     cd(net.buses[k].gs, net.buses[k].bs) / net.base_mva);
    }
    for (const auto& br : net.branches) {
      from.push_back(index.at(br.from));
      to.push_back(index.at(br.to));
      y.push_back(br.in_service ? branch_admittance(br) : BranchAdmittance{});
      const int f = static_cast<int>(from.back()), tt = static_cast<int>(to.back());
      t.emplace_back(f, f, y.back().ff);
      t.emplace_back(f, tt, y.back().ft);
      t.emplace_back(tt, f, y.back().tf);
      t.emplace_back(tt, tt, y.back().tt);
    }
    ybus.resize(static_cast<int>(n), static_cast<int>(n));
    ybus.setFromTriplets(t.begin(), t.end());
    ang.assign(n, -1);
    bool ref_seen = false;
    for (std::size_t k = 0; k < n; ++k) {
      if (net.buses[k].type == BusType::ref && !ref_seen) {
        ref_seen = true;  // the first reference bus fixes the angles
        continue;
      }
      ang[k] = nx++;
    }
    if (!ref_seen) throw NetworkError("state estimation needs a reference bus");
    na = nx;
    nx += static_cast<int>(n);  // every magnitude
  }
  int na = 0;  // angle states; magnitudes follow
  int mag(std::size_t k) const { return na + static_cast<int>(k); }

  // h(x) and H for the measurements at voltages v.
  void evaluate(const std::vector<Measurement>& ms, const std::vector<cd>& v, Eigen::VectorXd& h,
                Eigen::SparseMatrix<double>& jac) const {
    const int nm = static_cast<int>(ms.size());
    h.resize(nm);
    std::vector<cd> ibus(n);
    for (int i = 0; i < static_cast<int>(n); ++i) {
      cd acc = 0;
      for (Eigen::SparseMatrix<cd, Eigen::RowMajor>::InnerIterator it(ybus, i); it; ++it) {
        acc += it.value() * v[static_cast<std::size_t>(it.col())];
      }
      ibus[static_cast<std::size_t>(i)] = acc;
    }
    std::vector<Eigen::Triplet<double>> t;
    auto put = [&](int row, int col, double value) {
      if (col >= 0) t.emplace_back(row, col, value);
    };
    // Writes d(re or im of S)/dVa_k and /dVm_k.
    auto put_s = [&](int row, bool imag, std::size_t k, cd d_va, cd d_vm) {
      put(row, ang[k], imag ? d_va.imag() : d_va.real());
      put(row, mag(k), imag ? d_vm.imag() : d_vm.real());
    };
    for (int r = 0; r < nm; ++r) {
      const auto& m = ms[static_cast<std::size_t>(r)];
      using K = Measurement::Kind;
      switch (m.kind) {
        case K::vm:
          h[r] = std::abs(v[m.element]);
          put(r, mag(m.element), 1.0);
          break;
        case K::p_injection:
        case K::q_injection: {
          const bool im = m.kind == K::q_injection;
          const std::size_t i = m.element;
          const cd s = v[i] * std::conj(ibus[i]);
          h[r] = im ? s.imag() : s.real();
          for (Eigen::SparseMatrix<cd, Eigen::RowMajor>::InnerIterator it(ybus,
                                                                          static_cast<int>(i));
               it; ++it) {
            const auto k = static_cast<std::size_t>(it.col());
            const cd yv = it.value() * v[k];
            cd d_va = cd(0, -1) * v[i] * std::conj(yv);
            cd d_vm = v[i] * std::conj(yv / std::abs(v[k]));
            if (k == i) {
              d_va += cd(0, 1) * v[i] * std::conj(ibus[i]);
              d_vm += std::conj(ibus[i]) * v[i] / std::abs(v[i]);
            }
            put_s(r, im, k, d_va, d_vm);
          }
          break;
        }
        default: {
          const bool at_from = m.kind == K::p_flow_from || m.kind == K::q_flow_from;
          const bool im = m.kind == K::q_flow_from || m.kind == K::q_flow_to;
          const std::size_t b = m.element;
          // S = Va conj(Ya Va + Yb Vb) seen from end a.
          const std::size_t a = at_from ? from[b] : to[b], o = at_from ? to[b] : from[b];
          const cd ya = at_from ? y[b].ff : y[b].tt, yb = at_from ? y[b].ft : y[b].tf;
          const cd cur = ya * v[a] + yb * v[o];
          const cd s = v[a] * std::conj(cur);
          h[r] = im ? s.imag() : s.real();
          const cd j(0, 1);
          put_s(r, im, a, j * v[a] * std::conj(cur) - j * v[a] * std::conj(ya * v[a]),
                v[a] / std::abs(v[a]) * std::conj(cur) +
                    v[a] * std::conj(ya * v[a] / std::abs(v[a])));
          put_s(r, im, o, -j * v[a] * std::conj(yb * v[o]),
                v[a] * std::conj(yb * v[o] / std::abs(v[o])));
          break;
        }
      }
    }
    jac.resize(nm, nx);
    jac.setFromTriplets(t.begin(), t.end());
  }
};

struct Solve {
  bool converged = false;
  int iterations = 0;
  std::vector<cd> v;
  Eigen::VectorXd residual;  // z − h
  Eigen::SparseMatrix<double> jac;
};

Solve gauss_newton(const Model& model, const std::vector<Measurement>& ms,
                   const EstimationOptions& opt) {
  const std::size_t n = model.n;
  Solve s;
  s.v.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    s.v[k] = std::polar(
        1.0, model.net.buses[k].type == BusType::ref ? model.net.buses[k].va * kDeg : 0.0);
  }
  Eigen::VectorXd z(static_cast<int>(ms.size())), w(static_cast<int>(ms.size())), h;
  for (std::size_t r = 0; r < ms.size(); ++r) {
    z[static_cast<int>(r)] = ms[r].value;
    w[static_cast<int>(r)] = 1.0 / (ms[r].sigma * ms[r].sigma);
  }
  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> ldlt;
  bool analysed = false;
  while (s.iterations < opt.max_iterations) {
    ++s.iterations;
    model.evaluate(ms, s.v, h, s.jac);
    s.residual = z - h;
    const Eigen::SparseMatrix<double> ht = s.jac.transpose();
    const Eigen::SparseMatrix<double> gain = ht * w.asDiagonal() * s.jac;
    if (!analysed) {
      ldlt.analyzePattern(gain);
      analysed = true;
    }
    ldlt.factorize(gain);
    const auto& d = ldlt.vectorD();
    const double dmax = d.cwiseAbs().maxCoeff();
    if (ldlt.info() != Eigen::Success || d.cwiseAbs().minCoeff() <= 1e-10 * std::max(1.0, dmax)) {
      throw NetworkError(
          "the measurements do not observe the whole network (the gain matrix is singular): add "
          "measurements");
    }
    const Eigen::VectorXd dx = ldlt.solve(ht * w.asDiagonal() * s.residual);
    for (std::size_t k = 0; k < n; ++k) {
      double vm = std::abs(s.v[k]), va = std::arg(s.v[k]);
      if (model.ang[k] >= 0) va += dx[model.ang[k]];
      vm += dx[model.mag(k)];
      s.v[k] = std::polar(vm, va);
    }
    if (dx.cwiseAbs().maxCoeff() < opt.tolerance) {
      s.converged = true;
      model.evaluate(ms, s.v, h, s.jac);
      s.residual = z - h;
      break;
    }
  }
  return s;
}

// The states' covariance G⁻¹ where it is needed: Takahashi's equations on the LDLᵀ factor give
// its entries on L's pattern — with Z = G⁻¹ (permuted), Z_jj = 1/d_j − Σ_k L_kj Z_kj and
// Z_ij = −Σ_k L_kj Z_ik over the rows k > j of column j, columns from the last; the pattern is
// closed under this recurrence, so it costs about what the factorisation does. That covers every
// variance and the covariance of any two states coupled by a measurement (a branch's ends); other
// entries, and quadratic forms of dense vectors, take a solve.
class Covariance {
 public:
  Covariance(const std::vector<Measurement>& ms, const Solve& s) {
    Eigen::VectorXd w(static_cast<int>(ms.size()));
    for (std::size_t r = 0; r < ms.size(); ++r) {
      w[static_cast<int>(r)] = 1 / (ms[r].sigma * ms[r].sigma);
    }
    const Eigen::SparseMatrix<double> ht = s.jac.transpose();
    ldlt_.compute(ht * w.asDiagonal() * s.jac);
    l_ = ldlt_.matrixL().nestedExpression();  // unit lower, by column
    l_.makeCompressed();
    const auto& d = ldlt_.vectorD();
    const int nx = static_cast<int>(l_.rows());
    const int* outer = l_.outerIndexPtr();
    const int* inner = l_.innerIndexPtr();
    const double* lx = l_.valuePtr();
    z_.assign(static_cast<std::size_t>(l_.nonZeros()), 0.0);
    zdiag_.assign(static_cast<std::size_t>(nx), 0.0);
    for (int j = nx - 1; j >= 0; --j) {
      int first = outer[j];
      while (first < outer[j + 1] && inner[first] <= j) ++first;  // strictly below the diagonal
      for (int p = first; p < outer[j + 1]; ++p) {
        double sum = 0;
        for (int q = first; q < outer[j + 1]; ++q) sum += lx[q] * permuted(inner[p], inner[q]);
        z_[static_cast<std::size_t>(p)] = -sum;
      }
      double sum = 0;
      for (int q = first; q < outer[j + 1]; ++q) sum += lx[q] * z_[static_cast<std::size_t>(q)];
      zdiag_[static_cast<std::size_t>(j)] = 1 / d[j] - sum;
    }
  }

  /// Cov(state a, state b).
  double at(int a, int b) const {
    const auto& perm = ldlt_.permutationP().indices();
    if (const auto v = on_pattern(perm[a], perm[b])) return *v;
    Eigen::VectorXd e = Eigen::VectorXd::Zero(l_.rows());
    e[b] = 1;
    return ldlt_.solve(e)[a];
  }
  /// gᵀ G⁻¹ g.
  double quadratic(const Eigen::VectorXd& g) const { return g.dot(ldlt_.solve(g)); }

 private:
  std::optional<double> on_pattern(int i, int k) const {
    if (i == k) return zdiag_[static_cast<std::size_t>(i)];
    const int c = std::min(i, k), r = std::max(i, k);
    const int* b = l_.innerIndexPtr() + l_.outerIndexPtr()[c];
    const int* e = l_.innerIndexPtr() + l_.outerIndexPtr()[c + 1];
    const int* p = std::lower_bound(b, e, r);
    if (p == e || *p != r) return std::nullopt;
    return z_[static_cast<std::size_t>(p - l_.innerIndexPtr())];
  }
  double permuted(int i, int k) const { return *on_pattern(i, k); }  // closed: always there

  Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> ldlt_;
  Eigen::SparseMatrix<double> l_;
  std::vector<double> z_, zdiag_;
};

// Deviations of every in-service branch's P, Q and apparent power S = √(P² + Q²) at its from
// end (hᵀ Cov h over the four states of its ends; for S, h = (P·h_P + Q·h_Q) / S to first
// order), and of the total series losses (one solve).
void flow_deviations(const Model& model, const std::vector<cd>& v, const Covariance& cov,
                     EstimationResult& out) {
  using K = Measurement::Kind;
  const auto& net = model.net;
  std::vector<Measurement> flows;
  for (std::size_t b = 0; b < net.branches.size(); ++b) {
    if (!net.branches[b].in_service) continue;
    for (const auto kind : {K::p_flow_from, K::q_flow_from, K::p_flow_to}) {
      flows.push_back({kind, b, 0, 1});
    }
  }
  Eigen::VectorXd h;
  Eigen::SparseMatrix<double> jac;
  model.evaluate(flows, v, h, jac);
  const Eigen::SparseMatrix<double, Eigen::RowMajor> rows = jac;
  const auto covariance = [&](int r1, int r2) {  // Cov(h[r1], h[r2])
    double sum = 0;
    for (Eigen::SparseMatrix<double, Eigen::RowMajor>::InnerIterator a(rows, r1); a; ++a) {
      for (Eigen::SparseMatrix<double, Eigen::RowMajor>::InnerIterator b(rows, r2); b; ++b) {
        sum += a.value() * b.value() * cov.at(static_cast<int>(a.col()), static_cast<int>(b.col()));
      }
    }
    return sum;
  };
  out.p_from_sigma_mw.assign(net.branches.size(), 0);
  out.q_from_sigma_mvar.assign(net.branches.size(), 0);
  out.s_from_sigma_mva.assign(net.branches.size(), 0);
  Eigen::VectorXd losses = Eigen::VectorXd::Zero(jac.cols());
  for (std::size_t r = 0; r < flows.size(); r += 3) {
    const auto b = flows[r].element;
    const int row = static_cast<int>(r);
    const double var_p = std::max(0.0, covariance(row, row));
    const double var_q = std::max(0.0, covariance(row + 1, row + 1));
    out.p_from_sigma_mw[b] = std::sqrt(var_p) * net.base_mva;
    out.q_from_sigma_mvar[b] = std::sqrt(var_q) * net.base_mva;
    const double p = h[row], q = h[row + 1], s = std::hypot(p, q);
    // At no flow S has no gradient: its deviation is then that of the larger of P and Q.
    const double var_s =
        s > 1e-12 ? (p * p * var_p + q * q * var_q + 2 * p * q * covariance(row, row + 1)) / (s * s)
                  : std::max(var_p, var_q);
    out.s_from_sigma_mva[b] = std::sqrt(std::max(0.0, var_s)) * net.base_mva;
    losses +=
        Eigen::VectorXd(rows.row(row).transpose()) + Eigen::VectorXd(rows.row(row + 2).transpose());
  }
  out.losses_sigma_mw = std::sqrt(std::max(0.0, cov.quadratic(losses))) * net.base_mva;
}

}  // namespace

double chi2_quantile(double confidence, double k) {
  const double zq = normal_quantile(confidence);
  const double c = 2.0 / (9.0 * k);
  return k * std::pow(1 - c + zq * std::sqrt(c), 3);
}

EstimationResult estimate_state(const Network& net, std::vector<Measurement> ms,
                                const EstimationOptions& opt) {
  const Model model(net);
  for (std::size_t r = 0; r < ms.size(); ++r) {
    const auto& m = ms[r];
    const bool flow = m.kind != Measurement::Kind::vm && m.kind != Measurement::Kind::p_injection &&
                      m.kind != Measurement::Kind::q_injection;
    if (m.element >= (flow ? net.branches.size() : net.buses.size()) || !(m.sigma > 0) ||
        !std::isfinite(m.value)) {
      throw NetworkError(
          "measurement " + std::to_string(r) +
          ": unknown element, or a value or sigma that is not a finite positive number");
    }
  }
  std::vector<std::size_t> original(ms.size());
  for (std::size_t r = 0; r < ms.size(); ++r) original[r] = r;

  EstimationResult out;
  std::optional<EstimationResult> before;  // the estimate before the last removal
  for (int round = 0;; ++round) {
    Solve s;
    try {
      if (static_cast<int>(ms.size()) <= model.nx) {
        throw NetworkError(
            "the measurements do not observe the whole network: " + std::to_string(ms.size()) +
            " measurements for " + std::to_string(model.nx) + " states");
      }
      s = gauss_newton(model, ms, opt);
    } catch (const NetworkError&) {
      // Removing the suspect left the rest unable to observe the network: it was critical after
      // all, so the estimate with it stands (its bad data detected, not removed).
      if (before) return *before;
      throw;
    }
    out.converged = s.converged;
    out.iterations = s.iterations;
    out.vm.resize(model.n);
    out.va_deg.resize(model.n);
    for (std::size_t k = 0; k < model.n; ++k) {
      out.vm[k] = std::abs(s.v[k]);
      out.va_deg[k] = std::arg(s.v[k]) / kDeg;
    }
    out.objective = 0;
    for (std::size_t r = 0; r < ms.size(); ++r) {
      const double e = s.residual[static_cast<int>(r)] / ms[r].sigma;
      out.objective += e * e;
    }
    out.chi2_limit = chi2_quantile(opt.confidence, static_cast<double>(ms.size()) - model.nx);
    if (!s.converged) {
      out.message = "no convergence in " + std::to_string(opt.max_iterations) + " iterations";
      return out;
    }
    const bool bad = out.objective > out.chi2_limit;
    if (round == 0) out.bad_data_detected = bad;
    // The estimate is final: its deviations from the gain matrix's inverse.
    const auto final_estimate = [&] {
      const Covariance cov(ms, s);
      out.vm_sigma.assign(model.n, 0);
      out.va_sigma_deg.assign(model.n, 0);
      for (std::size_t k = 0; k < model.n; ++k) {
        out.vm_sigma[k] = std::sqrt(std::max(0.0, cov.at(model.mag(k), model.mag(k))));
        if (model.ang[k] >= 0) {
          out.va_sigma_deg[k] = std::sqrt(std::max(0.0, cov.at(model.ang[k], model.ang[k]))) / kDeg;
        }
      }
      flow_deviations(model, s.v, cov, out);
      return out;
    };
    if (!opt.bad_data || !bad || round >= opt.max_removals) return final_estimate();

    // Largest normalised residual: r_i / sqrt(Ω_ii), Ω = R − H G⁻¹ Hᵀ.
    Eigen::VectorXd w(static_cast<int>(ms.size()));
    for (std::size_t r = 0; r < ms.size(); ++r)
      w[static_cast<int>(r)] = 1 / (ms[r].sigma * ms[r].sigma);
    const Eigen::SparseMatrix<double> ht = s.jac.transpose();
    const Eigen::SparseMatrix<double> gain = ht * w.asDiagonal() * s.jac;
    Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> ldlt(gain);
    const Eigen::SparseMatrix<double, Eigen::RowMajor> rows = s.jac;
    std::size_t worst = 0;
    double worst_rn = 0;
    for (std::size_t r = 0; r < ms.size(); ++r) {
      const Eigen::VectorXd hi = Eigen::VectorXd(rows.row(static_cast<int>(r)).transpose());
      const double omega = ms[r].sigma * ms[r].sigma - hi.dot(ldlt.solve(hi));
      if (omega <= 1e-12 * ms[r].sigma * ms[r].sigma) continue;  // critical: not identifiable
      const double rn = std::abs(s.residual[static_cast<int>(r)]) / std::sqrt(omega);
      if (rn > worst_rn) {
        worst_rn = rn;
        worst = r;
      }
    }
    if (worst_rn <= opt.residual_limit) return final_estimate();
    before = final_estimate();
    out.removed.push_back(original[worst]);
    ms.erase(ms.begin() + static_cast<std::ptrdiff_t>(worst));
    original.erase(original.begin() + static_cast<std::ptrdiff_t>(worst));
  }
}

}  // namespace remhart::grid
