#pragma once
// `remhart simulate --scenario NAME --duration 1d --step 1s [--seed N] [--start T]
//  [--twin FILE] [--param NAME=VALUE]… --out FILE.csv|FILE.ndjson`: runs the physics simulator
// as fast as it can and writes labelled samples to a file.
#include <cstdint>
#include <string>
#include <vector>

#include "app/config.hpp"

namespace remhart::app {

struct SimulateArgs {
  std::string scenario = "normal_day";
  std::string mode = "backfill";
  std::string duration = "1h", step = "1s", start, twin, out;
  std::uint64_t seed = 1;
  std::vector<std::string> params;  ///< NAME=VALUE
  bool quiet = false;
};

/// With `out`: writes a file. Returns the exit code: 0 done, 1 failed, 2 bad arguments (the
/// message names the option).
int run_simulate(const SimulateArgs& args);

/// Without `out`: a run into the configured data directory's store, as `POST
/// /api/simulator/runs` would make it (labels, run record, origin `sim:<run>`), with a progress
/// bar; refused while a server holds the directory.
int run_simulate_store(const Config& config, const SimulateArgs& args);

}  // namespace remhart::app
