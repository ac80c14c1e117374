// The physics simulator: the demo twin file, scenario parameters, and physical consistency of
// the generated samples (power triangle, conservation, Kirchhoff, frequency nadir, sags, trips).
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ingest/validate.hpp"
#include "sim/engine.hpp"
#include "sim/io/twin_json.hpp"

#include "demo_twin.hpp"

using namespace remhart;
using namespace remhart::sim;
using namespace remhart::sim::testing;

namespace {

std::string twin_path() {
  return (std::filesystem::path(REMHART_SOURCE_DIR) / "share" / "twins" / "demo-feeder.json")
      .string();
}

std::string demo_text() {
  std::ifstream in(twin_path());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Scenario scenario(const std::string& id, std::map<std::string, double> numbers = {},
                  std::map<std::string, std::string> texts = {}) {
  ScenarioParams p;
  p.numbers = std::move(numbers);
  p.texts = std::move(texts);
  return build_scenario(id, p, demo());
}

std::size_t device(const std::string& id) {
  const auto& d = demo().devices;
  for (std::size_t k = 0; k < d.size(); ++k) {
    if (d[k].device.id == id) return k;
  }
  throw std::out_of_range(id);
}

double total(const std::array<double, 3>& x) {
  return x[0] + x[1] + x[2];
}

}  // namespace

TEST(TwinFile, DemoTwinHasWhatTheDemoNeeds) {
  const auto& t = demo();
  EXPECT_GE(t.network.buses.size(), 30u);
  EXPECT_GE(t.devices.size(), 10u);
  EXPECT_FALSE(t.pv.empty());
  EXPECT_FALSE(t.batteries.empty());
  EXPECT_FALSE(t.capacitors.empty());
  EXPECT_GT(t.transformer.rated_kva, 0);
  int laterals = 0;  // buses with three or more neighbours start laterals
  std::map<std::int64_t, int> degree;
  for (const auto& b : t.network.branches) {
    ++degree[b.from];
    ++degree[b.to];
  }
  for (const auto& [bus, d] : degree) laterals += d >= 3;
  EXPECT_GE(laterals, 3);
  // The study model carries the loads at their peak and the banks that are on, as shunts.
  const auto model = study_model(t);
  double pd = 0, peak = 0, bs = 0, kvar = 0;
  for (const auto& b : model.buses) {
    pd += b.pd;
    bs += b.bs;
  }
  for (const auto& l : t.loads) peak += l.peak_kw / 1000;
  for (const auto& c : t.capacitors) kvar += c.on ? c.kvar / 1000 : 0;
  EXPECT_NEAR(pd, peak, 1e-9);
  EXPECT_GT(kvar, 0);
  EXPECT_NEAR(bs, kvar, 1e-9);
}

TEST(TwinFile, MalformedFilesNameTheProblem) {
  const std::string good = demo_text();
  auto error_of = [](const std::string& text) {
    try {
      io::parse_twin_json(text);
    } catch (const grid::NetworkError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto replaced = [&](const std::string& from, const std::string& to) {
    auto s = good;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  EXPECT_EQ(error_of("{"), "not valid JSON");
  EXPECT_NE(error_of(replaced("\"remhart-twin\"", "\"other\"")).find("twin.format"),
            std::string::npos);
  EXPECT_NE(
      error_of(replaced("\"peak_kw\": 600.0", "\"peak_kw\": \"600\"")).find("loads[0].peak_kw"),
      std::string::npos);
  EXPECT_NE(
      error_of(replaced("\"class\": \"commercial\"", "\"class\": \"farm\"")).find("loads[0].class"),
      std::string::npos);
  EXPECT_NE(
      error_of(replaced("\"element\": \"branch:2-3:from\"", "\"element\": \"branch:2-9:from\""))
          .find("devices[0].element"),
      std::string::npos);
  EXPECT_NE(error_of(replaced("\"nominal_voltage\": 19053", "\"nominal_voltage\": 230"))
                .find("devices[0].nominal_voltage"),
            std::string::npos);
  EXPECT_NE(error_of(replaced("\"latitude_deg\"", "\"latitude\"")).find("latitude"),
            std::string::npos);
  EXPECT_NE(error_of(replaced("\"transformer\": {\"branch\": \"2-3\"",
                              "\"transformer\": {\"branch\": \"2-x\""))
                .find("transformer.branch"),
            std::string::npos);
  // A meshed network (an extra branch closing a loop) is refused.
  EXPECT_NE(error_of(replaced("\"branches\": [",
                              "\"branches\": [{\"from\": 19, \"to\": 22, \"x_pu\": 0.01},"))
                .find("radial"),
            std::string::npos);
}

TEST(Scenarios, CatalogueAndParameterErrors) {
  std::set<std::string> ids;
  for (const auto& d : scenario_catalogue()) ids.insert(d.id);
  for (const char* id : {"normal_day", "peak_load", "voltage_sag", "voltage_swell", "overload",
                         "frequency_excursion", "renewable_intermittency", "harmonic_pollution",
                         "phase_imbalance", "line_fault", "transformer_degradation", "custom"}) {
    EXPECT_TRUE(ids.count(id)) << id;
  }
  EXPECT_EQ(canonical_scenario("normal"), "normal_day");
  EXPECT_EQ(canonical_scenario("overcurrent"), "overload");
  EXPECT_EQ(canonical_scenario("frequency_drift"), "frequency_excursion");
  EXPECT_EQ(canonical_scenario("fault"), "line_fault");
  EXPECT_FALSE(canonical_scenario("meteor"));
  auto field_of = [](auto&& fn) {
    try {
      fn();
    } catch (const ParamError& e) {
      return e.field();
    }
    return std::string("no error");
  };
  EXPECT_EQ(field_of([] { scenario("meteor"); }), "scenario");
  EXPECT_EQ(field_of([] { scenario("voltage_sag", {{"nope", 1}}); }), "params.nope");
  EXPECT_EQ(field_of([] {
              scenario("voltage_sag", {{"fault_impedance_ohm", -1}});
            }),
            "params.fault_impedance_ohm");
  EXPECT_EQ(field_of([] { scenario("voltage_sag", {{"bus", 999}}); }), "params.bus");
  EXPECT_EQ(field_of([] { scenario("line_fault", {}, {{"branch", "1-19"}}); }), "params.branch");
  EXPECT_EQ(field_of([] { scenario("line_fault", {}, {{"branch", "six"}}); }), "params.branch");
  EXPECT_EQ(field_of([] {
              scenario("custom", {}, {{"voltage_pattern", "wobbly"}});
            }),
            "params.voltage_pattern");
  EXPECT_EQ(field_of([] { scenario("custom", {{"num_points", 2.5}}); }), "params.num_points");
  EXPECT_EQ(field_of([] {
              scenario("custom", {{"voltage_min", 250}, {"voltage_max", 240}});
            }),
            "params.voltage_min");
  EXPECT_EQ(field_of([] {
              scenario("custom", {{"voltage_pattern", 1}});
            }),
            "params.voltage_pattern");
  const auto custom = scenario("custom", {{"num_points", 100}, {"interval", 5}});
  EXPECT_EQ(custom.duration_s, 500);
  EXPECT_EQ(custom.step_s, 5);
}

// Every scenario runs and every sample it produces passes the ingest checks (the original's
// simulator had a scenario that always failed validation).
TEST(Simulator, EveryScenarioProducesValidSamples) {
  for (const auto& def : scenario_catalogue()) {
    std::map<std::string, double> params;
    for (const auto& p : def.params) {
      if (p.name == "start_s") params["start_s"] = 30;
    }
    if (def.id == "custom") params = {{"inject_fault", 1}, {"fault_start_point", 30}};
    Simulator sim(demo(), scenario(def.id, params), {kSummerNoon, 1.0, 7});
    std::size_t present = 0;
    for (int s = 0; s < 120; ++s) {
      const auto& r = sim.step();
      for (std::size_t d = 0; d < r.readings.size(); ++d) {
        if (!r.readings[d].present) continue;
        ++present;
        core::Sample sample{demo().devices[d].device.id, r.ts, r.readings[d].values};
        const auto err = ingest::validate(sample, demo().devices[d].device, r.ts, {});
        ASSERT_FALSE(err) << def.id << " step " << s << " " << sample.device << ": " << err->field
                          << " " << err->message;
      }
    }
    EXPECT_GT(present, 100u) << def.id;
  }
}

TEST(Simulator, NormalDayStaysWithinLimits) {
  for (const auto start : {kSummerNoon, kWinterEvening}) {
    Simulator sim(demo(), scenario("normal_day"), {start - 12 * 3600 * core::kUsPerSecond, 30, 3});
    double vmin = 2, vmax = 0, fdev = 0;
    for (int s = 0; s < 2880; ++s) {  // one day at 30 s
      const auto& r = sim.step();
      for (std::size_t d = 0; d < r.readings.size(); ++d) {
        const auto& rd = r.readings[d];
        if (!rd.present) continue;
        const double nominal = demo().devices[d].device.nominal_voltage;
        for (double v : rd.values.v) {
          vmin = std::min(vmin, v / nominal);
          vmax = std::max(vmax, v / nominal);
        }
        fdev = std::max(fdev, std::fabs(rd.values.f - 50));
      }
    }
    EXPECT_GE(vmin, 0.95) << vmax;
    EXPECT_LE(vmax, 1.05);
    EXPECT_LE(fdev, 0.05);
  }
}

TEST(Simulator, PerPhasePowerMatchesVoltageTimesCurrent) {
  Simulator sim(demo(), scenario("normal_day"), {kWinterEvening, 1, 11});
  int checked = 0;
  for (int s = 0; s < 300; ++s) {
    const auto& r = sim.step();
    for (const auto& rd : r.readings) {
      if (!rd.present) continue;
      const auto& v = rd.values;
      for (int ph = 0; ph < 3; ++ph) {
        const double s_va = std::hypot(v.p[ph], v.q[ph]);
        const double vi = v.v[ph] * v.i[ph];
        // P and Q are the meter's V·I·cos φ and V·I·sin φ: equal up to the quantisation of
        // V (0.1 V), I (0.01 A), P and Q (1 W/var).
        const double tol = 0.05 * v.i[ph] + 0.005 * v.v[ph] + 2;
        EXPECT_NEAR(s_va, vi, tol);
        ++checked;
      }
      const auto d = core::derive(v);
      EXPECT_DOUBLE_EQ(d.p_total, total(v.p));
    }
  }
  EXPECT_GT(checked, 5000);
}

// The substation meter sees every load and every DER plus the power-flow losses below it.
TEST(Simulator, SubstationPowerEqualsLoadsMinusDerPlusLosses) {
  for (double noise : {0.0, 1.0}) {
    Simulator sim(demo(), scenario("normal_day", {{"noise", noise}, {"data_fault_rate_per_h", 0}}),
                  {kSummerNoon, 60, 5});
    const auto sub = device("sub-hv");
    for (int s = 0; s < 30; ++s) {
      const auto& r = sim.step();
      double expected = 0;
      for (std::size_t k = 0; k < demo().network.buses.size(); ++k) {
        expected += sim.load_mw()[k] - sim.der_mw()[k];
      }
      const auto& net = demo().network;
      for (std::size_t b = 0; b < net.branches.size(); ++b) {
        if (net.branches[b].from == 1) continue;  // the source branch is above the meter
        const auto& f = sim.solution().flows[b];
        expected += f.p_from + f.p_to;
      }
      const double metered = total(r.readings[sub].values.p) / 1e6;
      const double tol = noise == 0 ? 1e-4 * expected + 1e-4 : 0.01 * expected;
      EXPECT_NEAR(metered, expected, tol) << "noise " << noise << " step " << s;
    }
  }
}

// Kirchhoff at the lateral's junction: the head current is the sum of the branch currents.
TEST(Simulator, LateralHeadCurrentIsTheSumOfItsBranches) {
  Simulator sim(demo(), scenario("normal_day", {{"data_fault_rate_per_h", 0}}),
                {kWinterEvening, 10, 8});
  const auto head = device("latA-head"), b1 = device("latA1"), b2 = device("latA2");
  for (int s = 0; s < 60; ++s) {
    const auto& r = sim.step();
    for (int ph = 0; ph < 3; ++ph) {
      auto phasor = [&](std::size_t d) {  // I = conj(S / V), V as the angle reference
        const auto& v = r.readings[d].values;
        return std::conj(std::complex<double>(v.p[ph], v.q[ph]) / v.v[ph]);
      };
      const double head_i = r.readings[head].values.i[ph];
      const double sum_i = std::abs(phasor(b1) + phasor(b2));
      EXPECT_NEAR(head_i, sum_i, 0.01 * head_i) << "phase " << ph << " step " << s;
    }
  }
}

namespace {

// Analytic step response of the linear swing + governor model, x = (Δf, ΔPm):
// x' = A x + b, x(0) = 0  →  x(t) = V diag((e^{λt} − 1)/λ) V⁻¹ b, evaluated in closed form.
double analytic_nadir_hz(const Dynamics& d, double loss) {
  using C = std::complex<double>;
  const double a11 = -d.damping_d / (2 * d.inertia_h_s), a12 = 1 / (2 * d.inertia_h_s);
  const double a21 = -1 / (d.droop_r * d.governor_tg_s), a22 = -1 / d.governor_tg_s;
  const double b1 = -loss / (2 * d.inertia_h_s);
  const C tr = a11 + a22, det = a11 * a22 - a12 * a21;
  const C disc = std::sqrt(tr * tr - 4.0 * det);
  const C l1 = (tr + disc) / 2.0, l2 = (tr - disc) / 2.0;
  // Eigenvectors (a12, λ − a11); b = c1 v1 + c2 v2 with b = (b1, 0).
  const C v1a = a12, v1b = l1 - a11, v2a = a12, v2b = l2 - a11;
  const C detv = v1a * v2b - v2a * v1b;
  const C c1 = (b1 * v2b) / detv, c2 = (-b1 * v1b) / detv;
  double nadir = 0;
  for (double t = 0; t < 30; t += 1e-3) {
    const C x = c1 * v1a * (std::exp(l1 * t) - 1.0) / l1 + c2 * v2a * (std::exp(l2 * t) - 1.0) / l2;
    nadir = std::min(nadir, x.real());
  }
  return nadir * d.frequency_hz;
}

}  // namespace

TEST(Simulator, FrequencyNadirMatchesTheSwingModel) {
  Twin twin = demo();
  twin.dynamics.wander_hz = 0;
  for (const auto& [h, loss] : std::vector<std::pair<double, double>>{{5, 0.05}, {3, 0.1}}) {
    ScenarioParams p;
    p.numbers = {{"start_s", 1},
                 {"generation_loss_pu", loss},
                 {"inertia_h_s", h},
                 {"noise", 0},
                 {"data_fault_rate_per_h", 0}};
    const auto sc = build_scenario("frequency_excursion", p, twin);
    Simulator sim(twin, sc, {kSummerNoon, 0.02, 1});
    double nadir = 0, last = 0;
    for (int s = 0; s < 1500; ++s) {
      const auto& r = sim.step();
      last = r.frequency_hz - 50;
      nadir = std::min(nadir, last);
      if (s < 50) {
        EXPECT_NEAR(r.frequency_hz, 50, 1e-9);
      }
    }
    const double expected = analytic_nadir_hz(sc.dynamics, loss);
    EXPECT_NEAR(nadir, expected, 0.02 * std::fabs(expected)) << "H " << h;
    // Settles at −ΔP·R/(1 + D·R).
    const auto& d = sc.dynamics;
    EXPECT_NEAR(last, -loss * d.droop_r / (1 + d.damping_d * d.droop_r) * 50, 0.002);
    EXPECT_LT(nadir, last);  // a real nadir below the settling value
  }
}

TEST(Simulator, SagDeepensAsFaultImpedanceFalls) {
  double previous = 2;
  for (double z : {200.0, 50.0, 20.0, 5.0, 1.0}) {
    Simulator sim(
        demo(),
        scenario("voltage_sag",
                 {{"start_s", 5}, {"duration_s", 3}, {"fault_impedance_ohm", z}, {"noise", 0}}),
        {kSummerNoon, 1, 2});
    const auto head = device("fdr1-head");
    double retained = 2;
    for (int s = 0; s < 10; ++s) {
      const auto& r = sim.step();
      const auto& rd = r.readings[head];
      const bool during = s >= 5 && s < 8;
      if (during) {
        retained = std::min(retained,
                            total(rd.values.v) / 3 / demo().devices[head].device.nominal_voltage);
        EXPECT_EQ(rd.label.event, "voltage_sag");
      } else {
        EXPECT_EQ(rd.label.event, "none");
      }
    }
    EXPECT_LT(retained, previous) << z << " Ω";
    previous = retained;
  }
  EXPECT_LT(previous, 0.6);  // a 1 Ω fault at 33 kV is a deep sag
}

TEST(Simulator, TrippedLateralCarriesNoCurrentUntilReclose) {
  Simulator sim(demo(),
                scenario("line_fault", {{"start_s", 10},
                                        {"trip_after_s", 2},
                                        {"reclose_after_s", 5},
                                        {"data_fault_rate_per_h", 0}}),
                {kWinterEvening, 1, 4});
  const auto head = device("latA-head"), branch = device("latA1"), other = device("latB-head");
  for (int s = 0; s < 25; ++s) {
    const auto& r = sim.step();
    const auto& h = r.readings[head];
    ASSERT_TRUE(h.present);  // its end of the breaker stays energised
    if (s >= 12 && s < 17) {
      EXPECT_EQ(total(h.values.i), 0) << s;
      EXPECT_EQ(total(h.values.p), 0) << s;
      EXPECT_GT(h.values.v[0], 0.9 * demo().devices[head].device.nominal_voltage);
      EXPECT_FALSE(r.readings[branch].present) << s;  // de-energised meters stop reporting
      EXPECT_EQ(r.readings[branch].label.event, "line_fault");
      EXPECT_TRUE(r.readings[other].present);
    } else {
      EXPECT_GT(total(h.values.i), 1) << s;
      EXPECT_TRUE(r.readings[branch].present) << s;
    }
    if (s >= 10 && s < 12) {  // the fault itself: more current, lower voltage
      EXPECT_EQ(h.label.event, "line_fault");
      // Its dip reaches the lateral beside it too, graded by what that meter sees.
      EXPECT_EQ(r.readings[other].label.event, "line_fault") << s;
      EXPECT_LT(r.readings[other].label.severity, Severity::severe) << s;
    } else {
      EXPECT_EQ(r.readings[other].label.event, "none") << s;  // the trip is not its event
    }
  }
}

TEST(Simulator, SameSeedSameSamplesOtherSeedOthers) {
  auto run = [](std::uint64_t seed) {
    Simulator sim(demo(), scenario("renewable_intermittency"), {kSummerNoon, 1, seed});
    std::vector<double> out;
    for (int s = 0; s < 200; ++s) {
      const auto& r = sim.step();
      for (const auto& rd : r.readings) {
        out.push_back(rd.present ? rd.values.p[0] + rd.values.v[1] + rd.values.f : -1);
      }
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Simulator, HarmonicPollutionRaisesDistortion) {
  auto thd_at_end = [](const std::string& id) {
    Simulator sim(demo(), scenario(id, {{"noise", 0}}), {kWinterEvening, 1, 2});
    const auto end = device("fdr1-end");
    double v = 0, i = 0;
    for (int s = 0; s < 100; ++s) {
      const auto& r = sim.step();
      v = r.readings[end].values.thd_v[0];
      i = r.readings[end].values.thd_i[0];
    }
    return std::pair{v, i};
  };
  const auto normal = thd_at_end("normal_day"), polluted = thd_at_end("harmonic_pollution");
  EXPECT_GT(normal.first, 0.5);
  EXPECT_LT(normal.first, 5);
  EXPECT_GT(polluted.first, 1.5 * normal.first);
  EXPECT_GT(polluted.second, 1.5 * normal.second);
}

TEST(Simulator, ImbalanceLoadsOnePhase) {
  Simulator sim(demo(), scenario("phase_imbalance", {{"start_s", 5}, {"noise", 0}}),
                {kWinterEvening, 1, 2});
  const auto head = device("latA-head");
  double before = 0, after = 0;
  for (int s = 0; s < 10; ++s) {
    const auto& i = sim.step().readings[head].values.i;
    (s < 5 ? before : after) = i[0] / total(i);
  }
  EXPECT_NEAR(before, 1.0 / 3, 0.05);
  EXPECT_GT(after, 0.55);
}

TEST(Simulator, OverheatedTransformerFails) {
  Simulator sim(demo(), scenario("transformer_degradation", {{"life_remaining_h", 2}}),
                {kWinterEvening - 2 * 3600 * core::kUsPerSecond, 60, 2});
  const auto monitor = device("tx1-mon"), head = device("fdr1-head");
  bool degraded = false;
  int failed_at = -1;
  for (int s = 0; s < 24 * 60 && failed_at < 0; ++s) {
    const auto& r = sim.step();
    if (r.readings[monitor].label.event == "transformer_degradation") degraded = true;
    if (sim.transformer_failed()) failed_at = s;
  }
  ASSERT_TRUE(degraded);
  ASSERT_GE(failed_at, 0);
  const auto& r = sim.step();
  EXPECT_EQ(r.readings[monitor].label.event, "transformer_failure");
  EXPECT_EQ(total(r.readings[monitor].values.i), 0);  // HV side: energised, no current
  EXPECT_FALSE(r.readings[head].present);             // LV side: dead
  EXPECT_GT(sim.transformer().life_consumed_h(), 2);
}

// Aged through its life, the transformer does not fail at once: an incipient winding fault grows
// over fault_development_min, heating the winding beyond what its load explains and adding
// current harmonics at its meter — the precursors the failure model learns from.
TEST(Simulator, AnIncipientWindingFaultHeatsAndDistortsBeforeTheFailure) {
  const SimOptions options{kWinterEvening - 2 * 3600 * core::kUsPerSecond, 60, 2};
  Simulator failing(
      demo(),
      scenario("transformer_degradation", {{"life_remaining_h", 2}, {"fault_development_min", 20}}),
      options);
  Simulator healthy(demo(), scenario("transformer_degradation", {{"life_remaining_h", 1e6}}),
                    options);
  const auto monitor = device("tx1-mon");
  int started = -1, failed = -1;
  double thd_at_start = 0, thd_before_failure = 0, hotter = 0;
  for (int s = 0; s < 24 * 60 && failed < 0; ++s) {
    const auto& a = failing.step();
    const auto& b = healthy.step();
    if (started < 0 && failing.transformer().life_consumed_h() >= 2) {
      started = s;
      thd_at_start = a.readings[monitor].values.thd_i[0];
    }
    if (failing.transformer_failed()) {
      failed = s;
    } else if (started >= 0) {
      thd_before_failure = a.readings[monitor].values.thd_i[0];
      hotter = a.readings[monitor].values.temp - b.readings[monitor].values.temp;
    }
  }
  ASSERT_GE(started, 0);
  ASSERT_GE(failed, 0);
  EXPECT_NEAR(failed - started, 20, 1);  // minutes at one step a minute
  // The fault's harmonics add in quadrature to the load's: nearly 8 points at the end.
  EXPECT_GT(std::sqrt(thd_before_failure * thd_before_failure - thd_at_start * thd_at_start), 6);
  EXPECT_GT(hotter, 5);  // °C above the same transformer without the fault, at the same load
}

// The custom scenario's patterns steer the network over the scenario's duration (a run sets it
// to its own): a current ramp from 10 to 50 (relative) lifts the feeder current about fivefold.
TEST(Simulator, CustomCurrentRampSpansTheRun) {
  auto sc = scenario("custom", {{"current_min", 10}, {"current_max", 50}},
                     {{"current_pattern", "increasing"}});
  sc.duration_s = 600;
  Simulator sim(demo(), sc, {kWinterEvening, 10, 3});  // no PV offsetting the load
  const auto head = device("fdr1-head");
  double first = 0, last = 0;
  for (int s = 0; s < 60; ++s) {
    const auto& r = sim.step();
    (s == 0 ? first : last) = total(r.readings[head].values.i);
  }
  EXPECT_GT(last / first, 4.0);
  EXPECT_LT(last / first, 6.5);
}
