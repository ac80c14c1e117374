#include "ml/gbt.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace remhart::ml {

void GbtModel::margins(std::span<const double> row, std::span<double> out) const {
  const std::size_t k = outputs();
  // XGBoost sums the leaves of a row in single precision; so do we, for equal predictions.
  float sums[64] = {};
  float* sum = k <= 64 ? sums : nullptr;
  std::vector<float> big;
  if (!sum) {
    big.assign(k, 0.0f);
    sum = big.data();
  }
  for (std::size_t t = 0; t < roots.size(); ++t) {
    std::int32_t n = roots[t];
    while (nodes[n].left >= 0) {
      const auto& node = nodes[n];
      const double x = row[static_cast<std::size_t>(node.feature)];
      if (std::isnan(x)) {
        n = node.default_left ? node.left : node.right;
      } else {
        n = static_cast<float>(x) < node.value ? node.left : node.right;
      }
    }
    sum[k == 1 ? 0 : tree_class[t]] += nodes[n].value;
  }
  for (std::size_t c = 0; c < k; ++c) out[c] = base_margin + static_cast<double>(sum[c]);
}

void GbtModel::predict(std::span<const double> row, std::span<double> out) const {
  margins(row, out);
  switch (objective) {
    case Objective::regression:
      break;
    case Objective::binary_logistic:
      out[0] = 1 / (1 + std::exp(-out[0]));
      break;
    case Objective::multi_softprob: {
      const auto k = static_cast<std::size_t>(num_class);
      const double top = *std::max_element(out.begin(), out.begin() + k);
      double total = 0;
      for (std::size_t c = 0; c < k; ++c) total += out[c] = std::exp(out[c] - top);
      for (std::size_t c = 0; c < k; ++c) out[c] /= total;
      break;
    }
  }
}

void validate(const GbtModel& m, std::size_t feature_count) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument(what); };
  if (m.num_class < 1 || (m.objective != Objective::multi_softprob && m.num_class != 1) ||
      (m.objective == Objective::multi_softprob && m.num_class < 2)) {
    fail("num_class does not fit the objective");
  }
  if (m.roots.size() != m.tree_class.size()) fail("tree_info must name a class per tree");
  const auto size = static_cast<std::int32_t>(m.nodes.size());
  // Every tree a proper tree: each node reached once from its root, so a walk always ends.
  std::vector<char> seen(m.nodes.size(), 0);
  std::vector<std::int32_t> stack;
  for (std::size_t t = 0; t < m.roots.size(); ++t) {
    const auto where = "tree " + std::to_string(t) + ": ";
    if (m.roots[t] < 0 || m.roots[t] >= size) fail(where + "bad root");
    if (m.tree_class[t] < 0 || m.tree_class[t] >= m.num_class) fail(where + "class out of range");
    stack.assign(1, m.roots[t]);
    while (!stack.empty()) {
      const auto n = stack.back();
      stack.pop_back();
      if (seen[static_cast<std::size_t>(n)])
        fail(where + "node " + std::to_string(n) + " reached twice");
      seen[static_cast<std::size_t>(n)] = 1;
      const auto& node = m.nodes[static_cast<std::size_t>(n)];
      if (node.left < 0) continue;
      if (node.left >= size || node.right < 0 || node.right >= size) {
        fail(where + "node " + std::to_string(n) + ": child index out of range");
      }
      if (node.feature < 0 || static_cast<std::size_t>(node.feature) >= feature_count) {
        fail(where + "node " + std::to_string(n) + " splits on feature " +
             std::to_string(node.feature) + " of " + std::to_string(feature_count));
      }
      stack.push_back(node.left);
      stack.push_back(node.right);
    }
  }
}

}  // namespace remhart::ml
