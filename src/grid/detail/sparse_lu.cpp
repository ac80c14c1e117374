#include "grid/detail/sparse_lu.hpp"

#include <algorithm>

namespace remhart::grid::detail {

SparseLu::SparseLu() {
  klu_defaults(&common_);
}

SparseLu::~SparseLu() {
  if (numeric_) klu_free_numeric(&numeric_, &common_);
  if (symbolic_) klu_free_symbolic(&symbolic_, &common_);
}

bool SparseLu::analyze(int n, const int* ptr, const int* row, const int* order) {
  n_ = n;
  ptr_ = ptr;
  row_ = row;
  common_.btf = 0;
  if (n == 0) return true;
  if (order) {
    common_.scale = -1;  // no scaling, no input check: the pattern is built here
    symbolic_ = klu_analyze_given(n, const_cast<int*>(ptr), const_cast<int*>(row),
                                  const_cast<int*>(order), const_cast<int*>(order), &common_);
  } else {
    symbolic_ = klu_analyze(n, const_cast<int*>(ptr), const_cast<int*>(row), &common_);
  }
  return symbolic_ != nullptr;
}

bool SparseLu::factor(const double* val) {
  if (n_ == 0) return true;
  auto* v = const_cast<double*>(val);
  if (numeric_) {
    if (klu_refactor(const_cast<int*>(ptr_), const_cast<int*>(row_), v, symbolic_, numeric_,
                     &common_) &&
        common_.status == KLU_OK) {
      // Guard against pivots that have become poor for the new values.
      klu_rcond(symbolic_, numeric_, &common_);
      if (common_.rcond > 1e-12) return true;
    }
    klu_free_numeric(&numeric_, &common_);
  }
  numeric_ = klu_factor(const_cast<int*>(ptr_), const_cast<int*>(row_), v, symbolic_, &common_);
  return numeric_ != nullptr && common_.status == KLU_OK;
}

void SparseLu::solve(double* b) const {
  if (n_ > 0) klu_solve(symbolic_, numeric_, n_, 1, b, &common_);
}

bool FactorisedMatrix::factor(int n, std::vector<std::tuple<int, int, double>> entries) {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::get<1>(a) != std::get<1>(b) ? std::get<1>(a) < std::get<1>(b)
                                            : std::get<0>(a) < std::get<0>(b);
  });
  ptr_.assign(static_cast<std::size_t>(n) + 1, 0);
  int prev_r = -1, prev_c = -1;
  for (const auto& [r, c, v] : entries) {
    if (r == prev_r && c == prev_c) {
      val_.back() += v;
      continue;
    }
    row_.push_back(r);
    val_.push_back(v);
    ++ptr_[static_cast<std::size_t>(c) + 1];
    prev_r = r;
    prev_c = c;
  }
  for (int c = 0; c < n; ++c) {
    ptr_[static_cast<std::size_t>(c) + 1] += ptr_[static_cast<std::size_t>(c)];
  }
  return lu_.analyze(n, ptr_.data(), row_.data()) && lu_.factor(val_.data());
}

}  // namespace remhart::grid::detail
