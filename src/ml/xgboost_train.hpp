#pragma once
// Training gradient-boosted trees through XGBoost's C API (libxgboost 1.7). The trained model
// leaves as XGBoost's own JSON, which our evaluator (gbt.hpp) serves and Python's xgboost reads.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace remhart::ml {

/// Rows of features (row-major, NaN = missing) with a label per row.
struct Matrix {
  std::size_t cols = 0;
  std::vector<float> x;
  std::vector<float> y;
  std::size_t rows() const { return cols ? x.size() / cols : 0; }
  void add(std::span<const double> row, double label);
};

struct GbtParams {
  std::string objective = "reg:squarederror";  ///< or binary:logistic, multi:softprob
  int num_class = 1;
  int rounds = 100;
  int max_depth = 6;
  double eta = 0.1;
  double subsample = 0.8;
  double colsample_bytree = 0.8;
  double min_child_weight = 1;
  double lambda = 1;
  int threads = 2;
  std::uint64_t seed = 0;
};

/// Trains on `train`; `feature_names` (one per column) go into the model. Returns the model as
/// XGBoost JSON. Throws std::runtime_error with XGBoost's message on failure.
std::string train_gbt(const Matrix& train, const GbtParams& params,
                      std::span<const std::string> feature_names);

/// XGBoost's own predictions (one value per row, or `classes` per row) of a JSON model: what
/// the tests hold our evaluator to.
std::vector<float> xgboost_predict(std::string_view model_json, const Matrix& rows);

}  // namespace remhart::ml
