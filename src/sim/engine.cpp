#include "sim/engine.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <stdexcept>
#include <unordered_map>

namespace remhart::sim {
namespace {

constexpr double kSqrt3 = 1.7320508075688772;
constexpr std::array<int, 4> kOrders = {5, 7, 11, 13};
constexpr std::array<double, 4> kLoadSpectrum = {0.20, 0.12, 0.07, 0.05};  // of the non-linear part
constexpr std::array<double, 4> kInverterSpectrum = {0.015, 0.010, 0.005, 0.004};  // of rating
constexpr double kBackgroundThdV = 0.8;  // % from the upstream grid
constexpr std::array<double, 3> kSourceUnbalance = {0.002, -0.001, -0.001};
constexpr double kLoadVoltageExpP = 1.0, kLoadVoltageExpQ = 2.0;  // loads partly constant-Z
constexpr double kInverterKneePu = 0.9;  // below it, DER output falls with the voltage
constexpr double kMeterRange = 10;       // × rated current, the most a meter reads
// A fully grown incipient winding fault: its losses, per unit of the rated load loss, and the
// current THD its arcing adds at the transformer's meters (percentage points, in quadrature).
constexpr double kIncipientLossPu = 1.5;
constexpr double kIncipientThdPct = 8;

// Rounds to a resolution of 1, 0.1, 0.01 … as a meter's display would; divides by the inverse so
// the result is the double nearest the decimal (6373.4, not 6373.400000000001).
double quantise(double x, double step) {
  const double per_unit = std::round(1 / step);
  return std::round(x * per_unit) / per_unit;
}

}  // namespace

std::string_view data_fault_name(DataFault f) {
  switch (f) {
    case DataFault::none:
      return "none";
    case DataFault::stuck:
      return "stuck";
    case DataFault::dropped:
      return "dropped";
  }
  return "none";
}

struct Simulator::Impl {
  // Radial structure from the reference bus.
  std::unordered_map<std::int64_t, std::size_t> index;
  std::size_t root = 0;
  std::vector<std::size_t> order;          // buses, parents first
  std::vector<std::ptrdiff_t> parent;      // bus index, −1 at the root
  std::vector<std::size_t> parent_branch;  // branch to the parent
  std::vector<int> tin, tout;              // Euler tour: a is an ancestor of b iff tin ⊆
  std::size_t transformer_branch = 0;

  struct DeviceState {
    ElementRef ref;
    std::size_t bus = 0;  // measured bus
    std::size_t pos = 0;  // bus whose subtree the device sees (branch: the lower end)
    bool branch_device = false;
    bool monitor = false;
    double v_base = 0;  // V line-to-neutral at 1 p.u.
    DataFault fault = DataFault::none;
    int fault_left = 0;
    bool have_last = false;
    core::Values last;
  };
  std::vector<DeviceState> devices;

  // Random streams (separate, so turning noise off does not change the loads).
  std::mt19937_64 rng_profile, rng_noise, rng_faults;
  std::vector<OuProcess> load_noise;
  CloudProcess cloud{0.3, 2, 60, 0.5};
  std::vector<WindProcess> wind;
  OuProcess wander{0.01, 60};
  OuProcess random_profile{0.2, 900};
  SwingModel swing{Dynamics{}};
  std::vector<double> soc;

  // Power flow on the current topology.
  std::unique_ptr<grid::PowerFlow> pf;
  std::vector<char> out_branches;
  std::vector<double> load_p0, load_q0;  // per bus, at 1 p.u. voltage (MW, Mvar)
  std::vector<double> each_p0, each_q0;  // per load, at 1 p.u. voltage
  std::vector<double> shunt_g, shunt_b;  // per bus, events (MW, Mvar at 1 p.u.)
  std::vector<double> vm_used;
  double source_vg = 1;

  // Per-step shares and harmonics.
  std::vector<std::array<double, 3>> weight;  // per bus: phase weights of the subtree
  std::vector<std::array<double, 4>> ih;      // per bus: harmonic currents of the subtree (p.u.)
  std::vector<std::array<double, 4>> ih_own;  // per bus: own harmonic injections
  std::vector<std::array<double, 3>> own_weight;
  std::vector<std::array<double, 3>> vph;         // per bus: phase voltages (p.u.)
  std::vector<double> thd_v;                      // per bus, %
  std::vector<std::array<double, 3>> load_share;  // per load, after imbalance events
  std::vector<double> load_nonlinear;
  std::vector<std::size_t> load_bus;

  bool ancestor(std::size_t a, std::size_t b) const {
    return tin[a] <= tin[b] && tout[b] <= tout[a];
  }
};

Simulator::Simulator(const Twin& twin, Scenario scenario, SimOptions options)
    : twin_(twin),
      sc_(std::move(scenario)),
      opt_(options),
      m_(std::make_unique<Impl>()),
      thermal_(twin.transformer) {
  validate(twin_);
  if (!(opt_.step_s > 0)) throw std::invalid_argument("the step must be positive");
  auto& m = *m_;
  const auto& net = twin_.network;
  const std::size_t n = net.buses.size();
  for (std::size_t k = 0; k < n; ++k) m.index[net.buses[k].id] = k;
  for (std::size_t k = 0; k < n; ++k) {
    if (net.buses[k].type == grid::BusType::ref) m.root = k;
  }
  // Tree by depth-first search from the reference bus.
  std::vector<std::vector<std::pair<std::size_t, std::size_t>>> adj(n);
  for (std::size_t b = 0; b < net.branches.size(); ++b) {
    const auto f = m.index.at(net.branches[b].from), t = m.index.at(net.branches[b].to);
    adj[f].push_back({t, b});
    adj[t].push_back({f, b});
  }
  m.parent.assign(n, -1);
  m.parent_branch.assign(n, 0);
  m.tin.assign(n, 0);
  m.tout.assign(n, 0);
  int clock = 0;
  std::vector<std::pair<std::size_t, std::size_t>> stack{{m.root, 0}};
  std::vector<char> seen(n, 0);
  seen[m.root] = 1;
  m.tin[m.root] = clock++;
  m.order.push_back(m.root);
  while (!stack.empty()) {
    auto& [u, next] = stack.back();
    if (next < adj[u].size()) {
      const auto [w, b] = adj[u][next++];
      if (seen[w]) continue;
      seen[w] = 1;
      m.parent[w] = static_cast<std::ptrdiff_t>(u);
      m.parent_branch[w] = b;
      m.tin[w] = clock++;
      m.order.push_back(w);
      stack.push_back({w, 0});
    } else {
      m.tout[u] = clock++;
      stack.pop_back();
    }
  }
  m.transformer_branch = *branch_index(net, {twin_.transformer.from, twin_.transformer.to});
  for (const auto& d : twin_.devices) {
    Impl::DeviceState s;
    s.ref = resolve_element(net, d.device.element);
    s.bus = m.index.at(s.ref.bus);
    s.branch_device = !s.ref.is_bus;
    if (s.branch_device) {
      const auto& br = net.branches[s.ref.branch];
      const auto f = m.index.at(br.from), t = m.index.at(br.to);
      s.pos = m.parent[t] == static_cast<std::ptrdiff_t>(f) ? t : f;
    } else {
      s.pos = s.bus;
    }
    s.monitor = d.device.kind == "transformer_monitor";
    s.v_base = net.buses[s.bus].base_kv * 1000 / kSqrt3;
    m.devices.push_back(s);
  }

  std::seed_seq seq{opt_.seed, opt_.seed >> 32, std::uint64_t{0x5eed}};
  std::array<std::uint64_t, 3> seeds{};
  seq.generate(seeds.begin(), seeds.end());
  m.rng_profile.seed(seeds[0]);
  m.rng_noise.seed(seeds[1]);
  m.rng_faults.seed(seeds[2]);
  for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
    m.load_noise.emplace_back(0.06, 1200);
    m.load_bus.push_back(m.index.at(twin_.loads[l].bus));
  }
  m.cloud =
      CloudProcess(sc_.cloudiness, sc_.transients_per_h, sc_.transient_s, sc_.transient_depth);
  for (const auto& w : twin_.wind) m.wind.emplace_back(w.mean_speed_ms);
  m.wander = OuProcess(sc_.dynamics.wander_hz, 60);
  m.swing = SwingModel(sc_.dynamics);
  for (const auto& b : twin_.batteries) m.soc.push_back(b.soc);
  for (const auto& g : net.gens) {
    if (m.index.at(g.bus) == m.root) m.source_vg = g.vg;
  }
  m.out_branches.assign(net.branches.size(), 0);
  m.vm_used.assign(n, 1.0);
  energised_.assign(n, 1);
  load_p_.assign(n, 0);
  load_q_.assign(n, 0);
  der_p_.assign(n, 0);
  der_set_.assign(n, 0);
  out_.readings.resize(twin_.devices.size());
}

Simulator::~Simulator() = default;

const StepResult& Simulator::step() {
  const double t = static_cast<double>(steps_) * opt_.step_s;
  set_injections(t);
  solve();
  make_readings(t);
  ++steps_;
  return out_;
}

void Simulator::set_injections(double t) {
  auto& m = *m_;
  const auto& net = twin_.network;
  const std::size_t n = net.buses.size();
  const double dt = opt_.step_s;
  const auto now = opt_.start + static_cast<core::TimeUs>(std::llround(t * core::kUsPerSecond));
  const Calendar cal = calendar(now);

  // The load level: a daily profile or the custom shapes.
  const double frac = sc_.duration_s && *sc_.duration_s > 0
                          ? std::clamp(t / *sc_.duration_s, 0.0, 1.0)
                          : std::clamp(t / 86400, 0.0, 1.0);
  const double random_level = m.random_profile.step(dt, m.rng_profile);
  auto level_of = [&](LoadClass cls) {
    if (sc_.load_profile == "constant") return 0.7;
    if (sc_.load_profile == "ramping_up") return 0.3 + 0.7 * frac;
    if (sc_.load_profile == "ramping_down") return 1.0 - 0.7 * frac;
    if (sc_.load_profile == "random") return std::clamp(0.7 + random_level, 0.1, 1.2);
    return load_shape(cls, cal);
  };
  double current_level = 1;
  if (sc_.current_pattern == "increasing") {
    current_level = sc_.current_min + (sc_.current_max - sc_.current_min) * frac;
  } else if (sc_.current_pattern == "decreasing") {
    current_level = sc_.current_max - (sc_.current_max - sc_.current_min) * frac;
  } else if (sc_.current_pattern == "spike") {
    std::uniform_real_distribution<double> u(0, 1);
    current_level = u(m.rng_profile) < 6.0 * dt / 3600 ? sc_.current_max * 1.5 : 1.0;
  }

  // Events in force.
  double cap_scale_all = 1, gen_loss = 0;
  m.shunt_g.assign(n, 0);
  m.shunt_b.assign(n, 0);
  std::vector<char> out(net.branches.size(), 0);
  std::vector<double> bus_scale(n, 1.0);
  m.load_share.resize(twin_.loads.size());
  m.load_nonlinear.resize(twin_.loads.size());
  for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
    m.load_share[l] = twin_.loads[l].phase_share;
    m.load_nonlinear[l] = std::min(1.0, twin_.loads[l].nonlinear * sc_.nonlinear_scale);
  }
  double vg = m.source_vg;
  if (sc_.voltage_pattern == "stable") {
    vg = (sc_.voltage_min_pu + sc_.voltage_max_pu) / 2;
  } else if (sc_.voltage_pattern == "fluctuating") {
    vg = (sc_.voltage_min_pu + sc_.voltage_max_pu) / 2 +
         (sc_.voltage_max_pu - sc_.voltage_min_pu) / 2 * std::sin(2 * std::numbers::pi * t / 600);
  } else if (sc_.voltage_pattern == "sag" || sc_.voltage_pattern == "swell") {
    const bool middle = frac >= 1.0 / 3 && frac < 2.0 / 3;
    vg = (sc_.voltage_min_pu + sc_.voltage_max_pu) / 2;
    if (middle) vg = sc_.voltage_pattern == "sag" ? sc_.voltage_min_pu : sc_.voltage_max_pu;
  }
  for (const auto& e : sc_.events) {
    if (e.kind == EventKind::cloud) {
      m.cloud.set_transients(e.rate, e.length_s, e.value);
      continue;
    }
    if (!e.active(t)) continue;
    const auto below = e.bus ? m.index.at(e.bus) : m.root;
    switch (e.kind) {
      case EventKind::fault: {
        const double kv = net.buses[below].base_kv;
        m.shunt_g[below] += kv * kv / e.value;  // MW at 1 p.u. through e.value Ω
        break;
      }
      case EventKind::trip:
        out[e.branch] = 1;
        break;
      case EventKind::capacitor:
        m.shunt_b[below] += e.value / 1000;
        break;
      case EventKind::load_scale:
        if (e.bus == 0) {
          cap_scale_all *= e.value;
        } else {
          for (std::size_t k = 0; k < n; ++k) {
            if (m.ancestor(below, k)) bus_scale[k] *= e.value;
          }
        }
        break;
      case EventKind::generation_loss:
        gen_loss += e.value;
        break;
      case EventKind::harmonics:
        for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
          if (m.ancestor(below, m.load_bus[l])) m.load_nonlinear[l] = e.value;
        }
        break;
      case EventKind::imbalance:
        for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
          if (!m.ancestor(below, m.load_bus[l])) continue;
          auto& s = m.load_share[l];
          const double moved = std::min(e.value, s[1] + s[2]);
          const double from_b = moved * s[1] / (s[1] + s[2]);
          s = {s[0] + moved, s[1] - from_b, s[2] - (moved - from_b)};
        }
        break;
      case EventKind::voltage_setpoint:
        vg = e.value;
        break;
      case EventKind::frequency_offset:
      case EventKind::cloud:
      case EventKind::load_target:        // on the loads, below
      case EventKind::single_phase_load:  // on the loads, below
        break;
    }
  }
  if (transformer_failed_) out[m.transformer_branch] = 1;

  // Loads and DER.
  m.load_p0.assign(n, 0);
  m.load_q0.assign(n, 0);
  der_set_.assign(n, 0);
  m.each_p0.assign(twin_.loads.size(), 0);
  m.each_q0.assign(twin_.loads.size(), 0);
  for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
    const auto& ld = twin_.loads[l];
    const auto b = m.load_bus[l];
    const double noise = 1 + m.load_noise[l].step(dt, m.rng_profile);
    const double p = ld.peak_kw / 1000 * level_of(ld.cls) * noise * sc_.load_scale * current_level *
                     cap_scale_all * bus_scale[b];
    const double pf = sc_.power_factor.value_or(ld.power_factor);
    m.each_p0[l] = std::max(0.0, p);
    m.each_q0[l] = m.each_p0[l] * std::tan(std::acos(pf));
  }
  set_part_demand(t);
  for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
    m.load_p0[m.load_bus[l]] += m.each_p0[l];
    m.load_q0[m.load_bus[l]] += m.each_q0[l];
  }
  const double sun = clear_sky(cal, twin_.latitude_deg) * m.cloud.step(dt, m.rng_profile);
  for (const auto& pv : twin_.pv)
    der_set_[m.index.at(pv.bus)] += pv.peak_kw / 1000 * sun * sc_.pv_scale;
  for (std::size_t w = 0; w < twin_.wind.size(); ++w) {
    der_set_[m.index.at(twin_.wind[w].bus)] +=
        twin_.wind[w].rated_kw / 1000 * m.wind[w].step(dt, m.rng_profile);
  }
  for (std::size_t b = 0; b < twin_.batteries.size(); ++b) {
    const auto& bat = twin_.batteries[b];
    double p = 0;  // + discharge
    if (cal.hour >= 10 && cal.hour < 15 && m.soc[b] < 0.95) p = -0.6 * bat.power_kw;
    if (cal.hour >= 17 && cal.hour < 21 && m.soc[b] > 0.15) p = 0.8 * bat.power_kw;
    const double energy = p * dt / 3600 / (p > 0 ? 0.95 : 1 / 0.95);
    m.soc[b] = std::clamp(m.soc[b] - energy / bat.energy_kwh, 0.0, 1.0);
    der_set_[m.index.at(bat.bus)] += p / 1000;
  }
  for (const auto& c : twin_.capacitors) {
    if (c.on) m.shunt_b[m.index.at(c.bus)] += c.kvar / 1000;
  }

  // Topology: rebuild the solver only when a branch opened or closed.
  if (out != m.out_branches || !m.pf) {
    m.out_branches = out;
    std::vector<std::vector<std::pair<std::size_t, std::size_t>>> adj(n);
    for (std::size_t b = 0; b < net.branches.size(); ++b) {
      if (out[b] || !net.branches[b].in_service) continue;
      const auto f = m.index.at(net.branches[b].from), to = m.index.at(net.branches[b].to);
      adj[f].push_back({to, b});
      adj[to].push_back({f, b});
    }
    energised_.assign(n, 0);
    std::vector<std::size_t> stack{m.root};
    energised_[m.root] = 1;
    while (!stack.empty()) {
      const auto u = stack.back();
      stack.pop_back();
      for (const auto& [w, b] : adj[u]) {
        if (!energised_[w]) {
          energised_[w] = 1;
          stack.push_back(w);
        }
      }
    }
    grid::Network live = net;
    for (std::size_t b = 0; b < live.branches.size(); ++b) {
      if (out[b]) live.branches[b].in_service = false;
    }
    for (std::size_t k = 0; k < n; ++k) {
      if (!energised_[k]) live.buses[k].type = grid::BusType::isolated;
    }
    const auto previous = m.pf ? m.pf->voltages() : std::vector<std::complex<double>>{};
    m.pf = std::make_unique<grid::PowerFlow>(std::move(live));
    if (!previous.empty()) m.pf->set_voltages(previous);
  }
  for (auto& g : m.pf->network().gens) {
    if (m.index.at(g.bus) == m.root) g.vg = vg;
  }
  m.swing.step(dt, gen_loss);
}

// Events that set the demand of a part of the network, whatever the time of day: a lateral
// driven to a total apparent power (an overload of its rating), and single-phase load added on
// phase a (spread over the part's loads by their peaks, its phase shares moved accordingly).
void Simulator::set_part_demand(double t) {
  auto& m = *m_;
  for (const auto& e : sc_.events) {
    if ((e.kind != EventKind::load_target && e.kind != EventKind::single_phase_load) ||
        !e.active(t)) {
      continue;
    }
    const auto below = e.bus ? m.index.at(e.bus) : m.root;
    double s_mva = 0, peak_kw = 0;
    for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
      if (!m.ancestor(below, m.load_bus[l])) continue;
      s_mva += std::hypot(m.each_p0[l], m.each_q0[l]);
      peak_kw += twin_.loads[l].peak_kw;
    }
    for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
      if (!m.ancestor(below, m.load_bus[l])) continue;
      if (e.kind == EventKind::load_target) {
        const double k = s_mva > 0 ? e.value / s_mva : 0;
        m.each_p0[l] *= k;
        m.each_q0[l] *= k;
      } else if (peak_kw > 0) {
        const double added = e.value / 1000 * twin_.loads[l].peak_kw / peak_kw;  // MW
        const double p = m.each_p0[l];
        auto& share = m.load_share[l];
        if (p + added > 0) {
          share = {(share[0] * p + added) / (p + added), share[1] * p / (p + added),
                   share[2] * p / (p + added)};
        }
        m.each_p0[l] = p + added;
      }
    }
  }
}

// A step the warm solve did not reach (a fault just applied): from flat voltages, the fault
// shunts grow geometrically to their value, each solve starting from the last, the loads
// following the voltage. A fault too deep for constant-current loads (their power evaluated at
// the last voltages may be more than the network can carry) is solved with the loads and the
// inverters as constant impedances — linear, so it always solves, and how stalled motors and
// current-limited inverters behave in a deep sag anyway.
grid::PowerFlowResult Simulator::solve_fault_step(
    const std::function<void(const std::vector<double>&)>& apply) {
  auto& m = *m_;
  const std::size_t n = twin_.network.buses.size();
  grid::PowerFlowResult r;
  std::vector<double> vm = m.vm_used;
  m.pf->set_voltages(std::vector<std::complex<double>>(n, {1.0, 0.0}));
  for (double k = 1.0 / 1024; k <= 1 && (k == 1.0 / 1024 || r.converged); k *= 2) {
    for (std::size_t b = 0; b < n; ++b) m.pf->set_shunt(b, m.shunt_g[b] * k, m.shunt_b[b]);
    for (int settle = 0; settle < 4; ++settle) {
      apply(vm);
      r = m.pf->solve({}, true);
      if (!r.converged) break;
      double moved = 0;
      for (std::size_t b = 0; b < n; ++b) moved = std::max(moved, std::fabs(r.vm[b] - vm[b]));
      vm = r.vm;
      if (moved < 2e-3) break;
    }
  }
  if (r.converged) return r;
  auto& live = m.pf->network();
  for (std::size_t b = 0; b < n; ++b) {
    const double der_g = der_set_[b] / (kInverterKneePu * kInverterKneePu);
    m.pf->set_shunt(b, m.shunt_g[b] + (energised_[b] ? m.load_p0[b] - der_g : 0),
                    m.shunt_b[b] - (energised_[b] ? m.load_q0[b] : 0));
    live.buses[b].pd = 0;
    live.buses[b].qd = 0;
  }
  m.pf->set_voltages(std::vector<std::complex<double>>(n, {1.0, 0.0}));
  r = m.pf->solve({}, true);
  if (!r.converged) return r;
  for (std::size_t b = 0; b < n; ++b) {
    const double v2 = energised_[b] ? r.vm[b] * r.vm[b] : 0;
    load_p_[b] = m.load_p0[b] * v2;
    load_q_[b] = m.load_q0[b] * v2;
    der_p_[b] = der_set_[b] * v2 / (kInverterKneePu * kInverterKneePu);
  }
  return r;
}

const grid::Network& Simulator::network() const {
  return m_->pf->network();
}

void Simulator::solve() {
  auto& m = *m_;
  const std::size_t n = twin_.network.buses.size();
  auto& live = m.pf->network();
  auto apply = [&](const std::vector<double>& vm) {
    for (std::size_t k = 0; k < n; ++k) {
      const double v = energised_[k] ? vm[k] : 0;
      load_p_[k] = m.load_p0[k] * std::pow(v, kLoadVoltageExpP);
      load_q_[k] = m.load_q0[k] * std::pow(v, kLoadVoltageExpQ);
      // Inverters hold their power down to 0.9 p.u., then their current limit: P ∝ V below.
      der_p_[k] = der_set_[k] * std::min(1.0, v / kInverterKneePu);
      live.buses[k].pd = energised_[k] ? load_p_[k] - der_p_[k] : 0;
      live.buses[k].qd = energised_[k] ? load_q_[k] : 0;
    }
  };
  // Loads depend on voltage: evaluate them at the last voltages, solve, and repeat while the
  // voltages moved (a fault step); ordinary steps solve once.
  for (std::size_t k = 0; k < n; ++k) m.pf->set_shunt(k, m.shunt_g[k], m.shunt_b[k]);
  for (int round = 0; round < 8; ++round) {
    apply(m.vm_used);
    auto r = m.pf->solve({}, true);
    if (!r.converged) r = solve_fault_step(apply);
    if (!r.converged) throw std::runtime_error("the power flow did not converge: " + r.message);
    double moved = 0;
    for (std::size_t k = 0; k < n; ++k) {
      if (energised_[k]) moved = std::max(moved, std::fabs(r.vm[k] - m.vm_used[k]));
    }
    m.vm_used = r.vm;
    solution_ = std::move(r);
    if (moved < 2e-3) break;
  }
  // Final loads at the solved voltages are those of the last round's evaluation; keep
  // load_p_ consistent with what the power flow used.
}

void Simulator::make_readings(double t) {
  auto& m = *m_;
  const auto& net = twin_.network;
  const std::size_t n = net.buses.size();
  const double dt = opt_.step_s;
  const double base = net.base_mva;
  const auto& vm = solution_.vm;

  // Phase weights and harmonic currents of every subtree, leaves first.
  m.own_weight.assign(n, {0, 0, 0});
  m.ih_own.assign(n, {0, 0, 0, 0});
  for (std::size_t l = 0; l < twin_.loads.size(); ++l) {
    const auto b = m.load_bus[l];
    if (!energised_[b]) continue;
    const double s_mva = std::hypot(m.each_p0[l] * std::pow(m.vm_used[b], kLoadVoltageExpP),
                                    m.each_q0[l] * std::pow(m.vm_used[b], kLoadVoltageExpQ));
    for (int ph = 0; ph < 3; ++ph) m.own_weight[b][ph] += s_mva * m.load_share[l][ph];
    const double i1 = s_mva / base / std::max(vm[b], 0.05);
    for (std::size_t h = 0; h < kOrders.size(); ++h) {
      m.ih_own[b][h] += i1 * m.load_nonlinear[l] * kLoadSpectrum[h];
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (!energised_[k] || der_p_[k] == 0) continue;
    for (int ph = 0; ph < 3; ++ph) m.own_weight[k][ph] += std::fabs(der_p_[k]) / 3;
  }
  for (const auto& pv : twin_.pv) {
    const auto b = m.index.at(pv.bus);
    if (!energised_[b] || der_p_[b] <= 0) continue;
    for (std::size_t h = 0; h < kOrders.size(); ++h) {
      m.ih_own[b][h] += pv.peak_kw / 1000 / base * kInverterSpectrum[h];
    }
  }
  m.weight = m.own_weight;
  m.ih = m.ih_own;
  for (auto it = m.order.rbegin(); it != m.order.rend(); ++it) {
    const auto k = *it;
    if (m.parent[k] < 0) continue;
    const auto p = static_cast<std::size_t>(m.parent[k]);
    for (int ph = 0; ph < 3; ++ph) m.weight[p][ph] += m.weight[k][ph];
    for (std::size_t h = 0; h < kOrders.size(); ++h) m.ih[p][h] += m.ih[k][h];
  }
  auto share_of = [&](const std::array<double, 3>& w) {
    const double s = w[0] + w[1] + w[2];
    return s > 0 ? std::array<double, 3>{w[0] / s, w[1] / s, w[2] / s}
                 : std::array<double, 3>{1.0 / 3, 1.0 / 3, 1.0 / 3};
  };

  // Phase voltages and harmonic voltages down the tree.
  m.vph.assign(n, {0, 0, 0});
  m.thd_v.assign(n, 0);
  std::vector<std::array<double, 4>> vh(n, {0, 0, 0, 0});
  for (const auto k : m.order) {
    if (!energised_[k]) continue;
    if (m.parent[k] < 0) {
      for (int ph = 0; ph < 3; ++ph) m.vph[k][ph] = vm[k] * (1 + kSourceUnbalance[ph]);
    } else {
      const auto p = static_cast<std::size_t>(m.parent[k]);
      const auto& br = net.branches[m.parent_branch[k]];
      const double ratio = br.ratio == 0 ? 1 : br.ratio;
      const double factor = m.index.at(br.from) == p ? 1 / ratio : ratio;
      const double drop = vm[p] * factor - vm[k];
      const auto share = share_of(m.weight[k]);
      for (int ph = 0; ph < 3; ++ph) {
        m.vph[k][ph] = m.vph[p][ph] * factor - drop * 3 * share[ph];
      }
      for (std::size_t h = 0; h < kOrders.size(); ++h) {
        vh[k][h] = vh[p][h] + kOrders[h] * br.x * m.ih[k][h];
      }
    }
    double sum = kBackgroundThdV * kBackgroundThdV / 1e4;
    for (std::size_t h = 0; h < kOrders.size(); ++h) sum += vh[k][h] * vh[k][h];
    m.thd_v[k] = 100 * std::sqrt(sum) / std::max(vm[k], 0.05);
  }

  // Frequency, transformer temperature and ageing.
  const double f0 = sc_.dynamics.frequency_hz;
  double offset = 0;
  if (sc_.frequency_pattern == "stable") {
    offset = (sc_.frequency_min_hz + sc_.frequency_max_hz) / 2 - f0;
  } else if (sc_.frequency_pattern == "drift") {
    const double frac =
        sc_.duration_s && *sc_.duration_s > 0 ? std::clamp(t / *sc_.duration_s, 0.0, 1.0) : 0.0;
    offset = sc_.frequency_min_hz + (sc_.frequency_max_hz - sc_.frequency_min_hz) * frac - f0;
  }
  for (const auto& e : sc_.events) {
    if (e.kind == EventKind::frequency_offset && e.active(t)) offset += e.value;
  }
  const double freq = m.swing.frequency_hz() + m.wander.step(dt, m.rng_profile) + offset;
  out_.frequency_hz = freq;
  const auto& tb = solution_.flows[m.transformer_branch];
  const double k_load = std::hypot(tb.p_from, tb.q_from) * 1000 / twin_.transformer.rated_kva;
  const auto now = opt_.start + static_cast<core::TimeUs>(std::llround(t * core::kUsPerSecond));
  const double ambient = ambient_temperature(calendar(now)) + sc_.ambient_offset_c;
  // Aged through its life, the insulation gives way: an incipient winding fault (turn-to-turn
  // arcing) grows over `fault_development_s` — its losses heat the winding, its arcing adds
  // current harmonics — until the transformer fails.
  if (!transformer_failed_ && incipient_since_s_ < 0 &&
      thermal_.life_consumed_h() >= sc_.life_remaining_h) {
    incipient_since_s_ = t;
  }
  incipient_ = incipient_since_s_ < 0 ? 0
               : sc_.fault_development_s > 0
                   ? std::min(1.0, (t - incipient_since_s_) / sc_.fault_development_s)
                   : 1.0;
  if (steps_ == 0) {
    thermal_.settle(k_load, ambient);
  } else {
    thermal_.step(dt, transformer_failed_ ? 0 : k_load, ambient,
                  transformer_failed_ ? 0 : kIncipientLossPu * incipient_);
  }
  const bool failing_now = !transformer_failed_ && incipient_ >= 1;

  // Scenario labels in force, most severe first per device.
  struct Active {
    const Event* e;
    std::size_t below;
  };
  std::vector<Active> active;
  for (const auto& e : sc_.events) {
    if (e.kind == EventKind::cloud ? m.cloud.in_transient() : e.active(t)) {
      active.push_back({&e, e.bus ? m.index.at(e.bus) : m.root});
    }
  }
  std::string pattern_label;
  if ((sc_.voltage_pattern == "sag" || sc_.voltage_pattern == "swell") && sc_.duration_s) {
    const double frac = t / *sc_.duration_s;
    if (frac >= 1.0 / 3 && frac < 2.0 / 3) pattern_label = "voltage_" + sc_.voltage_pattern;
  }

  // Readings.
  const double delta_f = freq - f0;
  for (std::size_t d = 0; d < m.devices.size(); ++d) {
    auto& ds = m.devices[d];
    const auto& dev = twin_.devices[d];
    auto& r = out_.readings[d];
    r.label = Label{};
    r.true_unbalance_pct = 0;
    const bool on_transformer = ds.branch_device && ds.ref.branch == m.transformer_branch;
    for (const auto& a : active) {
      const bool in_part =
          a.e->bus == 0 || m.ancestor(a.below, ds.pos) || m.ancestor(ds.pos, a.below);
      // A fault's voltage dip and the unbalance of single-phase load reach every meter of the
      // feeder, also on the laterals beside the struck one: graded below by what each sees.
      const bool feeder_wide = a.e->kind == EventKind::fault || a.e->label == "phase_imbalance";
      if (!in_part && !feeder_wide) continue;
      Severity sev = a.e->severity;
      if (a.e->label == "voltage_sag" || a.e->label == "voltage_swell" ||
          (!in_part && a.e->kind == EventKind::fault)) {
        // IEEE 1159 at this meter: outside ±10 % a sag or swell, beyond ±50 % a deep one.
        const double dev_v = std::fabs(vm[ds.bus] - 1);
        sev = dev_v >= 0.5 ? Severity::severe : dev_v >= 0.1 ? Severity::moderate : Severity::minor;
      } else if (a.e->label == "frequency_excursion") {
        const double df = std::fabs(delta_f);
        sev = df >= 0.5 ? Severity::severe : df >= 0.2 ? Severity::moderate : Severity::minor;
      }
      if (r.label.event == "none" || sev > r.label.severity) {
        r.label.event = a.e->label;
        r.label.severity = sev;
      }
    }
    if (!pattern_label.empty() && r.label.event == "none") {
      r.label.event = pattern_label;
      r.label.severity = Severity::minor;
    }
    if (sc_.id == "transformer_degradation" && on_transformer && r.label.event == "none") {
      const double faa = thermal_.aging_factor();
      if (faa > 1) {
        r.label.event = "transformer_degradation";
        r.label.severity = faa > 50   ? Severity::severe
                           : faa > 10 ? Severity::moderate
                                      : Severity::minor;
      }
    }
    if (transformer_failed_) {
      r.label.event = "transformer_failure";
      r.label.severity = Severity::critical;
    }

    // A meter without supply stops reporting.
    if (!energised_[ds.bus]) {
      r.present = false;
      continue;
    }
    r.present = true;
    auto& v = r.values;
    double p_mw = 0, q_mvar = 0;
    std::array<double, 3> share;
    double thd_i = 0;
    if (ds.branch_device) {
      const auto& fl = solution_.flows[ds.ref.branch];
      p_mw = ds.ref.from_end ? fl.p_from : fl.p_to;
      q_mvar = ds.ref.from_end ? fl.q_from : fl.q_to;
      share = share_of(m.weight[ds.pos]);
      const double i1 = std::hypot(p_mw, q_mvar) / base / std::max(vm[ds.bus], 0.05);
      double sum = 0;
      for (std::size_t h = 0; h < kOrders.size(); ++h) sum += m.ih[ds.pos][h] * m.ih[ds.pos][h];
      thd_i = i1 > 1e-9 ? 100 * std::sqrt(sum) / i1 : 0;
      if (on_transformer) thd_i = std::hypot(thd_i, kIncipientThdPct * incipient_);
    } else {
      p_mw = load_p_[ds.bus] - der_p_[ds.bus];
      q_mvar = load_q_[ds.bus];
      share = share_of(m.own_weight[ds.bus]);
      const double i1 = std::hypot(p_mw, q_mvar) / base / std::max(vm[ds.bus], 0.05);
      double sum = 0;
      for (std::size_t h = 0; h < kOrders.size(); ++h)
        sum += m.ih_own[ds.bus][h] * m.ih_own[ds.bus][h];
      thd_i = i1 > 1e-9 ? 100 * std::sqrt(sum) / i1 : 0;
    }
    const double sigma = sc_.noise != 0 ? dev.device.accuracy_class / 100 / 3 : 0;
    std::normal_distribution<double> nrm(0, 1);
    double peak_amps = 0;
    for (int ph = 0; ph < 3; ++ph) {
      const double volts = m.vph[ds.bus][ph] * ds.v_base;
      const double p = p_mw * 1e6 * share[ph], q = q_mvar * 1e6 * share[ph];
      const double amps = volts > 0 ? std::hypot(p, q) / volts : 0;
      peak_amps = std::max(peak_amps, amps);
      const double phi = std::atan2(q, p);
      const double vn = volts * (1 + sigma * nrm(m.rng_noise));
      // A meter measures up to 10 × its rated current (its CT's range, SPEC §3): fault
      // currents beyond read at the top of the range.
      const double in =
          std::min(amps * (1 + sigma * nrm(m.rng_noise)), kMeterRange * dev.device.rated_current);
      const double phin = phi + sigma * nrm(m.rng_noise);
      v.v[ph] = quantise(std::max(0.0, vn), 0.1);
      v.i[ph] = quantise(std::max(0.0, in), 0.01);
      v.p[ph] = quantise(vn * in * std::cos(phin), 1);
      v.q[ph] = quantise(vn * in * std::sin(phin), 1);
      v.thd_v[ph] = quantise(
          std::clamp(m.thd_v[ds.bus] * (1 + 2 * sigma * nrm(m.rng_noise)), 0.0, 100.0), 0.01);
      v.thd_i[ph] =
          quantise(std::clamp(thd_i * (1 + 2 * sigma * nrm(m.rng_noise)), 0.0, 100.0), 0.01);
    }
    // Overload and imbalance graded by what this meter sees, without noise: its highest phase
    // current against its rating; its voltage unbalance against EN 50160's 2 %.
    {
      const auto& ph = m.vph[ds.bus];
      const double mean = (ph[0] + ph[1] + ph[2]) / 3;
      double unbalance = 0;
      for (double x : ph) unbalance = std::max(unbalance, std::fabs(x - mean) / mean);
      r.true_unbalance_pct = 100 * unbalance;
    }
    if (r.label.event == "overload") {
      const double loading = peak_amps / dev.device.rated_current;
      r.label.severity = loading > 1.2 ? Severity::severe
                         : loading > 1 ? Severity::moderate
                                       : Severity::minor;
    } else if (r.label.event == "phase_imbalance") {
      const double unbalance = r.true_unbalance_pct / 100;
      r.label.severity = unbalance > 0.04   ? Severity::severe
                         : unbalance > 0.02 ? Severity::moderate
                                            : Severity::minor;
    }
    v.f = quantise(freq + (sc_.noise != 0 ? 0.0005 * nrm(m.rng_noise) : 0.0), 0.001);
    v.temp = ds.monitor ? quantise(thermal_.hot_spot_c(), 0.1) : core::kAbsent;

    // Data faults: a stuck value repeats the last report; a dropped sample is missing.
    if (ds.fault == DataFault::none && sc_.data_fault_rate_per_h > 0) {
      std::uniform_real_distribution<double> u(0, 1);
      if (u(m.rng_faults) < sc_.data_fault_rate_per_h * dt / 3600) {
        const bool stuck = ds.have_last && u(m.rng_faults) < 0.5;
        ds.fault = stuck ? DataFault::stuck : DataFault::dropped;
        const double seconds = stuck ? 10 + 50 * u(m.rng_faults) : 1 + 4 * u(m.rng_faults);
        ds.fault_left = std::max(1, static_cast<int>(std::round(seconds / dt)));
      }
    }
    if (ds.fault != DataFault::none) {
      r.label.data_fault = ds.fault;
      if (ds.fault == DataFault::stuck) v = ds.last;
      if (ds.fault == DataFault::dropped) r.present = false;
      if (--ds.fault_left <= 0) ds.fault = DataFault::none;
    }
    if (r.present && r.label.data_fault != DataFault::stuck) {
      ds.last = v;
      ds.have_last = true;
    }
  }
  out_.ts = opt_.start + static_cast<core::TimeUs>(std::llround(t * core::kUsPerSecond));
  if (failing_now) transformer_failed_ = true;  // from the next step on
}

}  // namespace remhart::sim
