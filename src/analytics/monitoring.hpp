#pragma once
// The four real-time monitoring models (SPEC §9, models 1–4): what each is trained to answer
// (its ground truth from a simulated run), the naive baseline it must beat, and the result it
// serves for one sample. Each model is a gradient-boosted tree ensemble over the device's
// feature vector; the physics around it (IEEE 1159 categories, IEEE 519 / EN 50160 limits,
// unbalance factors) is computed, not learnt.
#include <array>
#include <string_view>
#include <vector>

#include "analytics/dataset.hpp"
#include "features/features.hpp"
#include "ml/gbt.hpp"

namespace remhart::analytics {

// --- 1. Voltage anomaly -------------------------------------------------------------------
/// Truth, per step of one device's run: an event is in force in the network (`active`, from
/// the run's labels: a sag, swell, fault, overload, cloud … anywhere — a fault on one lateral
/// pulls the voltage down on its neighbours too; not the slow ageing of a transformer) and the
/// device's bus's solved |V| is outside 0.9–1.1 p.u. (an IEEE 1159 sag or swell) or has moved
/// by 3 % or more from its value just before the event (an IEC 61000-4-30 rapid voltage
/// change). A steady under-voltage with no event is not an anomaly, nor is an event the meter
/// barely sees.
inline constexpr double kRapidVoltageChangePu = 0.03;
std::vector<int> voltage_anomaly_truth(const std::vector<DeviceStep>& steps,
                                       const std::vector<int>& active);
/// Per step of a run: whether an event acts anywhere in the network (any device's label,
/// transformer ageing aside).
std::vector<int> events_in_force(const RunData& run);
/// Baseline: the threshold rule — any measured phase outside 0.9–1.1 p.u.
int voltage_anomaly_baseline(const features::FeatureVector& f);

struct VoltageAnomaly {
  double score = 0;   ///< 0–1, the model's probability of a voltage event
  bool flag = false;  ///< score ≥ the threshold chosen on validation runs
  std::string_view
      kind;  ///< IEEE 1159 by the measured extreme phase: none, sag, swell, interruption
  std::string_view
      severity;  ///< none, minor (within ±10 %), moderate, severe (beyond ±50 % or < 0.1)
  double v_min_pu = 0, v_max_pu = 0;
};
VoltageAnomaly voltage_anomaly(const ml::GbtModel& model, double threshold,
                               const features::FeatureVector& f);

// --- 2. Harmonic analysis -----------------------------------------------------------------
/// Truth: harmonic pollution (non-linear load above the normal share) acts on the meter.
int harmonic_truth(const DeviceStep& s);
/// IEEE 519-2014 voltage THD limit at a nominal phase-to-neutral voltage: 8 % up to 1 kV
/// (line-to-line), 5 % to 69 kV, 2.5 % to 161 kV, 1.5 % above. EN 50160: 8 %.
double ieee519_thd_v_limit_pct(double nominal_voltage_ln);
inline constexpr double kEn50160ThdVPct = 8.0;
/// IEEE 519's current distortion limit for the smallest short-circuit ratio (Isc/IL < 20):
/// 5 % — the meters do not know their short-circuit ratio, so the strictest applies.
inline constexpr double kIeee519ThdIPct = 5.0;

struct HarmonicAnalysis {
  double thd_v_pct = 0, thd_i_pct = 0;  ///< worst phase; NaN when not reported
  double thd_v_limit_pct = 0;           ///< IEEE 519 at the device's voltage
  std::string_view category;         ///< not_reported, within_limits, above_ieee519, above_en50160
  double pollution_probability = 0;  ///< the model's probability of a harmonic-pollution event
  bool pollution = false;
};
HarmonicAnalysis harmonic_analysis(const ml::GbtModel& model, double threshold,
                                   double nominal_voltage_ln, const features::FeatureVector& f);

// --- 3. Frequency stability ---------------------------------------------------------------
/// What the model predicts: the change of frequency over the next kFrequencyHorizonS seconds.
inline constexpr double kFrequencyHorizonS = 60;
/// The features the frequency model sees: RoCoF, the frequency against its 60 s mean, and the
/// spread and slope of the frequency over each window — how it moves, not where it is, so a
/// new steady offset after a loss of generation is not mistaken for a transient. Frequency is a
/// property of the whole system; local features would only let the trees memorise runs.
const std::vector<std::size_t>& frequency_features();
/// Statutory band the stability score is measured against (EN 50160: ±1 % of 50 Hz).
inline constexpr double kFrequencyBandHz = 0.5;

struct FrequencyStability {
  double f_hz = 0;
  double predicted_hz = 0;  ///< at now + horizon_s
  double horizon_s = kFrequencyHorizonS;
  double rocof_hz_s = 0;
  /// 100 × (1 − the worse of |predicted deviation| / 0.5 Hz and |RoCoF| / 1 Hz/s), clamped 0–100.
  double stability_score = 0;
  std::string_view trend;  ///< rising, falling, steady (predicted change within ±5 mHz)
};
FrequencyStability frequency_stability(const ml::GbtModel& model, double nominal_hz,
                                       const features::FeatureVector& f);

// --- 4. Phase imbalance -------------------------------------------------------------------
/// Classes of the voltage unbalance at the meter's bus (NEMA MG-1, the simulator's true phase
/// voltages, whatever the cause): 0 none (below 1 %), 1 minor (1–2 %), 2 moderate (above
/// EN 50160's 2 %), 3 severe (above 4 %).
inline constexpr int kImbalanceClasses = 4;
int imbalance_class(double unbalance_pct);
int imbalance_truth(const DeviceStep& s);
/// The threshold rule: the measured unbalance (`vu_nema_pct`) graded as the truth is.
int imbalance_baseline(const features::FeatureVector& f);
std::string_view imbalance_class_name(int c);

struct PhaseImbalance {
  double vuf_pct = 0, vu_nema_pct = 0, iuf_pct = 0, iu_nema_pct = 0;
  int severity_class = 0;
  std::array<double, kImbalanceClasses> probabilities{};
  /// From the measured currents: open_phase (a phase carries no current while the others do),
  /// load_on_phase_a/b/c (current unbalance above 10 %: the most loaded phase), supply_side
  /// (voltage unbalance without current unbalance), none.
  std::string_view likely_cause;
};
PhaseImbalance phase_imbalance(const ml::GbtModel& model, const features::FeatureVector& f);

}  // namespace remhart::analytics
