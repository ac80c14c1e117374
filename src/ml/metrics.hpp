#pragma once
// How models are scored on held-out data: the same functions score the model and its baseline.
#include <cstddef>
#include <span>
#include <vector>

namespace remhart::ml {

/// Binary classification counts and the scores made of them.
struct BinaryScore {
  std::size_t tp = 0, fp = 0, fn = 0, tn = 0;
  double precision() const;
  double recall() const;
  double f1() const;
};
BinaryScore score_binary(std::span<const int> truth, std::span<const int> predicted);

/// Macro-averaged F1 over `classes` classes (a class absent from both truth and prediction is
/// left out of the average), and accuracy.
struct MultiScore {
  double macro_f1 = 0, accuracy = 0;
  std::vector<double> f1;  ///< per class (NaN when the class never occurs)
};
MultiScore score_multiclass(std::span<const int> truth, std::span<const int> predicted,
                            int classes);

/// Mean absolute error and mean absolute percentage error (rows with |truth| < `floor` left out
/// of the MAPE).
double mean_absolute_error(std::span<const double> truth, std::span<const double> predicted);
double mean_absolute_percentage_error(std::span<const double> truth,
                                      std::span<const double> predicted, double floor = 1e-9);

/// Share of `truth` inside [lo, hi].
double interval_coverage(std::span<const double> truth, std::span<const double> lo,
                         std::span<const double> hi);

/// Expected calibration error over `bins` equal-width probability bins, and the reliability
/// curve (per non-empty bin: mean predicted probability, observed frequency, count).
struct Calibration {
  double ece = 0;
  struct Bin {
    double predicted = 0, observed = 0;
    std::size_t count = 0;
  };
  std::vector<Bin> curve;
};
Calibration calibration(std::span<const int> truth, std::span<const double> probability,
                        int bins = 10);

/// Area under the ROC curve of `score` for `truth` (ties count half): the probability that a
/// positive scores above a negative. NaN without both classes.
double roc_auc(std::span<const int> truth, std::span<const double> score);

/// Events: maximal runs of consecutive positive samples of one series. An event is detected
/// when any of its samples is flagged; a false event is a run of flags overlapping no sample
/// of `context` (what counts as something happening: the events themselves when empty).
struct EventScore {
  std::size_t events = 0, detected = 0, false_events = 0;
  double recall() const { return events ? static_cast<double>(detected) / events : 1.0; }
};
/// Adds one series (samples in time order) to `score`.
void score_events(std::span<const int> truth, std::span<const int> flagged, EventScore& score,
                  std::span<const int> context = {});

}  // namespace remhart::ml
