#pragma once
// The analytics models the twin serves (SPEC §9), each with its module and what a version of
// it is: gradient-boosted trees (a registry version holds the trees; another one trained
// elsewhere may be imported into its slot) or computed (physics or a defined index: a version
// holds its card and its evaluation, no trees).
#include <array>
#include <cstddef>
#include <string_view>

#include "analytics/forecast.hpp"
#include "features/features.hpp"
#include "ml/gbt.hpp"

namespace remhart::analytics {

enum class ModelId : std::size_t {
  voltage_anomaly,
  harmonic_analysis,
  frequency_stability,
  phase_imbalance,
  equipment_failure,
  overload_risk,
  power_quality_index,
  voltage_sag,
  reactive_power,
  load_balancing,
  energy_loss,
  power_flow,
  stability_score,
  load_forecast,
  demand_response,
  optimal_dispatch,
  kCount
};
inline constexpr std::size_t kModelCount = static_cast<std::size_t>(ModelId::kCount);

struct ModelInfo {
  ModelId id;
  std::string_view name, module;
  bool trees;  ///< false: computed
  ml::Objective objective = ml::Objective::regression;
  int num_class = 1;
  bool network = false;  ///< of the whole network (from its state estimate), not of a device
  std::size_t features = features::kFeatureCount;  ///< what the trees read
  /// Monitoring models answer every sample; the others run on the schedule.
  bool per_sample() const { return module == "monitoring"; }
};

inline constexpr std::array<ModelInfo, kModelCount> kModels = {{
    {ModelId::voltage_anomaly, "voltage-anomaly", "monitoring", true,
     ml::Objective::binary_logistic, 1},
    {ModelId::harmonic_analysis, "harmonic-analysis", "monitoring", true,
     ml::Objective::binary_logistic, 1},
    {ModelId::frequency_stability, "frequency-stability", "monitoring", true,
     ml::Objective::regression, 1},
    {ModelId::phase_imbalance, "phase-imbalance", "monitoring", true, ml::Objective::multi_softprob,
     4},
    {ModelId::equipment_failure, "equipment-failure", "maintenance", true,
     ml::Objective::binary_logistic, 1},
    {ModelId::overload_risk, "overload-risk", "maintenance", true, ml::Objective::multi_softprob,
     3},
    {ModelId::power_quality_index, "power-quality-index", "maintenance", false},
    {ModelId::voltage_sag, "voltage-sag", "maintenance", true, ml::Objective::binary_logistic, 1},
    {ModelId::reactive_power, "reactive-power", "decision", false},
    {ModelId::load_balancing, "load-balancing", "decision", false},
    {ModelId::energy_loss, "energy-loss", "energy", false, ml::Objective::regression, 1, true},
    {ModelId::power_flow, "power-flow", "energy", false, ml::Objective::regression, 1, true},
    {ModelId::stability_score, "stability-score", "decision", false, ml::Objective::regression, 1,
     true},
    {ModelId::load_forecast, "load-forecast", "energy", true, ml::Objective::regression, 1, false,
     kForecastFeatureCount},
    {ModelId::demand_response, "demand-response", "energy", false},
    {ModelId::optimal_dispatch, "optimal-dispatch", "decision", false, ml::Objective::regression, 1,
     true},
}};

inline constexpr const ModelInfo& info(ModelId id) {
  return kModels[static_cast<std::size_t>(id)];
}

/// The model of that name, or null.
inline const ModelInfo* find_model(std::string_view name) {
  for (const auto& m : kModels) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

/// The modules, in SPEC order, that have models.
inline constexpr std::array<std::string_view, 4> kModules = {"monitoring", "maintenance", "energy",
                                                             "decision"};

}  // namespace remhart::analytics
