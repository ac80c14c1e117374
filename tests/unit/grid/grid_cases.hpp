#pragma once
// Small networks and helpers shared by the grid tests: an analytic two-bus case, a tiny MATPOWER
// file, the standard cases (from ../shared when present) and noisy measurements of a solution.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "grid/io/matpower.hpp"
#include "grid/network.hpp"
#include "grid/powerflow.hpp"
#include "grid/state_estimation.hpp"
#include "shared_data.hpp"

namespace remhart::grid::testing {

constexpr double kPi = std::numbers::pi;

// The exact solution of a load P + jQ (p.u.) fed through a pure reactance x from a source
// V1∠θ1: |V2|² solves V⁴ + (2Qx − V1²)V² + x²(P² + Q²) = 0 (the upper root), and
// sin(θ1 − θ2) = P x / (V1 V2).
inline std::pair<double, double> radial_solution(double v1, double theta1, double x, double p,
                                                 double q) {
  const double a = v1 * v1 - 2 * q * x;
  const double v2sq = (a + std::sqrt(a * a - 4 * x * x * (p * p + q * q))) / 2;
  const double v2 = std::sqrt(v2sq);
  return {v2, theta1 - std::asin(p * x / (v1 * v2))};
}

inline Network two_bus(double x, double pd_mw, double qd_mvar, double ratio = 0, double shift = 0) {
  Network n;
  n.base_mva = 100;
  n.buses = {{1, BusType::ref, 0, 0, 0, 0, 1.0, 0, 11, 1.1, 0.9, "", {}},
             {2, BusType::pq, pd_mw, qd_mvar, 0, 0, 1.0, 0, 11, 1.1, 0.9, "", {}}};
  Branch br;
  br.from = 1;
  br.to = 2;
  br.x = x;
  br.ratio = ratio;
  br.shift = shift;
  n.branches = {br};
  Gen g;
  g.bus = 1;
  g.vg = 1.0;
  n.gens = {g};
  return n;
}

inline const char* kTiny = R"(function mpc = tiny
mpc.version = '2';
mpc.baseMVA = 100;
%% bus data
mpc.bus = [
	1	3	0	0	0	0	1	1	0	11	1	1.1	0.9;
	2	1	50	20	0	0	1	1	0	11	1	1.1	0.9; % a load
];
mpc.gen = [
	1	0	0	Inf	-Inf	1.0	100	1	100	0	0	0	0	0	0	0	0	0	0	0	0;
];
mpc.branch = [
	1	2	0.01	0.1	0.02	0	0	0	0	0	1	-360	360;
];
mpc.bus_name = {
	'one';
	'two';
};
)";

// Measurements of a solved case: every |V|, P/Q injection and from-end P/Q flow, with noise of
// the given standard deviations (fixed seed).
inline std::vector<Measurement> measure(const Network& net, const PowerFlowResult& r, double sv,
                                        double sp, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, 1);
  std::vector<Measurement> ms;
  const double base = net.base_mva;
  std::vector<double> p(net.buses.size(), 0), q(net.buses.size(), 0);
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    p[k] = -net.buses[k].pd;
    q[k] = -net.buses[k].qd;
  }
  std::map<std::int64_t, std::size_t> idx;
  for (std::size_t k = 0; k < net.buses.size(); ++k) idx[net.buses[k].id] = k;
  for (std::size_t gi = 0; gi < net.gens.size(); ++gi) {
    if (!net.gens[gi].in_service) continue;
    p[idx[net.gens[gi].bus]] += r.pg[gi];
    q[idx[net.gens[gi].bus]] += r.qg[gi];
  }
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    ms.push_back({Measurement::Kind::vm, k, r.vm[k] + sv * g(rng), sv});
    ms.push_back({Measurement::Kind::p_injection, k, p[k] / base + sp * g(rng), sp});
    ms.push_back({Measurement::Kind::q_injection, k, q[k] / base + sp * g(rng), sp});
  }
  for (std::size_t b = 0; b < net.branches.size(); ++b) {
    if (!net.branches[b].in_service) continue;
    ms.push_back({Measurement::Kind::p_flow_from, b, r.flows[b].p_from / base + sp * g(rng), sp});
    ms.push_back({Measurement::Kind::q_flow_from, b, r.flows[b].q_from / base + sp * g(rng), sp});
  }
  return ms;
}

inline Network case_or_tiny(const char* name) {
  if (std::filesystem::exists(testkit::matpower_dir() / (std::string(name) + ".m"))) {
    return io::read_matpower((testkit::matpower_dir() / (std::string(name) + ".m")).string());
  }
  return io::parse_matpower(kTiny, "tiny");
}

/// A MATPOWER solution file (bus_i,type,base_kv,vm_pu,va_deg).
struct Reference {
  double vm, va;
};

inline std::map<std::int64_t, Reference> read_solution(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header: bus_i,type,base_kv,vm_pu,va_deg
  std::map<std::int64_t, Reference> out;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string f[5];
    for (auto& x : f) std::getline(ss, x, ',');
    out[std::stoll(f[0])] = {std::stod(f[3]), std::stod(f[4])};
  }
  return out;
}

}  // namespace remhart::grid::testing
