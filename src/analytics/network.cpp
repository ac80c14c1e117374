#include "analytics/network.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <unordered_map>

#include "analytics/results.hpp"
#include "grid/contingency.hpp"

namespace remhart::analytics {

namespace {

using detail::number;
using nlohmann::json;

std::unordered_map<std::int64_t, std::size_t> index_of(const grid::Network& net) {
  std::unordered_map<std::int64_t, std::size_t> at;
  for (std::size_t k = 0; k < net.buses.size(); ++k) at.emplace(net.buses[k].id, k);
  return at;
}

double loading(const grid::Branch& b, const grid::BranchFlow& f) {
  if (!(b.rate_a > 0)) return std::numeric_limits<double>::quiet_NaN();
  return std::max(std::hypot(f.p_from, f.q_from), std::hypot(f.p_to, f.q_to)) / b.rate_a;
}

bool is_transformer(const grid::Network& net, const grid::Branch& b,
                    const std::unordered_map<std::int64_t, std::size_t>& at) {
  if (b.ratio != 0 || b.shift != 0) return true;
  const double a = net.buses[at.at(b.from)].base_kv, c = net.buses[at.at(b.to)].base_kv;
  return a > 0 && c > 0 && std::abs(a - c) > 1e-6 * std::max(a, c);
}

std::size_t reference_bus(const grid::Network& net) {
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    if (net.buses[k].type == grid::BusType::ref) return k;
  }
  throw grid::NetworkError("the network has no reference bus");
}

}  // namespace

grid::Network injections_of(const grid::Network& net, const BusState& state) {
  const auto at = index_of(net);
  const auto flows = grid::branch_flows(net, state.vm, state.va_deg);
  const std::size_t n = net.buses.size();
  std::vector<double> p(n, 0), q(n, 0);  // flowing out of each bus into its branches
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& b = net.branches[k];
    if (!b.in_service) continue;
    const auto& f = flows.flows[k];
    p[at.at(b.from)] += f.p_from;
    q[at.at(b.from)] += f.q_from;
    p[at.at(b.to)] += f.p_to;
    q[at.at(b.to)] += f.q_to;
  }
  grid::Network out = net;
  const std::size_t ref = reference_bus(net);
  for (std::size_t k = 0; k < n; ++k) {
    auto& bus = out.buses[k];
    const double v2 = state.vm[k] * state.vm[k];
    bus.vm = state.vm[k];
    bus.va = state.va_deg[k];
    if (k == ref) continue;
    bus.type = grid::BusType::pq;
    bus.pd = -(p[k] + bus.gs * v2);  // what the bus takes = − what it injects
    bus.qd = -(q[k] - bus.bs * v2);
  }
  for (auto& g : out.gens) {
    if (at.at(g.bus) == ref) {
      g.vg = state.vm[ref];
    } else {
      g.in_service = false;
    }
  }
  return out;
}

EnergyLoss energy_loss(const grid::Network& net, const BusState& state) {
  const auto at = index_of(net);
  const auto flows = grid::branch_flows(net, state.vm, state.va_deg);
  EnergyLoss r;
  std::vector<BranchLoss> all;
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& b = net.branches[k];
    if (!b.in_service) continue;
    const auto& f = flows.flows[k];
    BranchLoss l{b.from, b.to, is_transformer(net, b, at), 1000 * (f.p_from + f.p_to),
                 100 * loading(b, f)};
    (l.transformer ? r.transformers_kw : r.lines_kw) += l.kw;
    all.push_back(l);
  }
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    r.shunts_kw += 1000 * net.buses[k].gs * state.vm[k] * state.vm[k];
  }
  r.losses_kw = r.lines_kw + r.transformers_kw;
  r.losses_sigma_kw = 1000 * state.losses_sigma_mw;
  const auto base = injections_of(net, state);
  const std::size_t ref = reference_bus(net);
  double entering = 0;
  for (std::size_t k = 0; k < base.buses.size(); ++k) {
    if (k == ref) continue;
    r.demand_kw += 1000 * base.buses[k].pd;
  }
  entering = r.demand_kw + r.losses_kw;
  r.losses_pct = entering > 0 ? 100 * r.losses_kw / entering : 0;
  grid::PowerFlow pf(base);
  const auto solved = pf.solve();
  r.power_flow_losses_kw =
      solved.converged ? 1000 * solved.losses_mw : std::numeric_limits<double>::quiet_NaN();
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.kw > b.kw; });
  all.resize(std::min<std::size_t>(all.size(), 5));
  r.top = std::move(all);
  return r;
}

Controls twin_controls(const sim::Twin& twin, const grid::Network& net) {
  Controls c;
  const auto at = index_of(net);
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& b = net.branches[k];
    if (b.in_service && b.from == twin.transformer.from && b.to == twin.transformer.to) {
      c.taps.push_back(k);
    }
  }
  for (const auto& cap : twin.capacitors) {
    if (const auto it = at.find(cap.bus); it != at.end()) {
      c.capacitors.push_back({it->second, cap.kvar / 1000, cap.on});
    }
  }
  const auto inverter = [&](std::int64_t bus, double kw) {
    if (const auto it = at.find(bus); it != at.end() && kw > 0) {
      c.inverters.push_back({it->second, 0.44 * kw / 1000});
    }
  };
  for (const auto& pv : twin.pv) inverter(pv.bus, pv.peak_kw);
  for (const auto& b : twin.batteries) inverter(b.bus, b.power_kw);
  return c;
}

namespace {

// A live power flow of the network with the set-points applied, recompiled when a tap changes.
class Trial {
 public:
  Trial(const grid::Network& base, const Controls& c, double vmin, double vmax)
      : base_(base), c_(c), vmin_(vmin), vmax_(vmax) {}

  // Losses (MW) plus a penalty per p.u. of voltage outside the band; infinite when the power
  // flow fails.
  double cost(const SetPoints& s, grid::PowerFlowResult* out = nullptr) {
    if (!pf_ || s.tap_ratio != compiled_taps_) {
      grid::Network net = base_;
      for (std::size_t k = 0; k < c_.taps.size(); ++k)
        net.branches[c_.taps[k]].ratio = s.tap_ratio[k];
      pf_ = std::make_unique<grid::PowerFlow>(std::move(net));
      compiled_taps_ = s.tap_ratio;
    }
    auto& net = pf_->network();
    for (std::size_t k = 0; k < c_.capacitors.size(); ++k) {
      const auto& cap = c_.capacitors[k];
      const double own = base_.buses[cap.bus].bs - (cap.on ? cap.mvar : 0.0);
      pf_->set_shunt(cap.bus, net.buses[cap.bus].gs, own + (s.capacitor_on[k] ? cap.mvar : 0.0));
    }
    for (std::size_t k = 0; k < c_.inverters.size(); ++k) {
      const auto bus = c_.inverters[k].bus;
      net.buses[bus].qd = base_.buses[bus].qd - s.inverter_mvar[k];
    }
    ++power_flows;
    auto r = pf_->solve({}, true);
    if (!r.converged) r = pf_->solve();
    if (!r.converged) return std::numeric_limits<double>::infinity();
    double outside = 0;
    for (double v : r.vm) outside += std::max(0.0, vmin_ - v) + std::max(0.0, v - vmax_);
    const double c = r.losses_mw + 1e3 * outside;
    if (out) *out = std::move(r);
    return c;
  }
  int power_flows = 0;

 private:
  const grid::Network& base_;
  const Controls& c_;
  double vmin_, vmax_;
  std::unique_ptr<grid::PowerFlow> pf_;
  std::vector<double> compiled_taps_;
};

}  // namespace

SetPoints optimise_setpoints(const grid::Network& base, const Controls& c, double vmin, double vmax,
                             int max_passes) {
  SetPoints s;
  for (auto k : c.taps)
    s.tap_ratio.push_back(base.branches[k].ratio == 0 ? 1.0 : base.branches[k].ratio);
  for (const auto& cap : c.capacitors) s.capacitor_on.push_back(cap.on);
  s.inverter_mvar.assign(c.inverters.size(), 0.0);
  Trial trial(base, c, vmin, vmax);
  grid::PowerFlowResult r;
  double best = trial.cost(s, &r);
  if (!std::isfinite(best)) throw grid::NetworkError("the state's power flow did not converge");
  s.losses_before_kw = 1000 * r.losses_mw;
  const auto try_value = [&](auto& slot, auto value) {
    const auto old = slot;
    slot = value;
    const double cost = trial.cost(s);
    if (cost < best - 1e-9) {
      best = cost;
      return true;
    }
    slot = old;
    return false;
  };
  for (int pass = 0; pass < max_passes; ++pass) {
    bool changed = false;
    for (auto& ratio : s.tap_ratio) {
      for (int step = -8; step <= 8; ++step) changed |= try_value(ratio, 1.0 + step * 0.00625);
    }
    for (std::size_t k = 0; k < s.capacitor_on.size(); ++k) {
      bool on = s.capacitor_on[k];
      changed |= try_value(on, !on);
      s.capacitor_on[k] = on;
    }
    for (std::size_t k = 0; k < s.inverter_mvar.size(); ++k) {
      const double qmax = c.inverters[k].q_max_mvar;
      for (int step = -4; step <= 4; ++step)
        changed |= try_value(s.inverter_mvar[k], qmax * step / 4);
    }
    if (!changed) break;
  }
  trial.cost(s, &r);
  s.losses_after_kw = 1000 * r.losses_mw;
  s.saving_kw = s.losses_before_kw - s.losses_after_kw;
  s.saving_pct = s.losses_before_kw > 0 ? 100 * s.saving_kw / s.losses_before_kw : 0;
  s.v_min_after = *std::min_element(r.vm.begin(), r.vm.end());
  s.v_max_after = *std::max_element(r.vm.begin(), r.vm.end());
  s.feasible = s.v_min_after >= vmin - 1e-9 && s.v_max_after <= vmax + 1e-9;
  s.power_flows = trial.power_flows;
  return s;
}

void apply(grid::Network& net, const Controls& c, const SetPoints& s) {
  for (std::size_t k = 0; k < c.taps.size(); ++k) net.branches[c.taps[k]].ratio = s.tap_ratio[k];
  for (std::size_t k = 0; k < c.capacitors.size(); ++k) {
    const auto& cap = c.capacitors[k];
    net.buses[cap.bus].bs += (s.capacitor_on[k] ? cap.mvar : 0.0) - (cap.on ? cap.mvar : 0.0);
  }
  for (std::size_t k = 0; k < c.inverters.size(); ++k) {
    net.buses[c.inverters[k].bus].qd -= s.inverter_mvar[k];
  }
}

StabilityScore stability_score(const grid::Network& base, double frequency_dev_hz) {
  StabilityScore r;
  grid::ContingencyOptions opt;
  opt.threads = 1;
  const auto report = grid::run_n1(base, opt);
  const auto& solved = report.base;
  if (!solved.converged) throw grid::NetworkError("the state's power flow did not converge");
  const double vmin = *std::min_element(solved.vm.begin(), solved.vm.end());
  const double vmax = *std::max_element(solved.vm.begin(), solved.vm.end());
  double max_loading = 0;
  for (std::size_t k = 0; k < base.branches.size(); ++k) {
    const double l = loading(base.branches[k], solved.flows[k]);
    if (std::isfinite(l)) max_loading = std::max(max_loading, l);
  }
  // Load an outage islands: what the reference bus no longer reaches.
  const auto at = index_of(base);
  const std::size_t ref = reference_bus(base);
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> adj(base.buses.size());
  for (std::size_t k = 0; k < base.branches.size(); ++k) {
    const auto& b = base.branches[k];
    if (!b.in_service) continue;
    adj[at.at(b.from)].push_back({at.at(b.to), k});
    adj[at.at(b.to)].push_back({at.at(b.from), k});
  }
  const auto islanded_load = [&](std::size_t out) {
    std::vector<char> seen(base.buses.size(), 0);
    std::vector<std::size_t> stack = {ref};
    seen[ref] = 1;
    while (!stack.empty()) {
      const auto u = stack.back();
      stack.pop_back();
      for (const auto& [v, k] : adj[u]) {
        if (k == out || seen[v]) continue;
        seen[v] = 1;
        stack.push_back(v);
      }
    }
    double mw = 0;
    for (std::size_t k = 0; k < base.buses.size(); ++k) {
      if (!seen[k]) mw += std::max(0.0, base.buses[k].pd);
    }
    return mw;
  };
  std::size_t secure = 0;
  for (const auto& o : report.outages) {
    ++r.outages;
    if (o.islanded) {
      const double mw = islanded_load(o.branch);
      if (mw > 0) {
        ++r.islanding_outages;
        r.load_at_risk_mw = std::max(r.load_at_risk_mw, mw);
        continue;
      }
    }
    if (!o.converged || !o.violations.empty()) {
      ++r.violating_outages;
      continue;
    }
    ++secure;
  }
  const auto ramp = [](double x, double good, double bad) {  // 100 at good, 0 at bad
    return 100 * std::clamp((x - bad) / (good - bad), 0.0, 1.0);
  };
  const double v_score = std::min(ramp(vmin, 0.95, 0.90), ramp(vmax, 1.05, 1.10));
  r.factors = {StabilityScore::Factor{"lowest_voltage", vmin, "p.u.", v_score, 0.3},
               {"highest_loading", 100 * max_loading, "%", ramp(max_loading, 0.8, 1.0), 0.25},
               {"n_minus_1_secure_outages", r.outages ? 100.0 * secure / r.outages : 100.0, "%",
                r.outages ? 100.0 * secure / r.outages : 100.0, 0.25},
               {"frequency_deviation", std::abs(frequency_dev_hz), "Hz",
                std::isnan(frequency_dev_hz) ? std::numeric_limits<double>::quiet_NaN()
                                             : ramp(std::abs(frequency_dev_hz), 0.1, 0.5),
                0.2}};
  double total = 0, weights = 0;
  for (const auto& f : r.factors) {
    if (std::isnan(f.score)) continue;
    total += f.weight * f.score;
    weights += f.weight;
  }
  for (auto& f : r.factors) {
    f.weight = std::isnan(f.score) || weights == 0 ? 0 : f.weight / weights;
  }
  r.score = weights > 0 ? total / weights : 0;
  r.category = r.score >= 80 ? "secure" : r.score >= 50 ? "alert" : "at_risk";
  return r;
}

json to_json(const EnergyLoss& r) {
  json top = json::array();
  for (const auto& b : r.top) {
    top.push_back({{"from", b.from},
                   {"to", b.to},
                   {"transformer", b.transformer},
                   {"kw", b.kw},
                   {"loading_pct", number(b.loading_pct)}});
  }
  return {{"losses_kw", r.losses_kw},
          {"losses_sigma_kw", r.losses_sigma_kw},
          {"losses_pct", r.losses_pct},
          {"demand_kw", r.demand_kw},
          {"split_kw",
           {{"lines", r.lines_kw}, {"transformers", r.transformers_kw}, {"shunts", r.shunts_kw}}},
          {"power_flow_losses_kw", number(r.power_flow_losses_kw)},
          {"largest", std::move(top)}};
}

json to_json(const SetPoints& r, const grid::Network& net, const Controls& c) {
  json taps = json::array(), caps = json::array(), inv = json::array();
  for (std::size_t k = 0; k < c.taps.size(); ++k) {
    const auto& b = net.branches[c.taps[k]];
    taps.push_back({{"from", b.from}, {"to", b.to}, {"ratio", r.tap_ratio[k]}});
  }
  for (std::size_t k = 0; k < c.capacitors.size(); ++k) {
    caps.push_back({{"bus", net.buses[c.capacitors[k].bus].id},
                    {"kvar", 1000 * c.capacitors[k].mvar},
                    {"on", static_cast<bool>(r.capacitor_on[k])}});
  }
  for (std::size_t k = 0; k < c.inverters.size(); ++k) {
    inv.push_back({{"bus", net.buses[c.inverters[k].bus].id},
                   {"q_kvar", 1000 * r.inverter_mvar[k]},
                   {"q_max_kvar", 1000 * c.inverters[k].q_max_mvar}});
  }
  return {{"losses_before_kw", r.losses_before_kw},
          {"losses_after_kw", r.losses_after_kw},
          {"saving_kw", r.saving_kw},
          {"saving_pct", r.saving_pct},
          {"v_min_after_pu", r.v_min_after},
          {"v_max_after_pu", r.v_max_after},
          {"feasible", r.feasible},
          {"power_flows", r.power_flows},
          {"set_points", {{"taps", taps}, {"capacitors", caps}, {"inverters", inv}}}};
}

json to_json(const StabilityScore& r) {
  json factors = json::array();
  for (const auto& f : r.factors) {
    factors.push_back({{"name", f.name},
                       {"value", number(f.value)},
                       {"unit", f.unit},
                       {"score", number(f.score)},
                       {"weight", f.weight}});
  }
  return {{"score", r.score},
          {"category", r.category},
          {"risk_factors", std::move(factors)},
          {"n_minus_1",
           {{"outages", r.outages},
            {"islanding", r.islanding_outages},
            {"violating", r.violating_outages},
            {"largest_load_at_risk_mw", r.load_at_risk_mw}}}};
}

}  // namespace remhart::analytics
