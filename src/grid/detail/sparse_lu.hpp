#pragma once
// One RAII wrapper over KLU (SuiteSparse): a real sparse matrix in compressed columns, analysed
// once for its pattern, factorised numerically as often as its values change. Private to grid/
// (the KLU headers are not part of the library's interface).
#include <klu.h>

#include <tuple>
#include <vector>

namespace remhart::grid::detail {

class SparseLu {
 public:
  SparseLu();
  ~SparseLu();
  SparseLu(const SparseLu&) = delete;
  SparseLu& operator=(const SparseLu&) = delete;

  /// Symbolic analysis of an n × n pattern (`ptr`, `row`: compressed columns, kept by the
  /// caller). With `order`, that fill-reducing order for rows and columns and no row scaling (a
  /// power-flow Jacobian: one irreducible block, where KLU's block-triangular pre-ordering and
  /// default max scaling only cost — measured on case9241pegase, warm solves −15 %); without,
  /// KLU's AMD order and its default scaling. False when KLU cannot analyse it.
  bool analyze(int n, const int* ptr, const int* row, const int* order = nullptr);

  /// Numeric factorisation of the analysed pattern with values `val`: a refactorisation with the
  /// previous pivots when there are some and they stay sound (reciprocal condition > 1e-12), else
  /// a fresh one. False when singular.
  bool factor(const double* val);

  /// Solves A x = b in place.
  void solve(double* b) const;

  int size() const { return n_; }

 private:
  mutable klu_common common_{};
  klu_symbolic* symbolic_ = nullptr;
  klu_numeric* numeric_ = nullptr;
  const int* ptr_ = nullptr;
  const int* row_ = nullptr;
  int n_ = 0;
};

/// A constant matrix factorised once (the fast-decoupled B' and B'').
class FactorisedMatrix {
 public:
  /// `entries` are (row, col, value), duplicates summed. False when singular.
  bool factor(int n, std::vector<std::tuple<int, int, double>> entries);
  void solve(std::vector<double>& b) const { lu_.solve(b.data()); }

 private:
  std::vector<int> ptr_, row_;  // compressed columns, which lu_ refers to
  std::vector<double> val_;
  SparseLu lu_;
};

}  // namespace remhart::grid::detail
