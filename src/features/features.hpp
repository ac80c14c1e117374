#pragma once
// Per-device features (SPEC §9): what the analytics models see of one device — its latest sample
// in per-unit terms, unbalance, power factor, rates of change, rolling statistics over three time
// windows, calendar position and the twin's network state where the device sits.
//
// A `DeviceFeatures` is the rolling state of one device and nothing else: it is never shared
// across devices or requests, and the same sequence of samples always gives the same features
// (no clock, no randomness). Training (`remhart train`, from simulated runs) and serving (the
// ingest pipeline) call the same `update`. Every feature is listed by `feature_defs()` with its
// unit, window and formula; docs/analytics.md documents them.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/measurement.hpp"

namespace remhart::features {

/// What a device's per-unit values are relative to (its registry record).
struct DeviceRatings {
  double nominal_voltage = 230.0;   ///< V, phase-to-neutral
  double rated_current = 100.0;     ///< A
  double nominal_frequency = 50.0;  ///< Hz
};
DeviceRatings ratings_of(const core::Device& d);

/// The twin's estimated state where the device sits; NaN where unknown (no network model, the
/// device not placed on it, no estimate yet). Serving fills it from the latest state estimate,
/// training from the simulator's solved state.
struct NetworkContext {
  double bus_v_pu = core::kAbsent;     ///< |V| of the device's bus
  double loading_pct = core::kAbsent;  ///< loading of the branch it measures or that feeds it
  double network_min_v_pu = core::kAbsent;
  double losses_mw = core::kAbsent;  ///< technical losses of the whole network
  double load_mw = core::kAbsent;    ///< demand of the whole network
};

/// The rolling windows, seconds.
inline constexpr std::array<double, 3> kWindowsS = {10.0, 60.0, 900.0};
inline constexpr std::array<std::string_view, 3> kWindowNames = {"10s", "60s", "900s"};
/// Time buckets per window: its statistics cover the current bucket and the ones before it, so
/// between (1 − 1/buckets) and all of the window. The 10 s window has fewer, longer buckets: its
/// sums over the past buckets are redone whenever a bucket ends, every 2 s rather than every
/// second (the most frequent work of a 1 Hz device).
inline constexpr std::array<std::size_t, 3> kWindowBuckets = {5, 10, 10};

/// Signals tracked over every window.
enum class Signal : std::size_t {
  v_avg_pu,
  v_min_pu,
  v_max_pu,
  i_max_pu,
  p_total_kw,
  q_total_kvar,
  f_hz,
  vu_nema_pct,
  thd_v_max_pct,
  thd_i_max_pct,
  kCount
};
inline constexpr std::size_t kSignalCount = static_cast<std::size_t>(Signal::kCount);

/// Statistics of a signal over a window.
enum class Stat : std::size_t { mean, std, min, max, slope, kCount };
inline constexpr std::size_t kStatCount = static_cast<std::size_t>(Stat::kCount);

/// Features of the latest sample alone (and of its predecessor, for rates), then the rolling block.
enum class F : std::size_t {
  // voltage, per unit of the device's nominal phase-to-neutral voltage
  v_a_pu,
  v_b_pu,
  v_c_pu,
  v_avg_pu,
  v_min_pu,
  v_max_pu,
  v_dev_max_pu,
  v_spread_pu,
  phases_without_voltage,
  // current, per unit of the rated current
  i_a_pu,
  i_b_pu,
  i_c_pu,
  i_avg_pu,
  i_max_pu,
  phases_without_current,
  // power
  p_a_kw,
  p_b_kw,
  p_c_kw,
  p_total_kw,
  q_a_kvar,
  q_b_kvar,
  q_c_kvar,
  q_total_kvar,
  s_total_kva,
  pf_abs,
  pf_sign,
  pf_a,
  pf_b,
  pf_c,
  // unbalance
  vuf_pct,
  vu_nema_pct,
  iuf_pct,
  iu_nema_pct,
  p_unbalance_pct,
  // frequency
  f_hz,
  f_dev_hz,
  rocof_hz_s,
  // harmonics and temperature
  thd_v_a_pct,
  thd_v_b_pct,
  thd_v_c_pct,
  thd_v_max_pct,
  thd_i_a_pct,
  thd_i_b_pct,
  thd_i_c_pct,
  thd_i_max_pct,
  thd_present,
  temp_c,
  // rates of change and sampling
  dv_dt_pu_s,
  di_dt_pu_s,
  dp_dt_kw_s,
  dt_s,
  repeat_count,
  // against the device's own recent past
  v_avg_vs_900s_pu,
  v_min_vs_900s_pu,
  i_max_vs_900s_ratio,
  f_vs_10s_hz,
  f_vs_60s_hz,
  f_vs_900s_hz,
  p_vs_900s_kw,
  thd_i_vs_900s_pct,
  // calendar (UTC)
  hour_sin,
  hour_cos,
  weekday_sin,
  weekday_cos,
  weekend,
  year_sin,
  year_cos,
  // the twin's network state
  net_bus_v_pu,
  net_voltage_margin_pu,
  net_loading_pct,
  net_min_v_pu,
  net_losses_mw,
  net_losses_pct,
  kInstantCount
};
inline constexpr std::size_t kInstantCount = static_cast<std::size_t>(F::kInstantCount);
inline constexpr std::size_t kRollingCount = kSignalCount * kWindowsS.size() * kStatCount;
inline constexpr std::size_t kFeatureCount = kInstantCount + kRollingCount;

constexpr std::size_t index(F f) {
  return static_cast<std::size_t>(f);
}
/// Index of a rolling feature: `signal`'s `stat` over window `window` (index into kWindowsS).
constexpr std::size_t index(Signal signal, std::size_t window, Stat stat) {
  return kInstantCount +
         (static_cast<std::size_t>(signal) * kWindowsS.size() + window) * kStatCount +
         static_cast<std::size_t>(stat);
}

using FeatureVector = std::array<double, kFeatureCount>;

/// One feature's documentation.
struct FeatureDef {
  std::string_view name;    ///< e.g. `v_min_pu`, `p_total_kw_slope_900s`
  std::string_view unit;    ///< `p.u.`, `kW`, `%`, `1` …
  std::string_view window;  ///< `sample`, `2 samples`, `60s` …
  std::string_view formula;
};
/// Every feature in vector order.
const std::array<FeatureDef, kFeatureCount>& feature_defs();

/// The rolling state of one device.
class DeviceFeatures {
 public:
  explicit DeviceFeatures(DeviceRatings ratings);

  /// Takes the device's next sample and writes every feature into `out` (NaN where a feature is
  /// undefined: an absent optional field, a rate without a predecessor, unknown network state).
  /// Samples must come in time order: one not newer than the last is refused (returns false,
  /// `out` untouched, the state unchanged) — the caller counts it.
  bool update(core::TimeUs ts, const core::Values& v, const NetworkContext& net,
              FeatureVector& out);

  std::int64_t samples() const { return samples_; }
  core::TimeUs last_ts() const { return last_ts_; }

 private:
  /// Statistics of every signal over the last `window` seconds, kept in `buckets` time buckets
  /// (the window covers the current bucket and the ones before it). The signals share
  /// the buckets and sit side by side in each (one loop over them, which the compiler
  /// vectorises). Values are stored relative to each signal's first value, and times relative
  /// to the newest bucket, so the sums stay well conditioned over days of samples.
  class Window {
   public:
    static constexpr std::size_t kMaxBuckets = 10;
    using Signals = std::array<double, kSignalCount>;
    explicit Window(double window_s = 60, std::size_t buckets = kMaxBuckets);
    /// Adds a sample's signals (non-finite ones: absent, left out).
    void add(double t_s, const Signals& y);
    /// Every signal's mean, std, min, max, slope (per second) at time `t_s` (not before the last
    /// add) into `out` at the rolling features of window `window`; NaN where a signal is empty.
    void stats(double t_s, std::size_t window, FeatureVector& out);

   private:
    struct Bucket {
      std::int64_t number = INT64_MIN;                             // floor(t / span)
      Signals n{}, sy{}, syy{}, st{}, stt{}, sty{}, min{}, max{};  // t relative to bucket start
    };
    struct Totals {
      Signals n{}, sy{}, syy{}, st{}, stt{}, sty{}, lo{}, hi{};  // t relative to bucket `now`
      void add(const Bucket& b, double offset_s);
    };
    Bucket& slot(std::int64_t number) {
      return buckets_[static_cast<std::size_t>(((number % count_) + count_) % count_)];
    }
    std::int64_t count_;
    double span_s_;
    Signals shift_;
    std::array<Bucket, kMaxBuckets> buckets_{};  // the first `count_` used
    // The sums of the buckets before the current one, kept while the current bucket lasts:
    // samples arrive in time order, so those buckets no longer change.
    std::int64_t cached_now_ = INT64_MIN;
    Totals cached_;
  };

  DeviceRatings r_;
  std::int64_t samples_ = 0;
  core::TimeUs last_ts_ = INT64_MIN;
  core::Values last_{};
  double last_v_pu_ = 0, last_i_pu_ = 0, last_p_kw_ = 0, last_f_ = 0;
  double repeats_ = 0;
  std::array<Window, kWindowsS.size()> windows_;
};

}  // namespace remhart::features
