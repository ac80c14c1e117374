#pragma once
// XGBoost's JSON model format (1.x `save_model("model.json")`, the same from Python and C):
// read into our tree evaluator. Supported: booster `gbtree`, numerical splits, objectives
// reg:squarederror / reg:absoluteerror / reg:pseudohubererror, binary:logistic, multi:softprob.
#include <stdexcept>
#include <string>
#include <string_view>

#include "ml/gbt.hpp"

namespace remhart::ml::io {

/// A model file that cannot be used; the message names the JSON path at fault.
class ModelFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses an XGBoost JSON model; `feature_count` bounds the split features. Throws
/// ModelFormatError.
GbtModel parse_xgboost_json(std::string_view text, std::size_t feature_count);

}  // namespace remhart::ml::io
