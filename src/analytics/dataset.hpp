#pragma once
// Labelled data from the simulator, for training and scoring the analytics models: runs of the
// twin under every scenario with varied parameters, seasons and seeds, each split as a whole
// into train, validation or test (never a run in two splits: samples of one run are
// correlated, so a per-sample split would leak). Every sample keeps what the meter reported,
// the ground-truth label and the true state where the meter sits.
#include <cstdint>
#include <string>
#include <vector>

#include "core/measurement.hpp"
#include "features/features.hpp"
#include "sim/engine.hpp"
#include "sim/scenario.hpp"
#include "sim/twin.hpp"

namespace remhart::analytics {

enum class Split { train, validation, test };
std::string_view split_name(Split s);

/// One simulated run.
struct RunSpec {
  std::string scenario;
  sim::ScenarioParams params;
  core::TimeUs start = 0;
  double duration_s = 1800;
  double step_s = 1;
  std::uint64_t seed = 1;
  Split split = Split::train;
  double snapshot_every_s = 0;  ///< > 0: keep the solved network this often (physics checks)
};

/// One device at one step.
struct DeviceStep {
  bool present = false;  ///< false: the meter sent nothing (dropped, de-energised)
  core::Values values;
  sim::Label label;
  double true_v_pu = 0;           ///< solved |V| of the device's bus (positive sequence)
  double true_unbalance_pct = 0;  ///< its voltage unbalance (NEMA), before noise
  features::NetworkContext net;   ///< the solved state where the device sits
};

struct RunData {
  RunSpec spec;
  std::vector<core::TimeUs> ts;                ///< per step
  std::vector<std::vector<DeviceStep>> steps;  ///< [device][step]
  std::vector<core::Device> devices;
  /// The step from which the substation transformer has failed, or -1.
  std::int64_t failure_step = -1;
  /// The network as solved at some steps (RunSpec::snapshot_every_s): step, network.
  std::vector<std::pair<std::size_t, grid::Network>> snapshots;
};

/// Runs the simulator for `spec` on `twin`. Throws sim::ParamError or grid::NetworkError.
RunData simulate_run(const sim::Twin& twin, const RunSpec& spec);

/// The network state at a device's place, from a solved (or estimated) state: |V| of its bus,
/// the loading of the branch it measures or that feeds its bus, the network's lowest |V|, its
/// losses and demand. The one function serving and training use.
struct Placement {
  std::ptrdiff_t bus = -1;     ///< position in Network::buses, or -1 when not placed
  std::ptrdiff_t branch = -1;  ///< position in Network::branches, or -1
};
Placement place(const grid::Network& net, const std::string& element);
features::NetworkContext network_context(const grid::Network& net, const Placement& at,
                                         const std::vector<double>& vm,
                                         const std::vector<grid::BranchFlow>& flows,
                                         double losses_mw, double load_mw);

/// The standard plan: every scenario, parameters drawn from their mild-to-severe ranges, starts
/// spread over the year and the day, events in the middle third of each `run_s`-second run
/// (after enough history for the 900 s windows at the default length); `scale` multiplies the
/// number of runs (1 = the default training set). Deterministic for a seed; runs are assigned to
/// splits in rotation within each scenario (3 train : 1 validation : 1 test).
std::vector<RunSpec> training_plan(const sim::Twin& twin, std::uint64_t seed, double scale,
                                   double run_s = 1800);

/// Walks one device's samples through its feature state (absent samples skipped, as a server
/// never sees them); `visit(step, features)` for each sample. Without `with_network` the
/// network features stay unknown (NaN), as the server's monitoring models see them.
template <typename Visit>
void for_each_sample(const RunData& run, std::size_t device, Visit&& visit,
                     bool with_network = true) {
  features::DeviceFeatures state(features::ratings_of(run.devices[device]));
  features::FeatureVector f;
  const auto& steps = run.steps[device];
  for (std::size_t k = 0; k < steps.size(); ++k) {
    if (!steps[k].present) continue;
    const features::NetworkContext unknown;
    if (state.update(run.ts[k], steps[k].values, with_network ? steps[k].net : unknown, f)) {
      visit(k, f);
    }
  }
}

}  // namespace remhart::analytics
