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
  const auto step = [&](const TreeNode* node) {
    // Without a branch on missing values: `x < v` is false for NaN (goes right), `!(x >= v)`
    // true (goes left); both equal `x < v` otherwise.
    const float x = static_cast<float>(row[node->feature_index()]);
    const bool left = node->missing_left() ? !(x >= node->value) : x < node->value;
    return &nodes[static_cast<std::size_t>(node->left + (left ? 0 : 1))];
  };
  const auto cls = [&](std::size_t t) { return k == 1 ? 0 : tree_class[t]; };
  // Four trees walked together: their loads are independent, so their latencies overlap (twice
  // the samples per second of one tree at a time; eight lanes measured no better).
  std::size_t t = 0;
  for (; t + 4 <= roots.size(); t += 4) {
    const TreeNode* a = &nodes[static_cast<std::size_t>(roots[t])];
    const TreeNode* b = &nodes[static_cast<std::size_t>(roots[t + 1])];
    const TreeNode* c = &nodes[static_cast<std::size_t>(roots[t + 2])];
    const TreeNode* d = &nodes[static_cast<std::size_t>(roots[t + 3])];
    while ((a->left | b->left | c->left | d->left) >= 0) {  // all four still inside
      a = step(a);
      b = step(b);
      c = step(c);
      d = step(d);
    }
    while (a->left >= 0) a = step(a);
    while (b->left >= 0) b = step(b);
    while (c->left >= 0) c = step(c);
    while (d->left >= 0) d = step(d);
    sum[cls(t)] += a->value;
    sum[cls(t + 1)] += b->value;
    sum[cls(t + 2)] += c->value;
    sum[cls(t + 3)] += d->value;
  }
  for (; t < roots.size(); ++t) {
    const TreeNode* node = &nodes[static_cast<std::size_t>(roots[t])];
    while (node->left >= 0) node = step(node);
    sum[cls(t)] += node->value;
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
      if (node.left + 1 >= size) {
        fail(where + "node " + std::to_string(n) + ": child index out of range");
      }
      if (node.feature_index() >= feature_count) {
        fail(where + "node " + std::to_string(n) + " splits on feature " +
             std::to_string(node.feature_index()) + " of " + std::to_string(feature_count));
      }
      stack.push_back(node.left);
      stack.push_back(node.left + 1);
    }
  }
}

}  // namespace remhart::ml
