#include "ml/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace remhart::ml {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
double ratio(double a, double b) {
  return b > 0 ? a / b : 0;
}
}  // namespace

double BinaryScore::precision() const {
  return ratio(static_cast<double>(tp), static_cast<double>(tp + fp));
}
double BinaryScore::recall() const {
  return ratio(static_cast<double>(tp), static_cast<double>(tp + fn));
}
double BinaryScore::f1() const {
  return ratio(2.0 * static_cast<double>(tp), static_cast<double>(2 * tp + fp + fn));
}

BinaryScore score_binary(std::span<const int> truth, std::span<const int> predicted) {
  BinaryScore s;
  for (std::size_t k = 0; k < truth.size(); ++k) {
    const bool t = truth[k] != 0, p = predicted[k] != 0;
    (t ? (p ? s.tp : s.fn) : (p ? s.fp : s.tn))++;
  }
  return s;
}

MultiScore score_multiclass(std::span<const int> truth, std::span<const int> predicted,
                            int classes) {
  MultiScore s;
  const auto n = static_cast<std::size_t>(classes);
  std::vector<double> tp(n, 0), fp(n, 0), fn(n, 0);
  std::size_t right = 0;
  for (std::size_t k = 0; k < truth.size(); ++k) {
    const auto t = static_cast<std::size_t>(truth[k]), p = static_cast<std::size_t>(predicted[k]);
    if (t == p) {
      ++right;
      tp[t] += 1;
    } else {
      fn[t] += 1;
      fp[p] += 1;
    }
  }
  s.accuracy = ratio(static_cast<double>(right), static_cast<double>(truth.size()));
  double sum = 0;
  int counted = 0;
  for (std::size_t c = 0; c < n; ++c) {
    if (tp[c] + fp[c] + fn[c] == 0) {
      s.f1.push_back(kNaN);
      continue;
    }
    s.f1.push_back(2 * tp[c] / (2 * tp[c] + fp[c] + fn[c]));
    sum += s.f1.back();
    ++counted;
  }
  s.macro_f1 = counted ? sum / counted : 0;
  return s;
}

double mean_absolute_error(std::span<const double> truth, std::span<const double> predicted) {
  double sum = 0;
  for (std::size_t k = 0; k < truth.size(); ++k) sum += std::abs(truth[k] - predicted[k]);
  return truth.empty() ? kNaN : sum / static_cast<double>(truth.size());
}

double mean_absolute_percentage_error(std::span<const double> truth,
                                      std::span<const double> predicted, double floor) {
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t k = 0; k < truth.size(); ++k) {
    if (std::abs(truth[k]) < floor) continue;
    sum += std::abs((truth[k] - predicted[k]) / truth[k]);
    ++n;
  }
  return n ? 100 * sum / static_cast<double>(n) : kNaN;
}

double interval_coverage(std::span<const double> truth, std::span<const double> lo,
                         std::span<const double> hi) {
  std::size_t inside = 0;
  for (std::size_t k = 0; k < truth.size(); ++k) inside += truth[k] >= lo[k] && truth[k] <= hi[k];
  return truth.empty() ? kNaN : static_cast<double>(inside) / static_cast<double>(truth.size());
}

Calibration calibration(std::span<const int> truth, std::span<const double> probability, int bins) {
  const auto n = static_cast<std::size_t>(bins);
  std::vector<double> sum_p(n, 0), sum_y(n, 0);
  std::vector<std::size_t> count(n, 0);
  for (std::size_t k = 0; k < truth.size(); ++k) {
    const double p = std::clamp(probability[k], 0.0, 1.0);
    const auto b = std::min(n - 1, static_cast<std::size_t>(p * static_cast<double>(n)));
    sum_p[b] += p;
    sum_y[b] += truth[k] != 0;
    ++count[b];
  }
  Calibration c;
  for (std::size_t b = 0; b < n; ++b) {
    if (count[b] == 0) continue;
    const double cnt = static_cast<double>(count[b]);
    c.curve.push_back({sum_p[b] / cnt, sum_y[b] / cnt, count[b]});
    c.ece += cnt / static_cast<double>(truth.size()) * std::abs(sum_p[b] - sum_y[b]) / cnt;
  }
  return c;
}

double roc_auc(std::span<const int> truth, std::span<const double> score) {
  std::vector<std::size_t> order(truth.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return score[a] < score[b]; });
  // Mann–Whitney U: the positives' ranks (mid-ranks across ties).
  double rank_sum = 0, positives = 0;
  for (std::size_t k = 0; k < order.size();) {
    std::size_t end = k;
    double tied_positives = 0;
    for (; end < order.size() && score[order[end]] == score[order[k]]; ++end) {
      tied_positives += truth[order[end]] != 0;
    }
    rank_sum += tied_positives * (static_cast<double>(k + end + 1) / 2);  // mean of k+1 … end
    positives += tied_positives;
    k = end;
  }
  const double negatives = static_cast<double>(truth.size()) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

void score_events(std::span<const int> truth, std::span<const int> flagged, EventScore& score,
                  std::span<const int> context) {
  if (context.empty()) context = truth;
  const std::size_t n = truth.size();
  for (std::size_t k = 0; k < n;) {
    if (truth[k] != 0) {  // an event: [k, end)
      std::size_t end = k;
      bool hit = false;
      for (; end < n && truth[end] != 0; ++end) hit = hit || flagged[end] != 0;
      ++score.events;
      score.detected += hit;
      k = end;
    } else {
      ++k;
    }
  }
  for (std::size_t k = 0; k < n;) {
    if (flagged[k] != 0) {  // a run of flags: [k, end)
      std::size_t end = k;
      bool overlaps = false;
      for (; end < n && flagged[end] != 0; ++end) overlaps = overlaps || context[end] != 0;
      score.false_events += !overlaps;
      k = end;
    } else {
      ++k;
    }
  }
}

}  // namespace remhart::ml
