#include "sim/dynamics.hpp"

#include <algorithm>
#include <cmath>

namespace remhart::sim {

void SwingModel::step(double dt_s, double delta_pl) {
  const int n = std::max(1, static_cast<int>(std::ceil(dt_s / 0.01)));
  const double h = dt_s / n;
  auto deriv = [&](double f, double pm, double& df, double& dpm) {
    df = (pm - delta_pl - d_.damping_d * f) / (2 * d_.inertia_h_s);
    dpm = (-f / d_.droop_r - pm) / d_.governor_tg_s;
  };
  for (int k = 0; k < n; ++k) {
    double k1f, k1p, k2f, k2p, k3f, k3p, k4f, k4p;
    deriv(df_, dpm_, k1f, k1p);
    deriv(df_ + h / 2 * k1f, dpm_ + h / 2 * k1p, k2f, k2p);
    deriv(df_ + h / 2 * k2f, dpm_ + h / 2 * k2p, k3f, k3p);
    deriv(df_ + h * k3f, dpm_ + h * k3p, k4f, k4p);
    df_ += h / 6 * (k1f + 2 * k2f + 2 * k3f + k4f);
    dpm_ += h / 6 * (k1p + 2 * k2p + 2 * k3p + k4p);
  }
}

double TransformerThermal::ultimate_oil_rise(double k) const {
  const double r = s_.loss_ratio;
  return s_.top_oil_rise_c * std::pow((k * k * r + 1) / (r + 1), s_.oil_exponent_n);
}

double TransformerThermal::ultimate_spot_rise(double k) const {
  return s_.hot_spot_gradient_c * std::pow(k * k, s_.winding_exponent_m);
}

void TransformerThermal::settle(double load_pu, double ambient_c) {
  ambient_ = ambient_c;
  top_oil_rise_ = ultimate_oil_rise(load_pu);
  hot_spot_rise_ = ultimate_spot_rise(load_pu);
}

void TransformerThermal::step(double dt_s, double load_pu, double ambient_c) {
  ambient_ = ambient_c;
  const double a_oil = std::exp(-dt_s / (60 * s_.oil_time_constant_min));
  const double a_w = std::exp(-dt_s / (60 * s_.winding_time_constant_min));
  top_oil_rise_ = ultimate_oil_rise(load_pu) + (top_oil_rise_ - ultimate_oil_rise(load_pu)) * a_oil;
  hot_spot_rise_ =
      ultimate_spot_rise(load_pu) + (hot_spot_rise_ - ultimate_spot_rise(load_pu)) * a_w;
  consumed_h_ += aging_factor() * dt_s / 3600;
}

double TransformerThermal::aging_factor() const {
  return std::exp(15000.0 / 383 - 15000.0 / (hot_spot_c() + 273));
}

}  // namespace remhart::sim
