#pragma once
// What drives the twin: daily load shapes by customer class (weekday/weekend, seasons), the
// sun's path, a cloud process, wind, and per-load randomness. Every random process takes its own
// seeded generator, so a run is reproducible for a given seed.
#include <cstdint>
#include <random>

#include "core/time.hpp"
#include "sim/twin.hpp"

namespace remhart::sim {

/// Calendar position of a UTC time (solar time taken as UTC: the demo twin sits near 0° E).
struct Calendar {
  double hour = 0;      ///< 0–24
  int day_of_year = 1;  ///< 1–366
  bool weekend = false;
};
Calendar calendar(core::TimeUs t);

/// A load's demand as a fraction of its peak: daily shape × seasonal factor (≤ 1 at the yearly
/// peak).
double load_shape(LoadClass cls, const Calendar& c);

/// Clear-sky PV output as a fraction of the plant's peak (sun overhead = 1), 0 at night.
double clear_sky(const Calendar& c, double latitude_deg);

/// Ambient temperature (°C), a daily and seasonal cycle.
double ambient_temperature(const Calendar& c);

/// Mean-reverting (Ornstein–Uhlenbeck) process with mean 0, standard deviation `sigma` and
/// correlation time `tau_s`, stepped exactly.
class OuProcess {
 public:
  OuProcess(double sigma, double tau_s) : sigma_(sigma), tau_(tau_s) {}
  double step(double dt_s, std::mt19937_64& rng);
  double value() const { return x_; }

 private:
  double sigma_, tau_, x_ = 0;
};

/// Clear-sky index (0–1): slow cloud cover plus passing clouds that dim the sun for a while.
class CloudProcess {
 public:
  /// `cloudiness` 0 (clear) – 1 (overcast); `transients_per_h` passing clouds an hour of
  /// `transient_s` seconds each, dimming by `depth` (0–1).
  CloudProcess(double cloudiness, double transients_per_h, double transient_s, double depth);
  double step(double dt_s, std::mt19937_64& rng);
  void set_transients(double per_h, double duration_s, double depth);
  bool in_transient() const { return transient_left_s_ > 0; }

 private:
  double cloudiness_;
  double per_h_, duration_s_, depth_;
  OuProcess cover_{0.15, 1800};
  double transient_left_s_ = 0;
};

/// Wind turbine output (fraction of rating) from a mean-reverting wind speed and a power curve
/// (cut-in 3 m/s, rated 12 m/s, cut-out 25 m/s).
class WindProcess {
 public:
  explicit WindProcess(double mean_speed_ms) : mean_(mean_speed_ms) {}
  double step(double dt_s, std::mt19937_64& rng);

 private:
  double mean_;
  OuProcess gust_{2.0, 600};
};

}  // namespace remhart::sim
