#pragma once
// Gradient-boosted trees, evaluated here rather than by XGBoost: a model is its trees flattened
// into one node array, walked for one row in well under a microsecond per tree. The semantics
// are XGBoost's (1.7, `gbtree`, numerical splits): a feature value is compared as a 32-bit float,
// `x < split` goes left, a missing value (NaN) follows the node's default direction, each tree
// adds its leaf to its class's margin, which starts at the base score, and the objective maps
// margins to outputs (identity, logistic, softmax). Tests check the predictions equal
// XGBoost's own.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace remhart::ml {

enum class Objective { regression, binary_logistic, multi_softprob };

/// One node of the flattened forest, 12 bytes: a split's children are adjacent (the right one
/// follows the left), so a walk touches little memory. A leaf has `left == -1` and its value in
/// `value`.
struct TreeNode {
  static constexpr std::uint32_t kMissingLeft = 0x80000000u;
  std::int32_t left = -1;     // index of the left child in the model's node array
  std::uint32_t feature = 0;  // the split's feature; kMissingLeft set: missing values go left
  float value = 0;            // split threshold, or leaf value
  std::uint32_t feature_index() const { return feature & ~kMissingLeft; }
  bool missing_left() const { return (feature & kMissingLeft) != 0; }
};
static_assert(sizeof(TreeNode) == 12);

struct GbtModel {
  Objective objective = Objective::regression;
  int num_class = 1;       ///< outputs: 1, or the classes of multi_softprob
  double base_margin = 0;  ///< every margin's starting value
  std::vector<TreeNode> nodes;
  std::vector<std::int32_t> roots;       ///< per tree: index of its root in `nodes`
  std::vector<std::int32_t> tree_class;  ///< per tree: the class it adds to
  std::vector<std::string> feature_names;

  std::size_t outputs() const { return objective == Objective::multi_softprob ? num_class : 1; }
  /// Predicts one row (`row.size()` ≥ the features the trees use; NaN = missing) into `out`
  /// (`outputs()` values: the value, the probability of class 1, or the class probabilities).
  void predict(std::span<const double> row, std::span<double> out) const;
  /// Raw margins, before the objective's link (`outputs()` values).
  void margins(std::span<const double> row, std::span<double> out) const;
};

/// Checks a model's structure (every node reached once from its tree's root, child pairs in
/// range, features within `feature_count`, one class per tree); throws std::invalid_argument
/// naming the fault.
void validate(const GbtModel& model, std::size_t feature_count);

}  // namespace remhart::ml
