#include "ml/xgboost_train.hpp"

#include <xgboost/c_api.h>

#include <cmath>
#include <memory>
#include <stdexcept>

namespace remhart::ml {

namespace {

void check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string("xgboost ") + what + ": " + XGBGetLastError());
}

struct DMatrix {
  DMatrixHandle h = nullptr;
  explicit DMatrix(const Matrix& m) {
    check(XGDMatrixCreateFromMat(m.x.data(), m.rows(), m.cols, std::nanf(""), &h), "matrix");
    if (!m.y.empty()) {
      check(XGDMatrixSetFloatInfo(h, "label", m.y.data(), m.y.size()), "labels");
    }
  }
  ~DMatrix() { XGDMatrixFree(h); }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;
};

struct Booster {
  BoosterHandle h = nullptr;
  explicit Booster(DMatrixHandle* d, std::size_t n) { check(XGBoosterCreate(d, n, &h), "booster"); }
  ~Booster() { XGBoosterFree(h); }
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  void set(const char* key, const std::string& value) {
    check(XGBoosterSetParam(h, key, value.c_str()), key);
  }
};

}  // namespace

void Matrix::add(std::span<const double> row, double label) {
  for (double v : row) x.push_back(static_cast<float>(v));
  y.push_back(static_cast<float>(label));
}

std::string train_gbt(const Matrix& train, const GbtParams& p,
                      std::span<const std::string> feature_names) {
  if (train.rows() == 0) throw std::runtime_error("xgboost: no training rows");
  DMatrix d(train);
  Booster b(&d.h, 1);
  if (!feature_names.empty()) {  // saved with the model (the matrix's names are not)
    std::vector<const char*> names;
    for (const auto& n : feature_names) names.push_back(n.c_str());
    check(XGBoosterSetStrFeatureInfo(b.h, "feature_name", names.data(), names.size()),
          "feature names");
  }
  b.set("verbosity", "0");
  b.set("objective", p.objective);
  if (p.objective == "multi:softprob") b.set("num_class", std::to_string(p.num_class));
  b.set("tree_method", "hist");
  b.set("max_depth", std::to_string(p.max_depth));
  b.set("eta", std::to_string(p.eta));
  b.set("subsample", std::to_string(p.subsample));
  b.set("colsample_bytree", std::to_string(p.colsample_bytree));
  b.set("min_child_weight", std::to_string(p.min_child_weight));
  b.set("lambda", std::to_string(p.lambda));
  b.set("nthread", std::to_string(p.threads));
  b.set("seed", std::to_string(p.seed));
  for (int it = 0; it < p.rounds; ++it) check(XGBoosterUpdateOneIter(b.h, it, d.h), "training");
  bst_ulong len = 0;
  const char* out = nullptr;
  check(XGBoosterSaveModelToBuffer(b.h, R"({"format": "json"})", &len, &out), "save");
  return std::string(out, len);
}

std::vector<float> xgboost_predict(std::string_view model_json, const Matrix& rows) {
  DMatrix d(rows);
  Booster b(nullptr, 0);
  check(XGBoosterLoadModelFromBuffer(b.h, model_json.data(), model_json.size()), "load");
  b.set("nthread", "1");
  bst_ulong len = 0;
  const float* out = nullptr;
  check(XGBoosterPredict(b.h, d.h, 0, 0, 0, &len, &out), "predict");
  return std::vector<float>(out, out + len);
}

}  // namespace remhart::ml
