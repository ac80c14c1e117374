#pragma once
// The predictive-maintenance models (SPEC §9, models 5–8): what each answers about one device
// from its feature vector, the ground truth it is trained and scored on (from a simulated run)
// and the naive baseline it must beat. Equipment failure, overload risk and voltage sag are
// gradient-boosted trees; the power quality index is computed (EN 50160 limits), not learnt.
// They run on a schedule (`analytics.schedule_s`), not on every sample.
#include <array>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "analytics/dataset.hpp"
#include "features/features.hpp"
#include "ml/gbt.hpp"

namespace remhart::analytics {

// --- 5. Equipment failure -----------------------------------------------------------------
/// The horizon: the probability is of a failure within the next 15 minutes.
inline constexpr double kFailureHorizonS = 900;
/// Truth per step of one device's run: the supply transformer fails within the horizon (the
/// simulator's IEEE C57.91 loss of life ran through the life that was left, and the incipient
/// winding fault that followed has grown to a failure).
std::vector<int> failure_truth(const RunData& run);
/// The features the failure model sees: the reported (hot-spot) temperature and how loaded the
/// device is and has been — what ages a transformer — and its current THD against its recent
/// past, where an incipient winding fault shows. A run is one draw of the life left, so the
/// train runs are few independent examples: more features would only let the trees memorise
/// them, and the probability must stay calibrated.
const std::vector<std::size_t>& failure_features();
/// IEEE C57.91 ageing acceleration factor at a winding hot spot of `hot_spot_c` (1 at 110 °C).
double ageing_acceleration(double hot_spot_c);

struct Factor {
  std::string_view name, unit;
  double value = 0;      ///< NaN when the device does not report it
  double reference = 0;  ///< the value at which it starts to count
  bool above = false;    ///< value > reference
};
struct EquipmentFailure {
  double probability = 0;  ///< 0–1, within horizon_s
  bool flag = false;       ///< probability ≥ the threshold tuned on validation runs
  double horizon_s = kFailureHorizonS;
  /// The physical factors of a transformer's loss of life, measured: hot-spot temperature (vs
  /// 110 °C), its ageing acceleration (vs 1), loading (vs 100 %), loading trend (vs 0 %/h).
  std::array<Factor, 4> factors;
};
EquipmentFailure equipment_failure(const ml::GbtModel& model, double threshold,
                                   const features::FeatureVector& f);

// --- 6. Overload risk ---------------------------------------------------------------------
inline constexpr double kOverloadHorizonS = 300;
/// Classes by the meter's highest phase current against its rating over the next 5 minutes
/// (now included): 0 low (below 80 %), 1 elevated (80–100 %), 2 overload (above 100 %).
inline constexpr int kOverloadClasses = 3;
std::string_view overload_class_name(int c);
/// Truth per step of one device's run (−1 where the horizon runs past the run's end and no
/// overload is in sight before it).
std::vector<int> overload_truth(const RunData& run, std::size_t device);
/// Baseline: persistence — the class of the loading now.
int overload_baseline(const features::FeatureVector& f);

struct OverloadRisk {
  int risk_class = 0;
  std::array<double, kOverloadClasses> probabilities{};
  double loading_pct = 0;  ///< highest phase current / rated current, now
  /// At the 15-minute trend of the highest phase current, seconds until it reaches the
  /// rating; NaN when it is not rising (or already above).
  double time_to_limit_s = 0;
  double horizon_s = kOverloadHorizonS;
};
OverloadRisk overload_risk(const ml::GbtModel& model, const features::FeatureVector& f);

// --- 7. Power quality index ---------------------------------------------------------------
/// Components, each 0–100 (100 while the deviation uses at most half of the EN 50160 limit,
/// falling linearly to 0 at the limit), over the last 60 s: voltage deviation (±10 %), unbalance (2
/// %), voltage THD (8 %), frequency (±0.5 Hz), voltage fluctuation (spread of the phase-average
/// voltage against 3 %, the rapid voltage change threshold). The index is their weighted mean
/// (weights 0.35, 0.2, 0.2, 0.15, 0.1; a component the meter cannot measure is left out and the
/// others re-weighted).
struct PowerQualityIndex {
  double index = 0;
  std::string_view category;  ///< good (≥ 90), fair (≥ 70), poor
  struct Component {
    std::string_view name, unit;
    double measured = 0;  ///< NaN: not reported
    double limit = 0;
    double score = 0;  ///< 0–100, NaN when not reported
    double weight = 0;
  };
  std::array<Component, 5> components;
};
PowerQualityIndex power_quality_index(const features::FeatureVector& f, double nominal_hz);
/// What the index is scored against: a power-quality event (sag, swell, fault, harmonics,
/// imbalance, frequency excursion) acts on the meter.
int power_quality_truth(const DeviceStep& s);

// --- 8. Voltage sag -----------------------------------------------------------------------
inline constexpr double kSagHorizonS = 60;
/// Truth per step of one device's run: its bus's solved |V| is below 0.9 p.u. (IEEE 1159) now
/// or within the next minute.
std::vector<int> sag_truth(const RunData& run, std::size_t device);
/// Baseline: persistence — a measured phase is below 0.9 p.u. now.
int sag_baseline(const features::FeatureVector& f);

struct VoltageSag {
  double probability = 0;  ///< 0–1, within horizon_s
  bool flag = false;
  double horizon_s = kSagHorizonS;
  std::array<bool, 3> below{};  ///< phases measured below 0.9 p.u. now
  int weakest_phase = 0;        ///< 0, 1, 2: the lowest measured phase voltage
  double weakest_v_pu = 0;
};
VoltageSag voltage_sag(const ml::GbtModel& model, double threshold,
                       const features::FeatureVector& f);

/// The results as the API serves them (docs/analytics.md).
nlohmann::json to_json(const EquipmentFailure& r);
nlohmann::json to_json(const OverloadRisk& r);
nlohmann::json to_json(const PowerQualityIndex& r);
nlohmann::json to_json(const VoltageSag& r);

}  // namespace remhart::analytics
