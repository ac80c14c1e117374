#pragma once
// Decision support for one device (SPEC §9, models 13 and 14): the answers are computable, so
// they are computed — the capacitor bank that brings the device's power factor to a target, and
// the shift of load between its phases that balances them. Both read the device's last minute
// (the 60 s means of its feature state) and run on the schedule. The compensation is checked
// against the grid engine by `remhart train` (docs/analytics.md).
#include <array>
#include <string_view>

#include <nlohmann/json.hpp>

#include "features/features.hpp"

namespace remhart::analytics {

// --- 13. Reactive power compensation ------------------------------------------------------
/// A common tariff threshold: below 0.95 lagging, utilities charge for reactive energy.
inline constexpr double kTargetPowerFactor = 0.95;

struct ReactiveCompensation {
  double p_kw = 0, q_kvar = 0;  ///< the last minute's means (load convention: Q > 0 lagging)
  double pf = 0;                ///< |P| / S
  double v_pu = 0;              ///< the last minute's mean phase voltage
  double target_pf = kTargetPowerFactor;
  /// compensate (lagging, below target), ok (at or above target), leading (Q < 0: no
  /// capacitor would help), exporting (P < 0: a generator), no_load (|S| below 1 % of rated)
  std::string_view status;
  double kvar_needed = 0;   ///< at the measured voltage
  double step_kvar = 0;     ///< the bank's step: 1, 2.5, 5, 10, 25, 50, 100, 200 or 400 kvar
  int steps = 0;            ///< the fewer steps that reach the target
  double bank_kvar = 0;     ///< nameplate (at nominal voltage) = steps × step_kvar
  double q_after_kvar = 0;  ///< Q − bank × V²
  double pf_after = 0;      ///< promised: P / √(P² + Q_after²)
};
ReactiveCompensation reactive_compensation(const features::FeatureVector& f, double rated_kva,
                                           double target_pf = kTargetPowerFactor);
/// The same from given P (kW), Q (kvar) and voltage (p.u.).
ReactiveCompensation reactive_compensation(double p_kw, double q_kvar, double v_pu,
                                           double rated_kva, double target_pf = kTargetPowerFactor);

// --- 14. Load balancing -------------------------------------------------------------------
/// One move of the plan: `kw` of single-phase load re-connected from phase `from` to `to`.
struct PhaseMove {
  int from = 0, to = 0;
  double kw = 0;
};
struct LoadBalancing {
  std::array<double, 3> p_kw{};        ///< per phase, the last minute's means
  std::array<double, 3> p_after_kw{};  ///< after the plan
  double unbalance_pct = 0;            ///< NEMA: max |P_k − mean| / mean
  double unbalance_after_pct = 0;
  double current_unbalance_pct = 0;  ///< NEMA, of the measured currents now
  /// Moves (at most two: largest surplus to largest deficit first), kW each; none when the
  /// phases are within the tolerance already or there is no load.
  std::array<PhaseMove, 2> moves{};
  int move_count = 0;
  double moved_kw = 0;
};
/// Power unbalance (NEMA) up to this needs no plan: 10 %, where distribution utilities commonly
/// start re-phasing (EN 50160's 2 % is for the voltage, which the load unbalance drives).
inline constexpr double kBalanceTolerancePct = 10.0;
LoadBalancing load_balancing(const features::FeatureVector& f,
                             double tolerance_pct = kBalanceTolerancePct);

nlohmann::json to_json(const ReactiveCompensation& r);
nlohmann::json to_json(const LoadBalancing& r);

}  // namespace remhart::analytics
