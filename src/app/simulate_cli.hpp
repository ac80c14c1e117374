#pragma once
// `remhart simulate --scenario NAME --duration 1d --step 1s [--seed N] [--start T]
//  [--twin FILE] [--param NAME=VALUE]… --out FILE.csv|FILE.ndjson`: runs the physics simulator
// as fast as it can and writes labelled samples to a file.
#include <cstdint>
#include <string>
#include <vector>

namespace remhart::app {

struct SimulateArgs {
  std::string scenario = "normal_day";
  std::string duration = "1h", step = "1s", start, twin, out;
  std::uint64_t seed = 1;
  std::vector<std::string> params;  ///< NAME=VALUE
  bool quiet = false;
};

/// Returns the exit code: 0 done, 1 failed, 2 bad arguments (the message names the option).
int run_simulate(const SimulateArgs& args);

}  // namespace remhart::app
