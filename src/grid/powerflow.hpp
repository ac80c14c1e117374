#pragma once
// AC power flow: Newton–Raphson in polar form. The Jacobian is assembled directly in compressed
// sparse columns from the admittance matrix's pattern and factorised with KLU; the symbolic
// analysis is done once per topology (when the solver is built) and the numeric factorisation is
// refactored in place on later iterations and solves, so warm solves of a changed operating
// point cost only numeric work. Once convergence is quadratic, steps reuse the factorised
// Jacobian while each still cuts the mismatch tenfold (chord steps). Cold solves start from the
// better of the case's voltages and a DC power-flow estimate. Non-convergence is a result, not
// an exception.
#include <complex>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grid/network.hpp"

namespace remhart::grid {

enum class LinearSolver {
  klu,                 ///< KLU, symbolic analysis reused, numeric refactorisation (the default)
  sparse_lu_baseline,  ///< Eigen SparseLU analysed and factorised afresh every iteration (a
                       ///< reference for benchmarks)
};

enum class Method {
  newton_raphson,     ///< full Newton–Raphson (quadratic convergence)
  fast_decoupled_xb,  ///< fast-decoupled, XB variant: constant B' and B'' factorised once
};

/// Where a cold solve starts (a warm one starts from the last solution).
enum class Start {
  automatic,      ///< the better (smaller largest mismatch) of the case's voltages and the DC
                  ///< estimate: the case's magnitudes with DC power-flow angles
  case_voltages,  ///< the case's voltages with generator set-points (MATPOWER's start)
  dc,             ///< the DC estimate (the case's voltages where the DC model is singular)
};

/// "auto", "case" or "dc" (the names the CLI and the API take); nullopt for anything else.
std::optional<Start> start_from_name(std::string_view name);

struct PowerFlowOptions {
  Method method = Method::newton_raphson;
  double tolerance = 1e-8;  ///< largest power mismatch accepted, p.u.
  int max_iterations = 30;  ///< Newton steps, or P–Q half-iteration pairs for fast-decoupled
  LinearSolver linear_solver = LinearSolver::klu;  ///< Newton–Raphson only
  /// Switch PV buses whose generators leave their reactive limits to PQ (Q held at the limit)
  /// and solve again, until none does (MATPOWER's enforce_q_lims; off by default, as there).
  bool enforce_q_limits = false;
  Start start = Start::automatic;
};

struct BranchFlow {
  double p_from = 0, q_from = 0, p_to = 0, q_to = 0;  ///< MW / Mvar into the branch at each end
};

/// Branch flows and series losses at given bus voltages (per unit and degrees, network order),
/// such as a state estimate's; out-of-service branches carry nothing.
struct BranchFlows {
  std::vector<BranchFlow> flows;
  double losses_mw = 0;
};
BranchFlows branch_flows(const Network& net, const std::vector<double>& vm,
                         const std::vector<double>& va_deg);

struct PowerFlowResult {
  bool converged = false;
  int iterations = 0;
  double max_mismatch = 0;  ///< p.u., at the returned voltages
  double seconds = 0;
  std::string message;             ///< why it did not converge
  std::vector<double> vm, va_deg;  ///< per bus, in network order
  std::vector<double> pg, qg;      ///< per generator, MW / Mvar (reference P and PV Q solved)
  std::vector<BranchFlow> flows;   ///< per branch; zero when out of service
  double losses_mw = 0;            ///< series losses of all branches
  std::vector<std::int64_t> switched_to_pq;  ///< with enforce_q_limits: buses held at a Q limit
  double slack_mw = 0;                       ///< with distributed slack: the total shared out, MW
};

class PowerFlow {
 public:
  /// Validates and compiles the network: bus types, islands, admittance matrix, Jacobian
  /// pattern and its symbolic factorisation. Throws NetworkError. With `distributed_slack`, the
  /// power balance is shared by every in-service generator in proportion to its participation
  /// factor (Gen::participation, or else its finite Pmax, or else equally); this needs one
  /// island, and Newton–Raphson.
  explicit PowerFlow(Network net, bool distributed_slack = false);
  ~PowerFlow();
  PowerFlow(const PowerFlow&) = delete;
  PowerFlow& operator=(const PowerFlow&) = delete;

  /// Solves from the voltages in the network (cold) or from the last solution (warm).
  PowerFlowResult solve(const PowerFlowOptions& options = {}, bool warm = false);

 private:
  PowerFlowResult solve_once(const PowerFlowOptions& options, bool warm);
  PowerFlowResult solve_q_limited(const PowerFlowOptions& options, bool warm);

 public:
  /// The model; loads and generator set-points may be changed between solves (same topology).
  Network& network() { return net_; }
  const Network& network() const { return net_; }

  /// Switches a branch without recompiling (the admittance pattern keeps every branch).
  void set_branch_in_service(std::size_t branch, bool in_service);
  /// Changes a bus's shunt (MW / Mvar at 1 p.u.: a capacitor bank, a fault) without
  /// recompiling; set it through here, not through network().
  void set_shunt(std::size_t bus, double gs, double bs);
  /// Buses not connected to a reference bus through in-service branches (islanded).
  std::vector<std::size_t> unreachable_buses() const;
  /// MATPOWER's DC power flow with the current loads and generation: bus angles in degrees, in
  /// network order (the reference buses at their case angles); empty when the DC model is
  /// singular (a bus reached only through resistance).
  std::vector<double> dc_angles();
  /// The last solution (the start of the next warm solve), and setting it.
  std::vector<std::complex<double>> voltages() const;
  void set_voltages(std::vector<std::complex<double>> v);

 private:
  struct Impl;
  Network net_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace remhart::grid
