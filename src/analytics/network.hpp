#pragma once
// The network-level analytics (SPEC §9, models 10, 11 and 15), computed from the twin's state of
// every bus (the state estimate, or in training the simulator's solved state) with the grid
// engine: the technical losses and their split, the loss-minimising set-points of the network's
// controls and the saving they promise, and a stability score with its risk factors, N-1
// included. Pure functions of a network and a state.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "grid/network.hpp"
#include "grid/powerflow.hpp"
#include "sim/twin.hpp"

namespace remhart::analytics {

/// A state of every bus: |V| (p.u.) and angle (degrees) in network order.
struct BusState {
  std::vector<double> vm, va_deg;
  double losses_sigma_mw = 0;  ///< the estimate's deviation of the losses (0: a solved state)
};

/// The network with the state's injections as its loads (every bus but the reference one PQ,
/// other generators out of service): a power flow of it reproduces the state exactly. The base
/// for checking and for what-ifs (set-points, N-1) around the state.
grid::Network injections_of(const grid::Network& net, const BusState& state);

// --- 10. Energy loss ----------------------------------------------------------------------
struct BranchLoss {
  std::int64_t from = 0, to = 0;
  bool transformer = false;
  double kw = 0;
  double loading_pct = 0;  ///< NaN without a rating
};
struct EnergyLoss {
  double losses_kw = 0, losses_sigma_kw = 0;
  double demand_kw = 0;   ///< consumption at the buses (loads and shunts), DER netted off
  double losses_pct = 0;  ///< of the power entering the network at its reference bus
  double lines_kw = 0, transformers_kw = 0, shunts_kw = 0;
  double power_flow_losses_kw = 0;  ///< the check: a power flow of the state's injections
  std::vector<BranchLoss> top;      ///< the largest five
};
EnergyLoss energy_loss(const grid::Network& net, const BusState& state);

// --- 11. Power-flow optimisation ----------------------------------------------------------
/// What may be set: transformer taps (branch indices; ratio 0.95–1.05 in 0.625 % steps),
/// switchable capacitor banks (bus indices and their Mvar at 1 p.u.), inverters' reactive power
/// (bus indices and their ± Mvar range).
struct Controls {
  std::vector<std::size_t> taps;
  struct Capacitor {
    std::size_t bus;
    double mvar;
    bool on;
  };
  std::vector<Capacitor> capacitors;
  struct Inverter {
    std::size_t bus;
    double q_max_mvar;
  };
  std::vector<Inverter> inverters;
};
/// The twin's controls in `net` (matched by bus ids): the substation transformer's tap, its
/// capacitor banks, and its PV and battery inverters (±44 % of their rating: IEEE 1547
/// category B).
Controls twin_controls(const sim::Twin& twin, const grid::Network& net);
struct SetPoints {
  double losses_before_kw = 0, losses_after_kw = 0, saving_kw = 0, saving_pct = 0;
  double v_min_after = 0, v_max_after = 0;
  std::vector<double> tap_ratio;      ///< per Controls::taps
  std::vector<bool> capacitor_on;     ///< per Controls::capacitors
  std::vector<double> inverter_mvar;  ///< per Controls::inverters (+: injecting)
  int power_flows = 0;
  bool feasible = true;  ///< voltages within [vmin_pu, vmax_pu] after (else the best found)
};
/// Coordinate search over the controls with the grid engine (each candidate a warm power flow;
/// a pass tries every control's values in turn, keeping what lowers the losses with every
/// voltage within [vmin_pu, vmax_pu]; until a pass changes nothing, at most `max_passes`).
/// `base` is a network whose power flow is the starting state (injections_of).
SetPoints optimise_setpoints(const grid::Network& base, const Controls& controls,
                             double vmin_pu = 0.95, double vmax_pu = 1.05, int max_passes = 4);
/// Applies set-points to a network (for checking them with a power flow of one's own).
void apply(grid::Network& net, const Controls& controls, const SetPoints& s);

// --- 15. Grid stability score -------------------------------------------------------------
struct StabilityScore {
  double score = 0;  ///< 0–100
  struct Factor {
    std::string_view name;
    double value = 0;  ///< in its unit
    std::string_view unit;
    double score = 0;  ///< 0–100
    double weight = 0;
  };
  std::array<Factor, 4> factors;
  std::size_t outages = 0, islanding_outages = 0, violating_outages = 0;
  double load_at_risk_mw = 0;  ///< the largest load an outage islands
  std::string_view category;   ///< secure (≥ 80), alert (≥ 50), at_risk
};
/// From `base` (injections_of a state) and its power flow: voltage margin (lowest |V| from
/// 0.95 → 100 to 0.90 → 0, highest likewise from 1.05 to 1.10), loading (highest branch
/// loading 80 % → 100 to 100 % → 0), N-1 (share of line and transformer outages that neither
/// island load nor violate a limit), frequency (|Δf| from 0.1 Hz → 100 to 0.5 Hz → 0; NaN
/// when unknown: left out). Weights 0.3, 0.25, 0.25, 0.2.
StabilityScore stability_score(const grid::Network& base, double frequency_dev_hz);

nlohmann::json to_json(const EnergyLoss& r);
nlohmann::json to_json(const SetPoints& r, const grid::Network& net, const Controls& c);
nlohmann::json to_json(const StabilityScore& r);

}  // namespace remhart::analytics
