#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "analytics/catalogue.hpp"
#include "analytics/dataset.hpp"
#include "analytics/decision.hpp"
#include "analytics/maintenance.hpp"
#include "analytics/monitoring.hpp"
#include "analytics/registry.hpp"
#include "analytics/training.hpp"
#include "demo_twin.hpp"
#include "ml/io/xgboost_json.hpp"
#include "store/ml_results.hpp"
#include "store/object_store.hpp"

namespace remhart::analytics {
namespace {

using features::F;
using features::index;

TEST(TrainingPlan, EveryScenarioInEverySplitAndDeterministic) {
  const auto& twin = sim::testing::demo();
  const auto plan = training_plan(twin, 7, 1);
  std::map<std::string, std::set<Split>> splits;
  for (const auto& r : plan) {
    splits[r.scenario].insert(r.split);
    EXPECT_NO_THROW(sim::build_scenario(r.scenario, r.params, twin)) << r.scenario;
  }
  EXPECT_EQ(splits.size(), 11u);
  for (const auto& [id, s] : splits) EXPECT_EQ(s.size(), 3u) << id;
  const auto again = training_plan(twin, 7, 1);
  ASSERT_EQ(again.size(), plan.size());
  for (std::size_t k = 0; k < plan.size(); ++k) {
    EXPECT_EQ(again[k].seed, plan[k].seed);
    EXPECT_EQ(again[k].params.numbers, plan[k].params.numbers);
  }
  EXPECT_NE(training_plan(twin, 8, 1)[0].seed, plan[0].seed);
  EXPECT_GT(training_plan(twin, 7, 2).size(), plan.size());
}

DeviceStep at_voltage(double v) {
  DeviceStep s;
  s.present = true;
  s.true_v_pu = v;
  return s;
}

// An anomaly is an event in force and a voltage outside the band or moved 3 % from before it.
TEST(VoltageAnomalyTruth, OutsideTheBandOrARapidChangeDuringAnEvent) {
  const std::vector<DeviceStep> steps = {at_voltage(1.0),  at_voltage(0.98), at_voltage(0.96),
                                         at_voltage(0.85), at_voltage(0.85), at_voltage(0.97),
                                         at_voltage(0.85)};
  // 2 % is not yet a change; 4 % is; outside the band is; without an event nothing is; a new
  // event measures from the voltage just before it.
  const std::vector<int> active = {0, 1, 1, 1, 0, 1, 1};
  EXPECT_EQ(voltage_anomaly_truth(steps, active), (std::vector<int>{0, 0, 1, 1, 0, 1, 1}));
}

TEST(EventsInForce, AnyMetersLabelExceptAgeing) {
  RunData run;
  run.ts = {1, 2, 3};
  run.steps.assign(2, std::vector<DeviceStep>(3));
  run.steps[1][1].label.event = "overload";
  run.steps[0][2].label.event = "transformer_degradation";
  EXPECT_EQ(events_in_force(run), (std::vector<int>{0, 1, 0}));
}

// The imbalance truth grades the bus's true unbalance whatever its cause (an imbalance event or
// not); the threshold rule grades the measured one the same way.
TEST(ImbalanceTruth, GradesTheTrueUnbalanceAtTheBus) {
  DeviceStep s;
  for (const auto& [pct, want] : std::vector<std::pair<double, int>>{
           {0.4, 0}, {1.0, 1}, {1.99, 1}, {2.0, 2}, {4.0, 2}, {4.01, 3}, {core::kAbsent, 0}}) {
    s.true_unbalance_pct = pct;
    EXPECT_EQ(imbalance_truth(s), want) << pct;
  }
  s.true_unbalance_pct = 0.5;
  s.label.event = "phase_imbalance";  // an event that leaves this bus balanced: none
  EXPECT_EQ(imbalance_truth(s), 0);
  features::FeatureVector f{};
  f[features::index(features::F::vu_nema_pct)] = 2.5;
  EXPECT_EQ(imbalance_baseline(f), 2);
}

// A model of one leaf: every prediction is that leaf (plus the base margin).
ml::GbtModel constant(ml::Objective objective, double value, int classes = 1) {
  ml::GbtModel m;
  m.objective = objective;
  m.num_class = classes;
  for (int c = 0; c < std::max(1, classes); ++c) {
    m.roots.push_back(static_cast<std::int32_t>(m.nodes.size()));
    m.tree_class.push_back(c);
    m.nodes.push_back({-1, 0, static_cast<float>(c == classes - 1 ? value : 0)});
  }
  return m;
}

features::FeatureVector sample_features(double va, double vb, double vc, double ia = 50,
                                        double ib = 50, double ic = 50) {
  features::DeviceFeatures d({230, 100, 50});
  core::Values v;
  v.v = {va * 230, vb * 230, vc * 230};
  v.i = {ia, ib, ic};
  for (std::size_t k = 0; k < 3; ++k) {
    v.p[k] = v.v[k] * v.i[k] * 0.95;
    v.q[k] = v.v[k] * v.i[k] * 0.3;
  }
  v.f = 50.02;
  v.thd_v = {3, 9, 4};
  v.thd_i = {12, 10, 11};
  features::FeatureVector f;
  d.update(1'781'524'800'000'000, v, {}, f);
  return f;
}

TEST(Monitoring, ResultsCarryTheirPhysics) {
  const auto sag = sample_features(0.62, 0.7, 0.75);
  const auto a = voltage_anomaly(constant(ml::Objective::binary_logistic, 3), 0.5, sag);
  EXPECT_NEAR(a.score, 1 / (1 + std::exp(-3.0)), 1e-6);
  EXPECT_TRUE(a.flag);
  EXPECT_EQ(a.kind, "sag");
  EXPECT_EQ(a.severity, "moderate");
  EXPECT_EQ(voltage_anomaly_baseline(sag), 1);
  const auto swell = sample_features(1.2, 1.2, 1.2);
  EXPECT_EQ(voltage_anomaly(constant(ml::Objective::binary_logistic, -3), 0.5, swell).kind,
            "swell");
  EXPECT_FALSE(voltage_anomaly(constant(ml::Objective::binary_logistic, -3), 0.5, swell).flag);

  const auto h = harmonic_analysis(constant(ml::Objective::binary_logistic, 0), 0.6, 230, sag);
  EXPECT_EQ(h.thd_v_pct, 9);
  EXPECT_EQ(h.thd_i_pct, 12);
  EXPECT_EQ(h.category, "above_en50160");
  EXPECT_FALSE(h.pollution);  // p = 0.5 < 0.6
  EXPECT_EQ(ieee519_thd_v_limit_pct(230), 8);
  EXPECT_EQ(ieee519_thd_v_limit_pct(11000 / std::sqrt(3.0)), 5);
  EXPECT_EQ(ieee519_thd_v_limit_pct(132000 / std::sqrt(3.0)), 2.5);

  const auto fr = frequency_stability(constant(ml::Objective::regression, -0.2), 50, sag);
  EXPECT_NEAR(fr.predicted_hz, 49.82, 1e-6);
  EXPECT_EQ(fr.trend, "falling");
  EXPECT_NEAR(fr.stability_score, 100 * (1 - 0.18 / 0.5), 1e-4);

  const auto one_phase = sample_features(1, 1, 1, 90, 30, 30);
  const auto im = phase_imbalance(constant(ml::Objective::multi_softprob, 2, 4), one_phase);
  EXPECT_EQ(im.severity_class, 3);
  EXPECT_EQ(im.likely_cause, "load_on_phase_a");
  EXPECT_NEAR(im.probabilities[0] + im.probabilities[1] + im.probabilities[2] + im.probabilities[3],
              1, 1e-12);
  const auto open = sample_features(1, 1, 1, 40, 0, 40);
  EXPECT_EQ(phase_imbalance(constant(ml::Objective::multi_softprob, 2, 4), open).likely_cause,
            "open_phase");
}

// A run of one device with given true voltages, currents and a failure step.
RunData one_device_run(std::size_t steps) {
  RunData run;
  run.spec.step_s = 1;
  run.devices.resize(1);
  run.devices[0].rated_current = 100;
  for (std::size_t k = 0; k < steps; ++k) run.ts.push_back(static_cast<core::TimeUs>(k));
  run.steps.assign(1, std::vector<DeviceStep>(steps));
  for (auto& s : run.steps[0]) {
    s.present = true;
    s.true_v_pu = 1;
    s.values.i = {50, 50, 50};
  }
  return run;
}

TEST(MaintenanceTruth, FailureWithinTheHorizon) {
  auto run = one_device_run(2000);
  run.spec.scenario = "transformer_degradation";
  run.failure_step = 1500;
  const auto t = failure_truth(run);
  EXPECT_EQ(t[599], 0);  // 901 s before
  EXPECT_EQ(t[600], 1);  // 900 s before
  EXPECT_EQ(t[1500], 1);
  EXPECT_EQ(t[1501], 0);
  run.failure_step = -1;  // survived the run: its last 15 minutes are unknown
  EXPECT_EQ(failure_truth(run)[1099], 0);
  EXPECT_EQ(failure_truth(run)[1100], -1);
  run.spec.scenario = "normal_day";  // cannot fail
  EXPECT_EQ(failure_truth(run)[1999], 0);
}

TEST(MaintenanceTruth, OverloadAndSagLookAhead) {
  auto run = one_device_run(2000);
  run.steps[0][1000].values.i = {50, 105, 50};  // overloaded for one step
  run.steps[0][400].values.i = {85, 50, 50};    // elevated
  run.steps[0][450].present = false;
  const auto o = overload_truth(run, 0);
  EXPECT_EQ(o[699], 0);
  EXPECT_EQ(o[700], 2);   // 300 s ahead
  EXPECT_EQ(o[1000], 2);  // now
  EXPECT_EQ(o[1001], 0);
  EXPECT_EQ(o[99], 0);
  EXPECT_EQ(o[100], 1);  // the elevated step at 400
  EXPECT_EQ(o[1699], 0);
  EXPECT_EQ(o[1700], -1);  // the horizon runs past the end
  run.steps[0][1900].values.i = {120, 50, 50};
  EXPECT_EQ(overload_truth(run, 0)[1800], 2);  // … but an overload is in sight before it
  run.steps[0][500].true_v_pu = 0.85;
  const auto sg = sag_truth(run, 0);
  EXPECT_EQ(sg[439], 0);
  EXPECT_EQ(sg[440], 1);
  EXPECT_EQ(sg[500], 1);
  EXPECT_EQ(sg[501], 0);
  EXPECT_EQ(sg[1940], -1);
}

TEST(Maintenance, ResultsCarryTheirPhysics) {
  const auto sag = sample_features(0.85, 0.95, 0.97, 110, 60, 60);
  const auto v = voltage_sag(constant(ml::Objective::binary_logistic, 2), 0.5, sag);
  EXPECT_TRUE(v.flag);
  EXPECT_TRUE(v.below[0]);
  EXPECT_FALSE(v.below[1]);
  EXPECT_EQ(v.weakest_phase, 0);
  EXPECT_EQ(sag_baseline(sag), 1);
  EXPECT_EQ(to_json(v)["affected_phases"], nlohmann::json::array({"a"}));

  const auto o = overload_risk(constant(ml::Objective::multi_softprob, 2, 3), sag);
  EXPECT_EQ(o.risk_class, 2);
  EXPECT_NEAR(o.loading_pct, 110, 1e-9);
  EXPECT_TRUE(std::isnan(o.time_to_limit_s));  // one sample: no trend
  EXPECT_EQ(overload_baseline(sag), 2);

  EXPECT_NEAR(ageing_acceleration(110), 1, 1e-12);
  EXPECT_NEAR(ageing_acceleration(117), 2, 0.05);  // doubles every ~7 K
  const auto e = equipment_failure(constant(ml::Objective::binary_logistic, -2), 0.5, sag);
  EXPECT_FALSE(e.flag);
  EXPECT_TRUE(std::isnan(e.factors[0].value));  // no temperature reported
  EXPECT_TRUE(e.factors[2].above);              // loading 110 % > 100 %

  // Power quality: one sample of 15 % sag on phase a, 9 % THD on phase b, 50.02 Hz.
  const auto q = power_quality_index(sag, 50);
  EXPECT_EQ(q.components[0].score, 0);    // 15 % deviation: beyond ±10 %
  EXPECT_EQ(q.components[2].score, 0);    // THD 9 % > 8 %
  EXPECT_EQ(q.components[3].score, 100);  // 0.02 Hz: within half the ±0.5 Hz limit
  EXPECT_EQ(q.category, "poor");
  const auto clean = power_quality_index(sample_features(1, 1, 1), 50);
  EXPECT_GT(clean.index, q.index);
}

TEST(Decision, CompensationReachesTheTargetWithStandardSteps) {
  // 400 kW at pf 0.8 (300 kvar), 1 p.u.: Q_c = 400 (0.75 − 0.3287) = 168.5 kvar.
  const auto r = reactive_compensation(400, 300, 1.0, 1000);
  EXPECT_EQ(r.status, "compensate");
  EXPECT_NEAR(r.kvar_needed, 300 - 400 * std::sqrt(1 - 0.95 * 0.95) / 0.95, 1e-9);
  EXPECT_EQ(r.step_kvar, 25);  // ≤ 168.5 / 4 and ≤ 400 tan φ_target
  EXPECT_EQ(r.steps, 7);       // 175 kvar: 6 steps (150) would leave pf below 0.95
  EXPECT_EQ(r.bank_kvar, 175);
  EXPECT_GE(r.pf_after, 0.95);
  EXPECT_LE(r.pf_after, 1.0);
  // At 0.9 p.u. a bank delivers 81 % of its nameplate: a larger one is needed.
  EXPECT_GT(reactive_compensation(400, 300, 0.9, 1000).bank_kvar, r.bank_kvar);
  EXPECT_EQ(reactive_compensation(400, 100, 1.0, 1000).status, "ok");
  EXPECT_EQ(reactive_compensation(400, -50, 1.0, 1000).status, "leading");
  EXPECT_EQ(reactive_compensation(-400, 100, 1.0, 1000).status, "exporting");
  EXPECT_EQ(reactive_compensation(2, 1, 1.0, 1000).status, "no_load");
  // A small P with a large Q: steps small enough to land in the band, not overshoot it.
  const auto small = reactive_compensation(9.4, 98, 1.02, 1000);
  EXPECT_GE(small.pf_after, 0.95);
  EXPECT_GE(small.q_after_kvar, 0);
}

TEST(Decision, BalancingMovesTheSurplusToTheLightPhases) {
  // Phase currents 90, 30, 30 A at equal voltage and pf: powers in the same proportion.
  const auto f = sample_features(1, 1, 1, 90, 30, 30);
  const auto r = load_balancing(f);
  ASSERT_EQ(r.move_count, 2);
  EXPECT_EQ(r.moves[0].from, 0);
  EXPECT_NEAR(r.moves[0].kw + r.moves[1].kw, r.p_kw[0] - (r.p_kw[0] + r.p_kw[1] + r.p_kw[2]) / 3,
              1e-9);
  EXPECT_NEAR(r.unbalance_pct, 80, 1e-6);  // (90 − 50) / 50
  EXPECT_NEAR(r.unbalance_after_pct, 0, 1e-9);
  EXPECT_EQ(to_json(r)["plan"].size(), 2u);
  EXPECT_EQ(load_balancing(sample_features(1, 1, 1, 50, 52, 49)).move_count, 0);  // within 10 %
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("remhart-registry-" + std::to_string(::getpid()) + "-" +
            std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Training end to end on short runs: every model, each with a card that scores it and its
// baseline on held-out runs; published, rolled back, loaded.
TEST(Training, TrainsScoresAndPublishesEveryModel) {
  TrainOptions opt;
  opt.scale = 0.05;  // five runs per scenario
  opt.run_s = 360;   // long enough for the overload horizon (300 s)
  std::vector<std::string> stages;
  opt.progress = [&](std::string_view stage, double) {
    if (stages.empty() || stages.back() != stage) stages.emplace_back(stage);
  };
  const auto models = train_models(sim::testing::demo(), opt);
  ASSERT_EQ(models.size(), kModelCount);
  EXPECT_GE(stages.size(), 4u);
  for (const auto& info : kModels) {
    const auto& m = models[static_cast<std::size_t>(info.id)];
    EXPECT_EQ(m.name, info.name);
    EXPECT_EQ(m.module, info.module);
    EXPECT_TRUE(m.card.contains("metrics")) << m.name;
    EXPECT_TRUE(m.card.contains("baseline")) << m.name;
    EXPECT_FALSE(m.card["targets"].empty()) << m.name;
    EXPECT_GE(m.card["data"]["runs"]["test"].get<int>(), 1) << m.name;
    EXPECT_EQ(m.gbt.feature_names.size(), info.trees ? info.features : 0) << m.name;
    EXPECT_EQ(m.model_json.empty(), !info.trees) << m.name;
  }
  const auto& failure = models[static_cast<std::size_t>(ModelId::equipment_failure)];
  EXPECT_TRUE(failure.card["metrics"]["test"].contains("ece"));
  EXPECT_TRUE(failure.card["metrics"]["test"]["reliability_curve_degradation_runs"].is_array());
  TempDir dir;
  ModelRegistry reg(std::make_shared<store::DirectoryObjectStore>(dir.path));
  EXPECT_EQ(reg.publish(models[0], 1'000'000), 1);
  EXPECT_EQ(reg.publish(models[0], 2'000'000), 2);
  EXPECT_EQ(reg.active("voltage-anomaly"), 2);
  EXPECT_TRUE(reg.activate("voltage-anomaly", 1));  // the roll-back
  EXPECT_FALSE(reg.activate("voltage-anomaly", 9));
  const auto loaded = reg.load_active("voltage-anomaly");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, 1);
  EXPECT_EQ(loaded->serving["threshold"], models[0].serving["threshold"]);
  const auto cards = reg.cards("voltage-anomaly");
  ASSERT_EQ(cards.size(), 2u);
  EXPECT_TRUE(cards[0]["active"]);
  EXPECT_FALSE(cards[1]["active"]);
  EXPECT_EQ(reg.names(), std::vector<std::string>{"voltage-anomaly"});
  EXPECT_FALSE(reg.load_active("harmonic-analysis"));
  // A computed model's version: its card, no trees.
  const auto& pqi = models[static_cast<std::size_t>(ModelId::power_quality_index)];
  EXPECT_EQ(reg.publish(pqi, 3'000'000), 1);
  EXPECT_FALSE(std::filesystem::exists(dir.path / "power-quality-index" / "1" / "model.json"));
  const auto active = load_active_models(reg);
  EXPECT_EQ(active.count(), 2u);
  ASSERT_NE(active.get(ModelId::power_quality_index), nullptr);
  EXPECT_TRUE(active.get(ModelId::power_quality_index)->gbt.roots.empty());
  EXPECT_THROW(import_model(info(ModelId::power_quality_index), failure.model_json, 0.5, "x"),
               ml::io::ModelFormatError);
  // A damaged artefact is refused, not served.
  std::ofstream(dir.path / "voltage-anomaly" / "1" / "model.json") << "{\"learner\": 1}";
  EXPECT_THROW(reg.load_active("voltage-anomaly"), ml::io::ModelFormatError);
}

}  // namespace
}  // namespace remhart::analytics

namespace remhart::store {
namespace {

// The analytics history: newest first, filtered by device and time, retention, origins.
TEST(MlResults, QueryRetentionAndOrigins) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("remhart-mlresults-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  SqliteMlResultRepository repo(path.string());
  std::vector<MlResult> rows;
  for (int k = 0; k < 10; ++k) {
    rows.push_back({"real", k % 2 ? "m1" : "m2", "voltage-anomaly", 1000 + k, 1, "{}"});
  }
  rows.push_back({"sim:x", "m1", "voltage-anomaly", 1005, 1, "{}"});
  rows.push_back({"real", "m1", "phase-imbalance", 1005, 1, "{}"});
  repo.insert(rows);
  MlResultQuery q;
  q.model = "voltage-anomaly";
  q.device = "m1";
  auto got = repo.query(q);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].ts, 1009);
  EXPECT_EQ(got[4].ts, 1001);
  q.from = 1003;
  q.to = 1008;
  EXPECT_EQ(repo.query(q).size(), 3u);  // m1's 1003, 1005, 1007 (the end is exclusive)
  q = {};
  q.model = "voltage-anomaly";
  q.limit = 3;
  EXPECT_EQ(repo.query(q).size(), 3u);
  EXPECT_EQ(repo.delete_before(1005), 5u);  // 1000–1004; every origin and model at 1005 stays
  EXPECT_EQ(repo.delete_origin("sim:x"), 1u);
  q.limit = 100;
  EXPECT_EQ(repo.query(q).size(), 5u);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

}  // namespace
}  // namespace remhart::store
