#include "sim/dynamics.hpp"

#include <algorithm>
#include <cmath>
#include <complex>

namespace remhart::sim {

void SwingModel::step(double dt_s, double delta_pl) {
  // x' = A x + u is linear with u held constant over the step: x(t + dt) = x* + e^{A dt} (x − x*)
  // exactly, with x* the steady state (A x* = −u) and the 2×2 exponential by Cayley–Hamilton:
  // e^{A t} = e^{s t} [(cosh q t − s sinh(q t)/q) I + sinh(q t)/q A], s = tr A / 2,
  // q = √(s² − det A) (complex when the response oscillates). Any step length, no sub-steps.
  const double a = -d_.damping_d / (2 * d_.inertia_h_s), b = 1 / (2 * d_.inertia_h_s);
  const double c = -1 / (d_.droop_r * d_.governor_tg_s), d = -1 / d_.governor_tg_s;
  const double u0 = -delta_pl / (2 * d_.inertia_h_s);
  const double det = a * d - b * c;
  const double f_ss = -u0 * d / det, pm_ss = u0 * c / det;  // A x* = −u
  const double s = (a + d) / 2;
  const std::complex<double> q = std::sqrt(std::complex<double>(s * s - det, 0));
  const double t = dt_s;
  const std::complex<double> qt = q * t;
  const double ch = std::cosh(qt).real();
  const double sh_q = std::abs(q) < 1e-12 ? t : (std::sinh(qt) / q).real();
  const double e = std::exp(s * t);
  const double m11 = e * (ch - s * sh_q + sh_q * a), m12 = e * sh_q * b;
  const double m21 = e * sh_q * c, m22 = e * (ch - s * sh_q + sh_q * d);
  const double x1 = df_ - f_ss, x2 = dpm_ - pm_ss;
  df_ = f_ss + m11 * x1 + m12 * x2;
  dpm_ = pm_ss + m21 * x1 + m22 * x2;
}

double TransformerThermal::ultimate_oil_rise(double k2) const {
  const double r = s_.loss_ratio;
  return s_.top_oil_rise_c * std::pow((k2 * r + 1) / (r + 1), s_.oil_exponent_n);
}

double TransformerThermal::ultimate_spot_rise(double k2) const {
  return s_.hot_spot_gradient_c * std::pow(k2, s_.winding_exponent_m);
}

void TransformerThermal::settle(double load_pu, double ambient_c) {
  ambient_ = ambient_c;
  top_oil_rise_ = ultimate_oil_rise(load_pu * load_pu);
  hot_spot_rise_ = ultimate_spot_rise(load_pu * load_pu);
}

void TransformerThermal::step(double dt_s, double load_pu, double ambient_c, double extra_loss_pu) {
  ambient_ = ambient_c;
  const double k2 = load_pu * load_pu + extra_loss_pu;
  const double a_oil = std::exp(-dt_s / (60 * s_.oil_time_constant_min));
  const double a_w = std::exp(-dt_s / (60 * s_.winding_time_constant_min));
  top_oil_rise_ = ultimate_oil_rise(k2) + (top_oil_rise_ - ultimate_oil_rise(k2)) * a_oil;
  hot_spot_rise_ = ultimate_spot_rise(k2) + (hot_spot_rise_ - ultimate_spot_rise(k2)) * a_w;
  consumed_h_ += aging_factor() * dt_s / 3600;
}

double TransformerThermal::aging_factor() const {
  return std::exp(15000.0 / 383 - 15000.0 / (hot_spot_c() + 273));
}

}  // namespace remhart::sim
