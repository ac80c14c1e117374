#pragma once
// `remhart train`: simulate the training plan, fit every model on the train runs, tune it on
// the validation runs, score it and its baseline on the test runs, and describe the result in
// a model card. Runs are simulated in parallel; results are merged in plan order, so the same
// seed and scale give the same models on any machine with the same libraries.
#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ml/gbt.hpp"
#include "sim/twin.hpp"

namespace remhart::analytics {

struct TrainOptions {
  std::uint64_t seed = 1;
  double scale = 1;     ///< runs per scenario × scale (at least 5 each)
  double run_s = 1800;  ///< each run's simulated duration (its event starts in the middle third)
  int threads = 2;
  /// Called with the stage and its completed fraction (0–1), from the calling thread.
  std::function<void(std::string_view stage, double fraction)> progress;
  /// Checked between runs and models: once true, training stops with TrainingCancelled.
  const std::atomic<bool>* cancel = nullptr;
};

class TrainingCancelled : public std::runtime_error {
 public:
  TrainingCancelled() : std::runtime_error("training cancelled") {}
};

/// A trained model, ready for the registry: XGBoost's JSON, the evaluator built from it, the
/// parameters serving needs (`serving`, e.g. the decision threshold) and its card.
struct TrainedModel {
  std::string name;    ///< e.g. voltage-anomaly
  std::string module;  ///< monitoring, maintenance, energy, decision
  std::string model_json;
  ml::GbtModel gbt;
  nlohmann::json serving;
  nlohmann::json card;
};

/// Trains the monitoring models (1–4) on `twin`. Throws std::runtime_error when training fails.
std::vector<TrainedModel> train_models(const sim::Twin& twin, const TrainOptions& options);

}  // namespace remhart::analytics
