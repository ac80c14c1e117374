#pragma once
// Slow and fast dynamics the power flow does not have: the bulk system's frequency (aggregated
// swing equation with load damping and a droop governor with a first-order lag) and the
// substation transformer's temperatures and ageing (IEEE C57.91, clause 7 exponential model).
#include "sim/twin.hpp"

namespace remhart::sim {

/// 2H dΔf/dt = ΔPm − ΔPL − D·Δf,  T_g dΔPm/dt = −Δf/R − ΔPm  (per unit of system load and of
/// nominal frequency). A step of lost generation ΔPL gives a nadir, then settles at
/// −ΔPL·R/(1 + D·R).
class SwingModel {
 public:
  explicit SwingModel(const Dynamics& d) : d_(d) {}
  /// Advances by `dt_s` (exactly: the equations are linear) with the imbalance `delta_pl`
  /// (lost generation or added load, p.u.) held constant.
  void step(double dt_s, double delta_pl);
  double delta_f_pu() const { return df_; }
  double frequency_hz() const { return d_.frequency_hz * (1 + df_); }
  const Dynamics& params() const { return d_; }

 private:
  Dynamics d_;
  double df_ = 0, dpm_ = 0;
};

/// Top-oil and winding hot-spot temperatures and the insulation's loss of life.
class TransformerThermal {
 public:
  explicit TransformerThermal(const TwinTransformer& spec) : s_(spec) {}
  /// Starts at the steady state of `load_pu` at `ambient_c`.
  void settle(double load_pu, double ambient_c);
  /// Advances by `dt_s` at `load_pu` (of rating) and `ambient_c`, with `extra_loss_pu` more
  /// winding loss (per unit of the rated load loss: a fault's heating).
  void step(double dt_s, double load_pu, double ambient_c, double extra_loss_pu = 0);
  double hot_spot_c() const { return ambient_ + top_oil_rise_ + hot_spot_rise_; }
  double top_oil_c() const { return ambient_ + top_oil_rise_; }
  /// Ageing acceleration factor at the current hot spot (1 at 110 °C).
  double aging_factor() const;
  /// Equivalent hours of normal life consumed since the start.
  double life_consumed_h() const { return consumed_h_; }

 private:
  /// Ultimate rises at a load loss of `k2` per unit of the rated load loss (k² without faults).
  double ultimate_oil_rise(double k2) const;
  double ultimate_spot_rise(double k2) const;
  TwinTransformer s_;
  double ambient_ = 20, top_oil_rise_ = 0, hot_spot_rise_ = 0, consumed_h_ = 0;
};

}  // namespace remhart::sim
