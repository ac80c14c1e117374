#pragma once
// A simulated twin: the network (grid::Network) plus what drives it and what observes it —
// loads by customer class, PV, wind, batteries, capacitor banks, the substation transformer's
// thermal data, the bulk system's frequency dynamics, and the measurement points. Pure data and
// checks; the JSON file format lives in sim/io.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/measurement.hpp"
#include "grid/network.hpp"

namespace remhart::sim {

enum class LoadClass { residential, commercial, industrial };

struct TwinLoad {
  std::string name;
  std::int64_t bus = 0;
  LoadClass cls = LoadClass::residential;
  double peak_kw = 0;
  double power_factor = 0.95;  ///< lagging
  /// Share of the load on phases a, b, c (sums to 1): single-phase customers make it uneven.
  std::array<double, 3> phase_share{1.0 / 3, 1.0 / 3, 1.0 / 3};
  double nonlinear = 0.1;  ///< fraction of the load drawn by non-linear equipment (harmonics)
};

struct TwinPv {
  std::string name;
  std::int64_t bus = 0;
  double peak_kw = 0;  ///< output under clear sky at solar noon
};

struct TwinWind {
  std::string name;
  std::int64_t bus = 0;
  double rated_kw = 0;
  double mean_speed_ms = 7;
};

struct TwinBattery {
  std::string name;
  std::int64_t bus = 0;
  double power_kw = 0;  ///< inverter rating (charge and discharge)
  double energy_kwh = 0;
  double soc = 0.5;  ///< initial state of charge, 0–1
};

struct TwinCapacitor {
  std::string name;
  std::int64_t bus = 0;
  double kvar = 0;  ///< at 1 p.u. voltage
  bool on = true;
};

/// Aggregated frequency dynamics of the bulk system the feeder hangs on (per unit of system
/// load): 2H dΔf/dt = ΔPm − ΔPe − D·Δf; T_g dΔPm/dt = −Δf/R − ΔPm.
struct Dynamics {
  double frequency_hz = 50;
  double inertia_h_s = 5;
  double damping_d = 1;
  double droop_r = 0.05;
  double governor_tg_s = 0.5;
  double wander_hz = 0.01;  ///< standard deviation of the ambient frequency wander
};

/// The substation transformer, for the IEEE C57.91 thermal and ageing model.
struct TwinTransformer {
  std::int64_t from = 0, to = 0;  ///< its branch
  double rated_kva = 0;
  double top_oil_rise_c = 55;       ///< at rated load
  double hot_spot_gradient_c = 25;  ///< hot spot over top oil at rated load
  double loss_ratio = 8;            ///< load losses / no-load losses at rated load
  double oil_exponent_n = 0.8;
  double winding_exponent_m = 0.8;
  double oil_time_constant_min = 180;
  double winding_time_constant_min = 7;
  double normal_life_h = 180000;
};

/// A measurement point: its device record (with its accuracy class, % of reading).
struct TwinDevice {
  core::Device device;
};

struct Twin {
  std::string name;
  double latitude_deg = 51.5;  ///< for the sun's path
  grid::Network network;
  std::vector<TwinLoad> loads;
  std::vector<TwinPv> pv;
  std::vector<TwinWind> wind;
  std::vector<TwinBattery> batteries;
  std::vector<TwinCapacitor> capacitors;
  Dynamics dynamics;
  TwinTransformer transformer;
  std::vector<TwinDevice> devices;
  /// Where scenarios strike by default: a remote fault (voltage sag) and a lateral (line fault,
  /// overload, imbalance) given by its head branch.
  std::int64_t sag_bus = 0;
  std::int64_t lateral_from = 0, lateral_to = 0;
};

/// The twin's network for grid studies: every load added to its bus at its peak demand
/// (`peak_kw`, reactive power from its lagging power factor), the capacitor banks that are on as
/// bus shunts; generation as in the network.
grid::Network study_model(const Twin& twin);

/// What a device element names: a bus (`bus:<id>`) or one end of a branch
/// (`branch:<from>-<to>:from|to`).
struct ElementRef {
  bool is_bus = true;
  std::int64_t bus = 0;    ///< the bus, or the measured end's bus
  std::size_t branch = 0;  ///< index into network.branches (branch elements)
  bool from_end = true;    ///< branch elements: measured at the from end
};

/// A branch named by its end buses, `from-to` as in the twin file and scenario parameters.
struct BranchRef {
  std::int64_t from = 0, to = 0;
};
/// Parses `from-to` (two integer bus ids); nullopt when malformed.
std::optional<BranchRef> parse_branch_ref(std::string_view text);
/// The index of the branch from `ref.from` to `ref.to` (in that direction), or nullopt.
std::optional<std::size_t> branch_index(const grid::Network& net, BranchRef ref);

/// Parses `element` against the network; throws grid::NetworkError naming it.
ElementRef resolve_element(const grid::Network& net, const std::string& element);

/// Checks the twin as a whole (the network, references to buses and branches, a radial
/// network fed from one reference bus, ratings, shares); throws grid::NetworkError naming the
/// offending entry.
void validate(const Twin& twin);

}  // namespace remhart::sim
