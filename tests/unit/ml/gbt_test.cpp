#include "ml/gbt.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "ml/io/xgboost_json.hpp"
#include "ml/metrics.hpp"
#include "ml/xgboost_train.hpp"

namespace remhart::ml {
namespace {

// A deterministic data set: four features, some missing, a label made of them.
Matrix synthetic(int rows, int kind) {
  Matrix m;
  m.cols = 4;
  for (int r = 0; r < rows; ++r) {
    const double a = std::sin(r * 0.37) * 3, b = std::cos(r * 0.11) * 2, c = (r % 17) / 17.0;
    const double d = r % 7 == 0 ? std::nan("") : (r % 5) - 2.0;
    const double row[] = {a, b, c, d};
    double y = 0;
    if (kind == 0) y = a * 2 + b * b + (std::isnan(d) ? 5 : d);       // regression
    if (kind == 1) y = a + c > 1 ? 1 : 0;                             // binary
    if (kind == 2) y = a > 1 ? 2 : (b > 0 || std::isnan(d) ? 1 : 0);  // three classes
    m.add(row, y);
  }
  return m;
}

// Our evaluator predicts what XGBoost predicts, for every objective, missing values included.
TEST(Gbt, EvaluatorEqualsXgboost) {
  const std::string objectives[] = {"reg:squarederror", "binary:logistic", "multi:softprob"};
  const std::vector<std::string> names = {"a", "b", "c", "d"};
  for (int kind = 0; kind < 3; ++kind) {
    const auto train = synthetic(600, kind);
    GbtParams p;
    p.objective = objectives[kind];
    p.num_class = kind == 2 ? 3 : 1;
    p.rounds = 30;
    p.max_depth = 4;
    p.threads = 1;
    const auto json = train_gbt(train, p, names);
    const auto model = io::parse_xgboost_json(json, 4);
    EXPECT_EQ(model.feature_names, names);
    const auto test = synthetic(300, kind);
    const auto expected = xgboost_predict(json, test);
    const std::size_t k = model.outputs();
    ASSERT_EQ(expected.size(), test.rows() * k);
    double worst = 0;
    std::vector<double> row(4), out(k);
    for (std::size_t r = 0; r < test.rows(); ++r) {
      for (std::size_t c = 0; c < 4; ++c) row[c] = test.x[r * 4 + c];
      model.predict(row, out);
      for (std::size_t c = 0; c < k; ++c)
        worst = std::max(worst, std::abs(out[c] - expected[r * k + c]));
    }
    EXPECT_LT(worst, 1e-5) << objectives[kind];
  }
}

std::string tiny_model() {
  const std::vector<std::string> names = {"a", "b", "c", "d"};
  GbtParams p;
  p.objective = "binary:logistic";
  p.rounds = 3;
  p.max_depth = 2;
  p.threads = 1;
  return train_gbt(synthetic(200, 1), p, names);
}

void expect_refused(const std::string& text, const std::string& mention) {
  try {
    io::parse_xgboost_json(text, 4);
    ADD_FAILURE() << "accepted; expected an error mentioning " << mention;
  } catch (const io::ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find(mention), std::string::npos) << e.what();
  }
}

TEST(Gbt, MalformedModelsAreRefusedWithTheirPath) {
  using nlohmann::json;
  const auto good = json::parse(tiny_model());
  const auto tree0 = "/learner/gradient_booster/model/trees/0"_json_pointer;
  expect_refused("{", "not JSON");
  expect_refused(std::string(200, '[') + std::string(200, ']'), "too deep");
  expect_refused("{}", "learner");
  auto j = good;
  j["learner"]["objective"]["name"] = "rank:pairwise";
  expect_refused(j.dump(), "not supported");
  j = good;
  j[tree0]["left_children"][0] = 99;
  expect_refused(j.dump(), "outside the tree");
  j = good;
  j[tree0]["left_children"][0] = 0;  // a node its own child: a cycle
  expect_refused(j.dump(), "reached twice");
  j = good;
  j[tree0]["split_indices"][0] = 7;
  expect_refused(j.dump(), "feature 7 of 4");
  j = good;
  j[tree0]["split_type"][0] = 1;
  expect_refused(j.dump(), "categorical");
  j = good;
  j[tree0]["split_conditions"] = json::array({1});
  expect_refused(j.dump(), "split_conditions");
  j = good;
  j["learner"]["learner_model_param"]["base_score"] = "x";
  expect_refused(j.dump(), "base_score");
  j = good;
  j["learner"]["feature_names"] = json::array({"a"});
  expect_refused(j.dump(), "feature_names");
  j = good;
  j["learner"]["gradient_booster"]["model"]["tree_info"] = json::array();
  expect_refused(j.dump(), "tree_info");
}

TEST(Metrics, BinaryMulticlassAndEvents) {
  const int truth[] = {1, 1, 0, 0, 1, 0};
  const int pred[] = {1, 0, 0, 1, 1, 0};
  const auto b = score_binary(truth, pred);
  EXPECT_EQ(b.tp, 2u);
  EXPECT_NEAR(b.f1(), 2.0 * 2 / (2 * 2 + 1 + 1), 1e-12);
  const int t3[] = {0, 1, 2, 2}, p3[] = {0, 2, 2, 2};
  const auto m = score_multiclass(t3, p3, 3);
  EXPECT_NEAR(m.accuracy, 0.75, 1e-12);
  EXPECT_NEAR(m.macro_f1, (1 + 0 + 0.8) / 3, 1e-12);
  // Two events, one detected; one run of flags touching no event.
  const int te[] = {0, 1, 1, 0, 0, 1, 0, 0};
  const int fe[] = {0, 0, 1, 1, 0, 0, 1, 0};
  EventScore e;
  score_events(te, fe, e);
  EXPECT_EQ(e.events, 2u);
  EXPECT_EQ(e.detected, 1u);
  EXPECT_EQ(e.false_events, 1u);
}

TEST(Metrics, CalibrationAndRegression) {
  const int truth[] = {0, 0, 1, 1};
  const double p[] = {0.05, 0.05, 0.95, 0.95};
  EXPECT_NEAR(calibration(truth, p).ece, 0.05, 1e-12);
  const double t[] = {100, 200}, f[] = {110, 180};
  EXPECT_NEAR(mean_absolute_error(t, f), 15, 1e-12);
  EXPECT_NEAR(mean_absolute_percentage_error(t, f), 10, 1e-12);
  const double lo[] = {90, 210}, hi[] = {120, 220};
  EXPECT_NEAR(interval_coverage(t, lo, hi), 0.5, 1e-12);
}

TEST(Metrics, RocAuc) {
  const int truth[] = {0, 0, 1, 1};
  const double separated[] = {0.1, 0.2, 0.8, 0.9};
  EXPECT_NEAR(roc_auc(truth, separated), 1.0, 1e-12);
  const double reversed[] = {0.9, 0.8, 0.2, 0.1};
  EXPECT_NEAR(roc_auc(truth, reversed), 0.0, 1e-12);
  // One positive above both negatives, one tied with one of them: (2 + 1.5) / 4.
  const double tied[] = {0.1, 0.5, 0.5, 0.9};
  EXPECT_NEAR(roc_auc(truth, tied), 0.875, 1e-12);
  const int one_class[] = {1, 1};
  EXPECT_TRUE(std::isnan(roc_auc(one_class, std::span(separated, 2))));
}

}  // namespace
}  // namespace remhart::ml
