// grid::PowerFlow: a compiled model (detail/powerflow_model.hpp) and its solves — the starting
// point (the case's voltages, the last solution, or the DC estimate), Newton–Raphson (KLU, with
// chord steps once convergence is quadratic) or fast-decoupled iterations, reactive limits by
// switching PV buses to PQ, and the result: voltages, generator outputs, branch flows, losses.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "grid/detail/powerflow_model.hpp"

namespace remhart::grid {

namespace {

// Complex power into the branch at each end, MW / Mvar.
BranchFlow flow_through(const BranchAdmittance& y, cd vf, cd vt, double base_mva) {
  const cd sf = vf * std::conj(y.ff * vf + y.ft * vt) * base_mva;
  const cd st = vt * std::conj(y.tf * vf + y.tt * vt) * base_mva;
  return {sf.real(), sf.imag(), st.real(), st.imag()};
}

}  // namespace

PowerFlow::PowerFlow(Network net, bool distributed_slack)
    : net_(std::move(net)), impl_(std::make_unique<Impl>()) {
  impl_->distributed = distributed_slack;
  impl_->compile(net_);
}

PowerFlow::~PowerFlow() = default;

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
  PowerFlowResult r;
  const bool cold = !(warm && m.have_solution);
  m.start_point(net_, warm);
  auto& w = m.work;
  m.sbus(net_, w.s);
  w.ibus.resize(m.n);
  w.f.resize(static_cast<std::size_t>(m.nj));
  w.norm = 0;
  w.lambda = 0;
  if (m.distributed && opt.method != Method::newton_raphson) {
    r.message = "a distributed slack needs Newton-Raphson";
    return r;
  }
  m.mismatch(w.v, w.s, w.lambda, w.ibus, w.f, w.norm);
  r.converged = w.norm < opt.tolerance;
  if (cold && opt.start != Start::case_voltages && !r.converged) m.try_dc_start(net_, opt, r);
  if (opt.method == Method::fast_decoupled_xb && !r.converged) {
    m.iterate_fast_decoupled(net_, opt, r);
  }
  if (opt.method == Method::newton_raphson) m.iterate_newton(opt, r);
  if (!r.converged && r.message.empty()) {
    r.message = "no convergence in " + std::to_string(opt.max_iterations) + " iterations";
  }
  m.extract(net_, r);
  if (r.converged) {
    m.v = w.v;
    m.have_solution = true;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// Starting point: the case's voltages with generator set-points, or the last solution.
void PowerFlow::Impl::start_point(const Network& net_, bool warm) {
  auto& m = *this;
  auto& v = work.v;
  auto& vm = work.vm;
  auto& va = work.va;
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
}

bool PowerFlow::Impl::update(const PowerFlowOptions& opt, PowerFlowResult& r) {
  for (std::size_t k = 0; k < n; ++k) work.v[k] = std::polar(work.vm[k], work.va[k]);
  mismatch(work.v, work.s, work.lambda, work.ibus, work.f, work.norm);
  r.converged = work.norm < opt.tolerance;
  return std::isfinite(work.norm);
}

void PowerFlow::Impl::iterate_newton(const PowerFlowOptions& opt, PowerFlowResult& r) {
  auto& m = *this;
  auto& v = work.v;
  auto& vm = work.vm;
  auto& va = work.va;
  auto& ibus = work.ibus;
  auto& f = work.f;
  auto& dx = work.dx;
  auto& norm = work.norm;
  auto& lambda = work.lambda;
  const auto& s = work.s;
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
      m.jacobian_lu.solve(dx.data());
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
}

// The solution: voltages, generator outputs at reference and PV buses, branch flows, losses.
void PowerFlow::Impl::extract(const Network& net_, PowerFlowResult& r) {
  auto& m = *this;
  const auto& v = work.v;
  const auto& ibus = work.ibus;
  const auto& vm = work.vm;
  const auto& va = work.va;
  const double lambda = work.lambda;
  r.max_mismatch = work.norm;
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
    r.flows[k] = flow_through(m.branch_y[k], v[m.from[k]], v[m.to[k]], net_.base_mva);
    r.losses_mw += r.flows[k].p_from + r.flows[k].p_to;
  }
}

BranchFlows branch_flows(const Network& net, const std::vector<double>& vm,
                         const std::vector<double>& va_deg) {
  const BusIndex index(net.buses);
  BranchFlows out;
  out.flows.resize(net.branches.size());
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& br = net.branches[k];
    if (!br.in_service) continue;
    const auto f = index.at(br.from), t = index.at(br.to);
    out.flows[k] = flow_through(branch_admittance(br), std::polar(vm[f], va_deg[f] * kDeg),
                                std::polar(vm[t], va_deg[t] * kDeg), net.base_mva);
    out.losses_mw += out.flows[k].p_from + out.flows[k].p_to;
  }
  return out;
}

std::optional<Start> start_from_name(std::string_view name) {
  if (name == "auto") return Start::automatic;
  if (name == "case") return Start::case_voltages;
  if (name == "dc") return Start::dc;
  return std::nullopt;
}

}  // namespace remhart::grid
