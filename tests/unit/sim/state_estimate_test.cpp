// Distribution state estimation of the demo twin from its 13 meters and the twin's
// pseudo-measurements, scored against the simulator's true bus voltages: the RMSE of |V| at the
// buses no meter measures, and the share of true values inside the estimate's ±3σ.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "grid/meter_placement.hpp"
#include "grid/pseudo_measurements.hpp"
#include "sim/engine.hpp"
#include "sim/forecast.hpp"
#include "sim/io/twin_json.hpp"

#include "demo_twin.hpp"

using namespace remhart;
using namespace remhart::sim;
using namespace remhart::sim::testing;

namespace {

struct Score {
  double rmse = 0, inside = 0, worst = 0;
  int estimates = 0, points = 0;
};

// Every `every` steps of a run: estimate from the meters (noisy, as stored) and score.
Score score(const std::string& scenario, core::TimeUs start, int steps, int every,
            std::map<std::string, double> params = {}) {
  ScenarioParams p;
  p.numbers = std::move(params);
  p.numbers.emplace("data_fault_rate_per_h", 0);
  const auto model = study_model(demo());
  Simulator sim(demo(), build_scenario(scenario, p, demo()), {start, 1, 11});
  Score out;
  double sq = 0;
  int inside = 0;
  for (int s = 1; s <= steps; ++s) {
    const auto& r = sim.step();
    if (s % every) continue;
    std::vector<grid::MeterReading> readings;
    for (std::size_t d = 0; d < r.readings.size(); ++d) {
      const auto& rd = r.readings[d];
      if (!rd.present) continue;
      const auto& dev = demo().devices[d].device;
      const auto& v = rd.values;
      readings.push_back({dev.element, (v.v[0] + v.v[1] + v.v[2]) / 3 / dev.nominal_voltage,
                          v.p[0] + v.p[1] + v.p[2], v.q[0] + v.q[1] + v.q[2], dev.accuracy_class,
                          3 * dev.nominal_voltage * dev.rated_current});
    }
    const auto meters = grid::meter_measurements(model, readings);
    auto forecast = bus_forecast(demo(), model, r.ts);
    grid::scale_to_feeder_head(model, meters.measurements, forecast);
    auto ms = meters.measurements;
    const auto pseudo = grid::pseudo_measurements(model, forecast, meters.measurements);
    ms.insert(ms.end(), pseudo.begin(), pseudo.end());
    const auto e = grid::estimate_state(model, ms);
    EXPECT_TRUE(e.converged) << scenario << " step " << s;
    std::set<std::size_t> metered;
    for (const auto& m : meters.measurements) {
      if (m.kind == grid::Measurement::Kind::vm) metered.insert(m.element);
    }
    const auto& truth = sim.solution().vm;
    for (std::size_t k = 0; k < truth.size(); ++k) {
      if (metered.count(k) || model.buses[k].type == grid::BusType::ref) continue;
      const double err = e.vm[k] - truth[k];
      sq += err * err;
      out.worst = std::max(out.worst, std::fabs(err));
      if (std::fabs(err) <= 3 * e.vm_sigma[k]) ++inside;
      ++out.points;
    }
    ++out.estimates;
  }
  out.rmse = std::sqrt(sq / std::max(1, out.points));
  out.inside = static_cast<double>(inside) / std::max(1, out.points);
  return out;
}

}  // namespace

// A normal day and three event scenarios, at a summer noon, a winter evening peak and a night:
// every estimate converges, |V| at the unmetered buses within 0.005 p.u. RMS, and at least 90 %
// of the true values inside ±3σ (the deviations are honest, not optimistic).
TEST(DistributionStateEstimation, UnmeteredBusesAreEstimatedWithinTheirReportedUncertainty) {
  for (const auto t : {kSummerNoon, kWinterEvening, kNight}) {
    for (const char* sc : {"normal_day", "voltage_sag", "overload", "phase_imbalance"}) {
      std::map<std::string, double> params;
      if (std::string(sc) != "normal_day") params["start_s"] = 30;
      const auto s = score(sc, t, 120, 10, params);
      std::printf("%-16s at %lld: |V| RMSE %.4f p.u. (worst %.4f), %.0f %% inside ±3σ, %d points\n",
                  sc, static_cast<long long>(t), s.rmse, s.worst, 100 * s.inside, s.points);
      EXPECT_EQ(s.estimates, 12);
      EXPECT_LT(s.rmse, 0.005) << sc << " at " << t;
      EXPECT_GE(s.inside, 0.9) << sc << " at " << t;
    }
  }
}
