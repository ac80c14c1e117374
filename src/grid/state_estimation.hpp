#pragma once
// Weighted-least-squares state estimation (Gauss–Newton on the sparse gain matrix) from voltage
// magnitudes, P/Q injections and P/Q branch flows with per-measurement standard deviations; an
// observability check; chi-square detection of bad data and identification by the largest
// normalised residual, removing the culprit and estimating again.
#include <cstddef>
#include <string>
#include <vector>

#include "grid/network.hpp"

namespace remhart::grid {

struct Measurement {
  enum class Kind { vm, p_injection, q_injection, p_flow_from, q_flow_from, p_flow_to, q_flow_to };
  Kind kind;
  std::size_t element;  ///< bus index (vm, injections) or branch index (flows)
  double value;         ///< p.u. (powers on the network's base_mva)
  double sigma;         ///< standard deviation, p.u.
};

struct EstimationOptions {
  double tolerance = 1e-8;  ///< largest state update accepted as converged
  int max_iterations = 50;
  bool bad_data = true;         ///< detect, identify and remove gross errors
  double confidence = 0.99;     ///< of the chi-square test
  double residual_limit = 3.0;  ///< normalised residual above which a measurement is bad
  int max_removals = 10;
};

struct EstimationResult {
  bool converged = false;
  int iterations = 0;              ///< Gauss–Newton steps of the final estimate
  std::vector<double> vm, va_deg;  ///< per bus
  /// Per bus, the standard deviations of the estimate (from the gain matrix's inverse at the
  /// solution: what the measurements' deviations leave uncertain); 0 for the reference angle.
  std::vector<double> vm_sigma, va_sigma_deg;
  /// Per branch, the deviations of P, Q and the apparent power S flowing in at its from end
  /// (MW / Mvar / MVA; 0 out of service), and of the total series losses (MW).
  std::vector<double> p_from_sigma_mw, q_from_sigma_mvar, s_from_sigma_mva;
  double losses_sigma_mw = 0;
  double objective = 0;              ///< J(x) = Σ (r/σ)² of the final estimate
  double chi2_limit = 0;             ///< χ² quantile for m − n degrees of freedom
  bool bad_data_detected = false;    ///< the first estimate failed the χ² test
  std::vector<std::size_t> removed;  ///< indexes (into the input) of measurements removed as bad
  std::string message;
};

/// Throws NetworkError when the measurements cannot observe the whole network.
EstimationResult estimate_state(const Network& net, std::vector<Measurement> measurements,
                                const EstimationOptions& options = {});

/// The χ² quantile (Wilson–Hilferty approximation, accurate to ~1 % for k ≥ 10).
double chi2_quantile(double confidence, double degrees_of_freedom);

}  // namespace remhart::grid
