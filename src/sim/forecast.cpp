#include "sim/forecast.hpp"

#include <cmath>
#include <unordered_map>

#include "sim/profiles.hpp"

namespace remhart::sim {

namespace {

// Deviations: a load's demand varies by ~30 % around its class profile (weather, behaviour) plus
// 5 % of its peak; PV by 40 % of its clear-sky output (clouds); an unscheduled battery by half
// its rating; wind by 40 % of its rating around 30 %.
constexpr double kLoadRel = 0.3, kLoadFloor = 0.05, kPvRel = 0.4, kMeanCloudFactor = 0.7;

struct Sum {
  double p = 0, q = 0, var_p = 0, var_q = 0;
  bool any = false;
};

}  // namespace

std::vector<grid::BusForecast> bus_forecast(const Twin& twin, const grid::Network& model,
                                            core::TimeUs at) {
  const Calendar cal = calendar(at);
  std::unordered_map<std::int64_t, Sum> by_bus;
  for (const auto& l : twin.loads) {
    auto& s = by_bus[l.bus];
    const double p = l.peak_kw / 1000 * load_shape(l.cls, cal);
    const double tan_phi = std::tan(std::acos(l.power_factor));
    const double sigma = kLoadRel * p + kLoadFloor * l.peak_kw / 1000;
    s.p += p;
    s.q += p * tan_phi;
    s.var_p += sigma * sigma;
    s.var_q += sigma * tan_phi * sigma * tan_phi;
    s.any = true;
  }
  const double sun = clear_sky(cal, twin.latitude_deg);
  for (const auto& pv : twin.pv) {
    auto& s = by_bus[pv.bus];
    const double clear = pv.peak_kw / 1000 * sun;
    s.p -= clear * kMeanCloudFactor;
    s.var_p += (kPvRel * clear) * (kPvRel * clear);
    s.any = true;
  }
  for (const auto& b : twin.batteries) {
    auto& s = by_bus[b.bus];
    const double sigma = 0.5 * b.power_kw / 1000;
    s.var_p += sigma * sigma;
    s.any = true;
  }
  for (const auto& w : twin.wind) {
    auto& s = by_bus[w.bus];
    s.p -= 0.3 * w.rated_kw / 1000;
    s.var_p += (0.4 * w.rated_kw / 1000) * (0.4 * w.rated_kw / 1000);
    s.any = true;
  }
  std::vector<grid::BusForecast> out(model.buses.size());
  for (std::size_t k = 0; k < model.buses.size(); ++k) {
    const auto& b = model.buses[k];
    const auto it = by_bus.find(b.id);
    if (it != by_bus.end() && it->second.any) {
      const auto& s = it->second;
      out[k] = {s.p, s.q, std::sqrt(s.var_p), std::sqrt(s.var_q)};
    } else if (b.pd != 0 || b.qd != 0) {
      out[k] = {b.pd, b.qd, 0.5 * std::fabs(b.pd), 0.5 * std::fabs(b.qd)};
    }
  }
  return out;
}

}  // namespace remhart::sim
