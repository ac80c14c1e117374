#include "ml/io/xgboost_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/json_depth.hpp"

namespace remhart::ml::io {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ModelFormatError(path + ": " + what);
}

const json& at(const json& j, const char* key, const std::string& path) {
  if (!j.is_object()) fail(path, "must be an object");
  const auto it = j.find(key);
  if (it == j.end()) fail(path + "." + key, "is missing");
  return *it;
}

// XGBoost writes its parameters as strings ("5E-1"), numbers elsewhere.
double number(const json& j, const std::string& path) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(v)) return v;
  }
  fail(path, "must be a number");
}

template <typename T>
std::vector<T> array_of(const json& tree, const char* key, const std::string& path,
                        std::size_t size) {
  const auto& a = at(tree, key, path);
  if (!a.is_array() || a.size() != size) {
    fail(path + "." + key, "must be an array of " + std::to_string(size));
  }
  std::vector<T> out;
  out.reserve(size);
  for (std::size_t k = 0; k < size; ++k) {
    const auto& v = a[k];
    if (!v.is_number()) fail(path + "." + key + "[" + std::to_string(k) + "]", "must be a number");
    out.push_back(v.get<T>());
  }
  return out;
}

}  // namespace

GbtModel parse_xgboost_json(std::string_view text, std::size_t feature_count) {
  if (core::json_too_deep(text)) throw ModelFormatError("JSON nests too deep");
  json doc;
  try {
    doc = json::parse(text, nullptr, true, false);
  } catch (const json::parse_error& e) {
    throw ModelFormatError(std::string("not JSON: ") + e.what());
  }
  GbtModel m;
  const auto& learner = at(doc, "learner", "$");
  const auto& param = at(learner, "learner_model_param", "learner");
  const double base_score = number(at(param, "base_score", "learner.learner_model_param"),
                                   "learner.learner_model_param.base_score");
  const double num_class = number(at(param, "num_class", "learner.learner_model_param"),
                                  "learner.learner_model_param.num_class");
  const auto& objective = at(at(learner, "objective", "learner"), "name", "learner.objective");
  if (!objective.is_string()) fail("learner.objective.name", "must be a string");
  const auto& name = objective.get_ref<const std::string&>();
  if (name == "reg:squarederror" || name == "reg:absoluteerror" || name == "reg:pseudohubererror") {
    m.objective = Objective::regression;
    m.base_margin = base_score;
  } else if (name == "binary:logistic") {
    m.objective = Objective::binary_logistic;
    if (!(base_score > 0 && base_score < 1)) {
      fail("learner.learner_model_param.base_score", "must be inside (0, 1) for binary:logistic");
    }
    m.base_margin = std::log(base_score / (1 - base_score));
  } else if (name == "multi:softprob") {
    m.objective = Objective::multi_softprob;
    m.base_margin = base_score;
    if (!(num_class >= 2 && num_class <= 1000 && num_class == std::floor(num_class))) {
      fail("learner.learner_model_param.num_class", "must be an integer from 2 to 1000");
    }
    m.num_class = static_cast<int>(num_class);
  } else {
    fail("learner.objective.name", "objective '" + name + "' is not supported");
  }
  if (const auto it = learner.find("feature_names"); it != learner.end()) {
    if (!it->is_array()) fail("learner.feature_names", "must be an array");
    for (const auto& f : *it) {
      if (!f.is_string()) fail("learner.feature_names", "must hold strings");
      m.feature_names.push_back(f.get<std::string>());
    }
  }
  const auto& booster = at(learner, "gradient_booster", "learner");
  const auto& kind = at(booster, "name", "learner.gradient_booster");
  if (kind != "gbtree") fail("learner.gradient_booster.name", "only gbtree is supported");
  const auto& model = at(booster, "model", "learner.gradient_booster");
  const auto& trees = at(model, "trees", "learner.gradient_booster.model");
  const auto& info = at(model, "tree_info", "learner.gradient_booster.model");
  if (!trees.is_array() || !info.is_array() || trees.size() != info.size()) {
    fail("learner.gradient_booster.model", "trees and tree_info must be arrays of one length");
  }
  for (std::size_t t = 0; t < trees.size(); ++t) {
    const std::string path = "learner.gradient_booster.model.trees[" + std::to_string(t) + "]";
    const auto& tree = trees[t];
    const auto& left = at(tree, "left_children", path);
    if (!left.is_array() || left.empty() || left.size() > (1u << 24)) {
      fail(path + ".left_children", "must be a non-empty array");
    }
    const auto n = left.size();
    const auto lefts = array_of<std::int64_t>(tree, "left_children", path, n);
    const auto rights = array_of<std::int64_t>(tree, "right_children", path, n);
    const auto features = array_of<std::int64_t>(tree, "split_indices", path, n);
    const auto values = array_of<double>(tree, "split_conditions", path, n);
    const auto defaults = array_of<int>(tree, "default_left", path, n);
    if (const auto it = tree.find("split_type"); it != tree.end()) {
      for (const auto& s : array_of<int>(tree, "split_type", path, n)) {
        if (s != 0) fail(path + ".split_type", "categorical splits are not supported");
      }
    }
    const auto offset = static_cast<std::int64_t>(m.nodes.size());
    if (offset + static_cast<std::int64_t>(n) > (std::int64_t{1} << 30)) {
      fail(path, "the model is too large");
    }
    m.roots.push_back(static_cast<std::int32_t>(offset));
    const double cls = number(info[t], "learner.gradient_booster.model.tree_info");
    m.tree_class.push_back(static_cast<std::int32_t>(std::clamp(cls, -1.0, 1e6)));
    // Lay the tree out breadth first with each split's children side by side; a node reached
    // twice (a cycle or a shared child) is refused.
    std::vector<std::int64_t> at(n, -1);  // XGBoost's node id → position in this tree
    std::vector<std::size_t> order = {0};
    at[0] = 0;
    const auto child = [&](std::size_t k, std::int64_t c) {
      if (c < 0 || c >= static_cast<std::int64_t>(n)) {
        fail(path, "node " + std::to_string(k) + " has a child outside the tree");
      }
      if (at[static_cast<std::size_t>(c)] >= 0) {
        fail(path, "node " + std::to_string(c) + " is reached twice");
      }
      at[static_cast<std::size_t>(c)] = static_cast<std::int64_t>(order.size());
      order.push_back(static_cast<std::size_t>(c));
    };
    for (std::size_t q = 0; q < order.size(); ++q) {
      const auto k = order[q];
      if (lefts[k] >= 0) {
        child(k, lefts[k]);
        child(k, rights[k]);
      }
    }
    m.nodes.resize(static_cast<std::size_t>(offset) + order.size());
    for (const auto k : order) {
      TreeNode node;
      if (lefts[k] >= 0) {
        node.left = static_cast<std::int32_t>(offset + at[static_cast<std::size_t>(lefts[k])]);
        if (features[k] < 0 || features[k] >= (std::int64_t{1} << 30)) {
          fail(path + ".split_indices", "feature " + std::to_string(features[k]) + " out of range");
        }
        node.feature = static_cast<std::uint32_t>(features[k]) |
                       (defaults[k] != 0 ? TreeNode::kMissingLeft : 0u);
      }
      if (!std::isfinite(values[k])) fail(path + ".split_conditions", "must be finite");
      node.value = static_cast<float>(values[k]);
      m.nodes[static_cast<std::size_t>(offset + at[k])] = node;
    }
  }
  try {
    validate(m, feature_count);
  } catch (const std::invalid_argument& e) {
    fail("learner.gradient_booster.model", e.what());
  }
  if (!m.feature_names.empty() && m.feature_names.size() != feature_count) {
    fail("learner.feature_names", "has " + std::to_string(m.feature_names.size()) + " names for " +
                                      std::to_string(feature_count) + " features");
  }
  return m;
}

}  // namespace remhart::ml::io
