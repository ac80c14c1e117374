#pragma once
// N-1 contingency analysis over lines and transformers: each outage is solved warm from the
// base case (same compiled model, the branch switched off in place), islanding is reported
// instead of solved, and thermal and voltage violations are listed per contingency. Outages are
// shared among worker threads, each with its own compiled model.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "grid/network.hpp"
#include "grid/powerflow.hpp"

namespace remhart::grid {

struct ContingencyOptions {
  PowerFlowOptions power_flow;
  std::vector<std::size_t> branches;  ///< outages to study; empty = every in-service branch
  unsigned threads = 0;               ///< 0 = hardware concurrency
  double loading_limit = 1.0;         ///< fraction of rate_a above which a branch is overloaded
  bool keep_voltages = false;         ///< return every bus voltage per outage (for comparisons)
  /// Polled between outages: true stops the study early (a time budget, a caller that left).
  std::function<bool()> stop;
};

struct Violation {
  enum class Kind { thermal, voltage_low, voltage_high };
  Kind kind;
  std::size_t element;  ///< branch index (thermal) or bus index (voltage)
  double value;         ///< loading (fraction of rate_a) or voltage (p.u.)
  double limit;
};

struct ContingencyResult {
  std::size_t branch = 0;  ///< the outage (index into Network::branches)
  bool converged = false;
  bool islanded = false;
  std::size_t islanded_buses = 0;
  int iterations = 0;
  std::string message;
  std::vector<Violation> violations;
  std::vector<double> vm, va_deg;  ///< with keep_voltages
};

struct ContingencyReport {
  PowerFlowResult base;
  std::vector<ContingencyResult> outages;  ///< in the order studied
  bool complete = true;  ///< false when `stop` ended the study: `outages` holds those done
  double seconds = 0;
};

/// Throws NetworkError when the network is invalid; a base case that does not converge is
/// reported with no outages studied.
ContingencyReport run_n1(const Network& net, const ContingencyOptions& options = {});

/// Violations of a solved state: branch loading over `loading_limit` × rate_a, and bus voltages
/// outside [vmin, vmax].
std::vector<Violation> find_violations(const Network& net, const PowerFlowResult& r,
                                       double loading_limit);

}  // namespace remhart::grid
