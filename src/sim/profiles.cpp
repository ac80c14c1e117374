#include "sim/profiles.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace remhart::sim {
namespace {

constexpr double kTwoPi = 2 * std::numbers::pi;

double bump(double hour, double centre, double width) {
  // Gaussian bump on a 24 h circle.
  double d = std::fabs(hour - centre);
  d = std::min(d, 24 - d);
  return std::exp(-0.5 * (d / width) * (d / width));
}

double smooth_window(double hour, double on, double off, double edge) {
  const auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  return sig((hour - on) / edge) * sig((off - hour) / edge);
}

}  // namespace

Calendar calendar(core::TimeUs t) {
  const auto secs = static_cast<double>(t) / core::kUsPerSecond;
  const auto days = static_cast<std::int64_t>(std::floor(secs / 86400));
  Calendar c;
  c.hour = (secs - static_cast<double>(days) * 86400) / 3600;
  // 1970-01-01 was a Thursday: day 0 → weekday index 3 (Mon = 0).
  const auto weekday = ((days % 7) + 7 + 3) % 7;
  c.weekend = weekday >= 5;
  // Day of year from the civil date (Howard Hinnant's algorithm).
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = z - era * 146097;
  const auto yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const auto doy_march = doe - (365 * yoe + yoe / 4 - yoe / 100);  // 0 = March 1st
  const auto y = yoe + era * 400 + (doy_march >= 306 ? 1 : 0);
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const int jan_feb = 31 + (leap ? 29 : 28);
  c.day_of_year =
      static_cast<int>(doy_march >= 306 ? doy_march - 306 + 1 : doy_march + jan_feb + 1);
  return c;
}

double load_shape(LoadClass cls, const Calendar& c) {
  const double h = c.hour;
  const double season = std::cos(kTwoPi * (c.day_of_year - 15) / 365.25);  // +1 mid-January
  double shape = 0, seasonal = 1;
  switch (cls) {
    case LoadClass::residential:
      if (c.weekend) {
        shape = 0.32 + 0.38 * bump(h, 10.5, 2.5) + 0.25 * bump(h, 14, 3) + 0.62 * bump(h, 19, 2.2);
      } else {
        shape = 0.30 + 0.40 * bump(h, 7.5, 1.2) + 0.12 * bump(h, 13, 3) + 0.68 * bump(h, 19, 2);
      }
      seasonal = 0.87 + 0.13 * season;  // lighting and heating in winter
      break;
    case LoadClass::commercial:
      shape = c.weekend
                  ? 0.30 + 0.12 * smooth_window(h, 9, 17, 0.6)
                  : 0.25 + 0.72 * smooth_window(h, 7.5, 18.5, 0.5) - 0.05 * bump(h, 12.5, 0.8);
      seasonal = 0.92 - 0.08 * season;  // cooling in summer
      break;
    case LoadClass::industrial:
      shape = c.weekend ? 0.42 + 0.05 * bump(h, 12, 4)
                        : 0.55 + 0.40 * smooth_window(h, 6, 22, 0.3) + 0.03 * bump(h, 10, 2);
      seasonal = 0.97;
      break;
  }
  return std::clamp(shape * seasonal, 0.0, 1.0);
}

double clear_sky(const Calendar& c, double latitude_deg) {
  const double decl =
      23.45 * std::numbers::pi / 180 * std::sin(kTwoPi * (284 + c.day_of_year) / 365.0);
  const double lat = latitude_deg * std::numbers::pi / 180;
  const double hour_angle = (c.hour - 12) * std::numbers::pi / 12;
  const double sin_el =
      std::sin(lat) * std::sin(decl) + std::cos(lat) * std::cos(decl) * std::cos(hour_angle);
  if (sin_el <= 0) return 0;
  // Longer path through the air at low sun (a simple air-mass attenuation).
  return std::pow(sin_el, 1.15);
}

double ambient_temperature(const Calendar& c) {
  const double season = std::cos(kTwoPi * (c.day_of_year - 200) / 365.25);  // +1 mid-July
  return 11 + 8 * season + 5 * std::sin(kTwoPi * (c.hour - 9) / 24);
}

double OuProcess::step(double dt_s, std::mt19937_64& rng) {
  const double a = std::exp(-dt_s / tau_);
  std::normal_distribution<double> n(0, 1);
  x_ = a * x_ + sigma_ * std::sqrt(1 - a * a) * n(rng);
  return x_;
}

CloudProcess::CloudProcess(double cloudiness, double transients_per_h, double transient_s,
                           double depth)
    : cloudiness_(cloudiness), per_h_(transients_per_h), duration_s_(transient_s), depth_(depth) {}

void CloudProcess::set_transients(double per_h, double duration_s, double depth) {
  per_h_ = per_h;
  duration_s_ = duration_s;
  depth_ = depth;
}

double CloudProcess::step(double dt_s, std::mt19937_64& rng) {
  const double cover = std::clamp(cloudiness_ + cover_.step(dt_s, rng) * cloudiness_, 0.0, 1.0);
  double k = 1 - 0.75 * cover;
  if (transient_left_s_ > 0) {
    transient_left_s_ -= dt_s;
  } else if (per_h_ > 0) {
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng) < per_h_ * dt_s / 3600) transient_left_s_ = duration_s_;
  }
  if (transient_left_s_ > 0) k *= 1 - depth_;
  return std::clamp(k, 0.0, 1.0);
}

double WindProcess::step(double dt_s, std::mt19937_64& rng) {
  const double v = std::max(0.0, mean_ + gust_.step(dt_s, rng) * mean_ / 3);
  if (v < 3 || v > 25) return 0;
  if (v >= 12) return 1;
  return (v * v * v - 27) / (1728 - 27);
}

}  // namespace remhart::sim
