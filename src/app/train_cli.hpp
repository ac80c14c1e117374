#pragma once
// `remhart train [--seed N] [--scale S] [--threads T]`: generates labelled data with the
// simulator, trains the analytics models, scores them on held-out runs against their
// baselines and publishes them, with their cards, into the data directory's model registry.
#include <cstdint>

#include "app/config.hpp"

namespace remhart::app {

struct TrainArgs {
  std::uint64_t seed = 1;
  double scale = 1;
  int threads = 0;          ///< 0: every core
  double run_minutes = 30;  ///< each simulated run's length
  bool quiet = false;
};

/// Returns the exit code: 0 trained and published, 1 failed, 2 bad arguments.
int run_train(const Config& config, const TrainArgs& args);

}  // namespace remhart::app
