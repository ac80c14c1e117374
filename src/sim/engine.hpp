#pragma once
// The step engine: profiles and scenario events set the network's injections and topology,
// each step solves the power flow (warm, reusing the factorisation while the topology stays),
// and the solution becomes per-phase samples at every measurement point — with a per-phase
// unbalance model, harmonics, frequency from the swing model, the transformer's temperature,
// sensor noise by accuracy class, quantisation, and labelled data faults.
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/measurement.hpp"
#include "grid/powerflow.hpp"
#include "sim/dynamics.hpp"
#include "sim/profiles.hpp"
#include "sim/scenario.hpp"
#include "sim/twin.hpp"

namespace remhart::sim {

enum class DataFault { none = 0, stuck, dropped };
std::string_view data_fault_name(DataFault f);

/// Ground truth for one device at one step.
struct Label {
  std::string event = "none";  ///< the scenario event acting on this device, or "none"
  Severity severity = Severity::none;
  DataFault data_fault = DataFault::none;
  bool operator==(const Label&) const = default;
};

/// One device's output at one step; `present` is false for a dropped sample or a de-energised
/// meter (which stops reporting).
struct Reading {
  bool present = true;
  core::Values values;
  Label label;
  /// The truth behind the values: the voltage unbalance of the meter's bus (NEMA MG-1: the
  /// largest deviation of a phase magnitude from their mean, % of the mean), before noise.
  double true_unbalance_pct = 0;
};

struct StepResult {
  core::TimeUs ts = 0;
  std::vector<Reading> readings;  ///< parallel to Twin::devices
  double frequency_hz = 0;
};

struct SimOptions {
  core::TimeUs start = 0;
  double step_s = 1;
  std::uint64_t seed = 1;
};

class Simulator {
 public:
  /// Throws grid::NetworkError for a twin that cannot be simulated.
  Simulator(const Twin& twin, Scenario scenario, SimOptions options);
  ~Simulator();

  /// Advances one step and returns its readings (the result is reused by the next call).
  const StepResult& step();

  // Truth of the last step, for tests and reports.
  const grid::PowerFlowResult& solution() const { return solution_; }
  /// Per bus of the network: consumption of its loads and output of its DER (MW).
  const std::vector<double>& load_mw() const { return load_p_; }
  const std::vector<double>& der_mw() const { return der_p_; }
  const TransformerThermal& transformer() const { return thermal_; }
  /// The network as the last step solved it: loads at their solved voltages as constant
  /// power, DER netted off, capacitor banks and event shunts on their buses.
  const grid::Network& network() const;
  bool transformer_failed() const { return transformer_failed_; }

 private:
  struct Impl;
  void set_injections(double t);
  void set_part_demand(double t);
  grid::PowerFlowResult solve_fault_step(
      const std::function<void(const std::vector<double>&)>& apply);
  void solve();
  void make_readings(double t);
  Twin twin_;
  Scenario sc_;
  SimOptions opt_;
  std::unique_ptr<Impl> m_;
  std::int64_t steps_ = 0;
  StepResult out_;
  grid::PowerFlowResult solution_;
  std::vector<double> load_p_, load_q_, der_p_;  // at the solved voltages
  std::vector<double> der_set_;                  // DER set-points, MW
  std::vector<char> energised_;
  TransformerThermal thermal_;
  bool transformer_failed_ = false;
  double incipient_since_s_ = -1;  ///< when the incipient winding fault began (−1: not yet)
  double incipient_ = 0;           ///< how far it has grown: 0 … 1 (then the transformer fails)
};

}  // namespace remhart::sim
