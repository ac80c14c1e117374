// Each event scenario's defaults produce the event its name promises at the meters nearest to it
// (IEEE 1159: a sag below 0.9 p.u., a swell above 1.1 p.u.; EN 50160: voltage unbalance above
// 2 %; an overload exceeds a rating), at any time of day, on the demo twin, and every sample of
// the run passes the ingest checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

#include "ingest/validate.hpp"
#include "sim/engine.hpp"
#include "sim/io/twin_json.hpp"

#include "demo_twin.hpp"

using namespace remhart;
using namespace remhart::sim;
using namespace remhart::sim::testing;

namespace {

// Per meter, over the run: the extremes of its phase voltages (p.u. of nominal), its largest
// voltage unbalance (largest phase deviation from the mean, EN 50160's approximation) and its
// highest current (× rated), with the worst label severity it carried.
struct Extremes {
  double v_min = 9, v_max = 0, unbalance = 0, loading = 0;
  Severity worst = Severity::none;
  std::string event = "none";
};

std::map<std::string, Extremes> run(const std::string& id, core::TimeUs start, int steps,
                                    std::map<std::string, double> numbers = {}) {
  ScenarioParams p;
  p.numbers = std::move(numbers);
  p.numbers.emplace("noise", 0);
  p.numbers.emplace("data_fault_rate_per_h", 0);
  Simulator sim(demo(), build_scenario(id, p, demo()), {start, 1, 5});
  std::map<std::string, Extremes> out;
  for (int s = 0; s < steps; ++s) {
    const auto& r = sim.step();
    for (std::size_t d = 0; d < r.readings.size(); ++d) {
      const auto& rd = r.readings[d];
      if (!rd.present) continue;
      const auto& dev = demo().devices[d].device;
      const auto err = ingest::validate({dev.id, r.ts, rd.values}, dev, r.ts, {});
      EXPECT_FALSE(err) << id << " " << dev.id << ": "
                        << (err ? err->field + " " + err->message : "");
      auto& x = out[dev.id];
      const auto& v = rd.values.v;
      const double mean = (v[0] + v[1] + v[2]) / 3;
      for (int ph = 0; ph < 3; ++ph) {
        x.v_min = std::min(x.v_min, v[ph] / dev.nominal_voltage);
        x.v_max = std::max(x.v_max, v[ph] / dev.nominal_voltage);
        x.unbalance = std::max(x.unbalance, std::fabs(v[ph] - mean) / mean);
        x.loading = std::max(x.loading, rd.values.i[ph] / dev.rated_current);
      }
      if (rd.label.event != "none" && rd.label.severity >= x.worst) {
        x.worst = rd.label.severity;
        x.event = rd.label.event;
      }
    }
  }
  return out;
}

const Extremes& at(const std::map<std::string, Extremes>& m, const std::string& device) {
  const auto it = m.find(device);
  if (it == m.end()) throw std::out_of_range(device);
  return it->second;
}

}  // namespace

// A fault through 3 Ω at the 33 kV bus: a sag to ~0.77 p.u. at the meters on either side of the
// substation transformer, graded moderate; the range spans a minor dip to a deep sag.
TEST(ScenarioDefaults, VoltageSagFallsBelowNinetyPercentNearTheFault) {
  for (const auto t : kTimes) {
    const auto m = run("voltage_sag", t, 90);
    for (const char* near : {"sub-hv", "fdr1-head"}) {
      EXPECT_LT(at(m, near).v_min, 0.9) << near << " at " << t;
      EXPECT_EQ(at(m, near).event, "voltage_sag");
      EXPECT_EQ(at(m, near).worst, Severity::moderate) << near;
    }
  }
  const auto mild = run("voltage_sag", kSummerNoon, 90, {{"fault_impedance_ohm", 1000}});
  EXPECT_GT(at(mild, "sub-hv").v_min, 0.9);
  EXPECT_EQ(at(mild, "sub-hv").worst, Severity::minor);
  // Down to the bound, a bolted fault, at any hour (the sag and a fault on a lateral).
  for (const auto t : kTimes) {
    for (const double ohm : {0.5, 0.01}) {
      const auto deep = run("voltage_sag", t, 90, {{"fault_impedance_ohm", ohm}});
      EXPECT_LT(at(deep, "sub-hv").v_min, 0.5) << t;
      EXPECT_EQ(at(deep, "sub-hv").worst, Severity::severe) << t;
    }
    const auto lateral = run("line_fault", t, 90, {{"fault_impedance_ohm", 0.01}});
    EXPECT_LT(at(lateral, "latA-head").v_min, 0.5) << t;
  }
}

// An 8 Mvar bank switched in at the 11 kV busbar while half the load drops off: a swell above
// 1.1 p.u. at the busbar's meter.
TEST(ScenarioDefaults, VoltageSwellRisesAboveOneTenAtTheBusbar) {
  for (const auto t : kTimes) {
    const auto m = run("voltage_swell", t, 90);
    EXPECT_GT(at(m, "fdr1-head").v_max, 1.1) << t;
    EXPECT_EQ(at(m, "fdr1-head").event, "voltage_swell");
    EXPECT_EQ(at(m, "fdr1-head").worst, Severity::moderate);
  }
  const auto mild =
      run("voltage_swell", kSummerNoon, 90, {{"capacitor_kvar", 1000}, {"load_rejection", 0}});
  EXPECT_LT(at(mild, "fdr1-head").v_max, 1.1);
  EXPECT_EQ(at(mild, "fdr1-head").worst, Severity::minor);
}

// Single-phase load piled onto phase a of lateral A: voltage unbalance above EN 50160's 2 % at
// its far meter, graded per meter; none without the added load at night.
TEST(ScenarioDefaults, PhaseImbalanceExceedsTwoPercentOnTheLateral) {
  for (const auto t : kTimes) {
    const auto m = run("phase_imbalance", t, 90);
    EXPECT_GT(at(m, "cust-A1-3").unbalance, 0.02) << t;
    EXPECT_EQ(at(m, "cust-A1-3").event, "phase_imbalance");
    EXPECT_GE(at(m, "cust-A1-3").worst, Severity::moderate);
    EXPECT_LT(at(m, "sub-hv").unbalance, 0.02);  // across the transformer, diluted
    EXPECT_EQ(at(m, "sub-hv").worst, Severity::minor);
  }
  const auto mild = run("phase_imbalance", kNight, 90, {{"added_kw", 0}});
  EXPECT_LT(at(mild, "cust-A1-3").unbalance, 0.02);
  EXPECT_EQ(at(mild, "cust-A1-3").worst, Severity::minor);
}

// Lateral A driven to 1.5 × its head branch's rating whatever the hour: the head meter's rating
// exceeded, graded severe there; a loading of 0.5 stays within it.
TEST(ScenarioDefaults, OverloadExceedsTheLateralsRatingAtAnyHour) {
  for (const auto t : kTimes) {
    const auto m = run("overload", t, 90);
    EXPECT_GT(at(m, "latA-head").loading, 1.2) << t;
    EXPECT_EQ(at(m, "latA-head").event, "overload");
    EXPECT_EQ(at(m, "latA-head").worst, Severity::severe);
  }
  const auto mild = run("overload", kNight, 90, {{"loading", 0.5}});
  EXPECT_LT(at(mild, "latA-head").loading, 1);
  EXPECT_EQ(at(mild, "latA-head").worst, Severity::minor);
}
