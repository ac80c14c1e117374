#include "sim/demo_feed.hpp"

#include <cmath>
#include <numbers>

#include <fmt/format.h>

namespace remhart::sim {

DemoFeed::DemoFeed(std::size_t devices, std::uint64_t seed) : rng_(seed) {
  std::uniform_real_distribution<double> kw(2.0, 12.0);
  for (std::size_t k = 0; k < devices; ++k) {
    core::Device d;
    d.id = fmt::format("demo-m{:02}", k + 1);
    d.name = fmt::format("Demo meter {}", k + 1);
    d.kind = "meter";
    d.nominal_voltage = 230.0;
    d.rated_current = 100.0;
    d.nominal_frequency = 50.0;
    d.site = k < devices / 2 ? "demo-north" : "demo-south";
    d.tags = {"demo"};
    devices_.push_back(d);
    base_kw_.push_back(kw(rng_));
  }
}

std::vector<core::Sample> DemoFeed::step(core::TimeUs t) {
  std::normal_distribution<double> noise(0.0, 1.0);
  const double hour = std::fmod(static_cast<double>(t) / 3.6e9, 24.0);
  // Residential shape: night trough, morning and evening peaks.
  const double shape = 0.45 + 0.25 * std::exp(-std::pow((hour - 8.0) / 1.5, 2)) +
                       0.45 * std::exp(-std::pow((hour - 19.0) / 2.0, 2));
  freq_ += 0.002 * noise(rng_) - 0.05 * (freq_ - 50.0);
  std::vector<core::Sample> out;
  out.reserve(devices_.size());
  for (std::size_t k = 0; k < devices_.size(); ++k) {
    core::Sample s;
    s.device = devices_[k].id;
    s.ts = t;
    auto& v = s.values;
    for (std::size_t ph = 0; ph < 3; ++ph) {
      const double unbalance =
          1.0 + 0.06 * std::sin(static_cast<double>(k) + 2.1 * static_cast<double>(ph));
      const double p =
          std::max(0.05, base_kw_[k] * shape * unbalance * (1.0 + 0.03 * noise(rng_))) * 1000.0;
      const double pf = 0.93 + 0.03 * std::sin(static_cast<double>(k + ph));
      const double q = p * std::tan(std::acos(pf));
      const double volts = 236.0 - 0.0009 * p + 0.4 * noise(rng_);
      v.v[ph] = volts;
      v.p[ph] = p;
      v.q[ph] = q;
      v.i[ph] = std::hypot(p, q) / volts;
      v.thd_v[ph] = std::max(0.5, 2.0 + 0.8 * shape + 0.1 * noise(rng_));
    }
    v.f = freq_;
    v.temp = 25.0 + 15.0 * shape + 0.2 * noise(rng_);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace remhart::sim
