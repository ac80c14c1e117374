#include "analytics/training.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "analytics/catalogue.hpp"
#include "analytics/dataset.hpp"
#include "analytics/decision.hpp"
#include "analytics/energy_training.hpp"
#include "analytics/maintenance.hpp"
#include "analytics/monitoring.hpp"
#include "analytics/network.hpp"
#include "analytics/results.hpp"
#include "grid/powerflow.hpp"
#include "ml/io/xgboost_json.hpp"
#include "ml/metrics.hpp"
#include "ml/xgboost_train.hpp"

namespace remhart::analytics {

namespace {

using detail::target;
using nlohmann::json;

constexpr std::ptrdiff_t kNearEventSteps = 60;

struct BinaryEval {
  std::vector<int> truth, baseline;
  std::vector<int> context;  // something acts on the meter (for false events); may stay empty
  std::vector<double> score;
  std::vector<std::size_t> series;  // where each device's samples start
  void append(const BinaryEval& o) {
    for (auto s : o.series) series.push_back(s + truth.size());
    truth.insert(truth.end(), o.truth.begin(), o.truth.end());
    baseline.insert(baseline.end(), o.baseline.begin(), o.baseline.end());
    context.insert(context.end(), o.context.begin(), o.context.end());
    score.insert(score.end(), o.score.begin(), o.score.end());
  }
};

struct RegressionEval {
  std::vector<double> truth, predicted, persistence;
  std::vector<int> in_event;
  void append(const RegressionEval& o) {
    truth.insert(truth.end(), o.truth.begin(), o.truth.end());
    predicted.insert(predicted.end(), o.predicted.begin(), o.predicted.end());
    persistence.insert(persistence.end(), o.persistence.begin(), o.persistence.end());
    in_event.insert(in_event.end(), o.in_event.begin(), o.in_event.end());
  }
};

struct ClassEval {
  std::vector<int> truth, predicted, baseline;
  void append(const ClassEval& o) {
    truth.insert(truth.end(), o.truth.begin(), o.truth.end());
    predicted.insert(predicted.end(), o.predicted.begin(), o.predicted.end());
    baseline.insert(baseline.end(), o.baseline.begin(), o.baseline.end());
  }
};

// A computed score against a binary truth (the power quality index).
struct ScoreEval {
  std::vector<int> truth;
  std::vector<double> score;
  void append(const ScoreEval& o) {
    truth.insert(truth.end(), o.truth.begin(), o.truth.end());
    score.insert(score.end(), o.score.begin(), o.score.end());
  }
};

// Decision support on the test runs: the compensation's promise against a power flow, and how
// often a balancing plan is proposed where the voltage is unbalanced (moderate or severe) and
// where it is not (none).
struct DecisionEval {
  std::vector<double> pf_error;  // |pf in the power flow − pf promised| / pf promised
  std::size_t compensations = 0, not_converged = 0;
  std::size_t imbalanced = 0, imbalanced_planned = 0, balanced = 0, balanced_planned = 0;
  void append(const DecisionEval& o) {
    pf_error.insert(pf_error.end(), o.pf_error.begin(), o.pf_error.end());
    compensations += o.compensations;
    not_converged += o.not_converged;
    imbalanced += o.imbalanced;
    imbalanced_planned += o.imbalanced_planned;
    balanced += o.balanced;
    balanced_planned += o.balanced_planned;
  }
};

// The compensation's promise against the grid engine, at a step the simulator solved: the
// recommendation for what the device's meter sees there (P, Q, V of the solved network), the
// bank installed (at the meter's bus; at a branch meter's far end), the power flow solved, and
// the power factor the meter would then see compared with the promise.
void check_compensation(const grid::Network& solved, const sim::ElementRef& at, double rated_kva,
                        DecisionEval& out) {
  const auto metered = [&](grid::PowerFlow& pf, const grid::PowerFlowResult& r, std::size_t bus,
                           double bank_mvar) {
    double p = 0, q = 0;
    if (at.is_bus) {  // the bus's load, with the bank behind the meter
      const auto& b = pf.network().buses[bus];
      p = b.pd;
      q = b.qd - bank_mvar * r.vm[bus] * r.vm[bus];
    } else {
      const auto& fl = r.flows[at.branch];
      p = at.from_end ? fl.p_from : fl.p_to;
      q = at.from_end ? fl.q_from : fl.q_to;
    }
    return std::pair{p, q};
  };
  std::size_t bus = 0, meter_bus = 0;
  std::int64_t bank_bus = at.bus;
  if (!at.is_bus) {
    const auto& br = solved.branches[at.branch];
    bank_bus = at.from_end ? br.to : br.from;
  }
  for (std::size_t k = 0; k < solved.buses.size(); ++k) {
    if (solved.buses[k].id == bank_bus) bus = k;
    if (solved.buses[k].id == at.bus) meter_bus = k;
  }
  grid::PowerFlow pf(solved);
  auto r = pf.solve();
  if (!r.converged) return;
  const auto [p0, q0] = metered(pf, r, bus, 0);
  const auto rec = reactive_compensation(p0 * 1000, q0 * 1000, r.vm[meter_bus], rated_kva);
  if (rec.status != "compensate") return;
  ++out.compensations;
  pf.set_shunt(bus, pf.network().buses[bus].gs,
               pf.network().buses[bus].bs + rec.bank_kvar / 1000);  // Mvar at 1 p.u.
  r = pf.solve();
  if (!r.converged) {
    ++out.not_converged;
    return;
  }
  const auto [p, q] = metered(pf, r, bus, rec.bank_kvar / 1000);
  const double pf_flow = std::abs(p) / std::hypot(p, q);
  out.pf_error.push_back(std::abs(pf_flow - rec.pf_after) / rec.pf_after);
}

// The network-level models on the test runs' solved states: losses against a power flow of the
// state's injections, set-points applied to a network of their own, the stability score
// against whether an event is in force.
struct NetworkEval {
  std::vector<double> loss_error, setpoint_error, saving_pct, setpoint_ms;
  std::size_t infeasible = 0;
  std::vector<double> stability;
  std::vector<int> stability_event;
  void append(const NetworkEval& o) {
    for (auto [to, from] : {std::pair{&loss_error, &o.loss_error},
                            {&setpoint_error, &o.setpoint_error},
                            {&saving_pct, &o.saving_pct},
                            {&setpoint_ms, &o.setpoint_ms},
                            {&stability, &o.stability}}) {
      to->insert(to->end(), from->begin(), from->end());
    }
    stability_event.insert(stability_event.end(), o.stability_event.begin(),
                           o.stability_event.end());
    infeasible += o.infeasible;
  }
};

void evaluate_network(const sim::Twin& twin, const grid::Network& solved, double frequency_dev_hz,
                      bool event, NetworkEval& out) {
  grid::PowerFlow pf(solved);
  const auto r = pf.solve();
  if (!r.converged) return;  // a fault step the plain power flow does not solve
  const BusState state{r.vm, r.va_deg};
  const auto loss = energy_loss(solved, state);
  out.loss_error.push_back(std::abs(loss.power_flow_losses_kw - loss.losses_kw) /
                           std::max(1e-9, loss.losses_kw));
  const auto base = injections_of(solved, state);
  out.stability.push_back(stability_score(base, frequency_dev_hz).score);
  out.stability_event.push_back(event);
  if (event) return;
  const auto controls = twin_controls(twin, base);
  const auto t0 = std::chrono::steady_clock::now();
  const auto sp = optimise_setpoints(base, controls);
  out.setpoint_ms.push_back(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  auto applied = base;
  apply(applied, controls, sp);
  grid::PowerFlow check(std::move(applied));
  const auto c = check.solve();
  if (!c.converged) {
    out.setpoint_error.push_back(1);
    return;
  }
  out.setpoint_error.push_back(std::abs(1000 * c.losses_mw - sp.losses_after_kw) /
                               std::max(1e-9, sp.losses_after_kw));
  out.saving_pct.push_back(sp.saving_pct);
  out.infeasible += !sp.feasible;
}

struct Models {
  const ml::GbtModel *anomaly, *harmonic, *frequency, *imbalance, *failure, *overload, *sag;
};

struct RunOutput {
  ml::Matrix anomaly, harmonic, frequency, imbalance, failure, overload, sag;
  BinaryEval anomaly_eval, harmonic_eval, failure_eval, sag_eval;
  RegressionEval frequency_eval;
  ClassEval imbalance_eval, overload_eval;
  ScoreEval pqi_eval;
  DecisionEval decision_eval;
  NetworkEval network_eval;
  double device_seconds = 0;
  std::vector<ml::Matrix*> matrices() {
    return {&anomaly, &harmonic, &frequency, &imbalance, &failure, &overload, &sag};
  }
};

// `f` with only the features `used`, the rest missing.
features::FeatureVector only(const features::FeatureVector& f,
                             const std::vector<std::size_t>& used) {
  features::FeatureVector out;
  out.fill(core::kAbsent);
  for (auto i : used) out[i] = f[i];
  return out;
}

int argmax(std::span<const double> p) {
  return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
}

void append(ml::Matrix& to, const ml::Matrix& from) {
  to.cols = from.cols;
  to.x.insert(to.x.end(), from.x.begin(), from.x.end());
  to.y.insert(to.y.end(), from.y.begin(), from.y.end());
}

RunOutput process_run(const sim::Twin& twin, const RunSpec& spec, const Models* models) {
  const RunData run = simulate_run(twin, spec);
  RunOutput out;
  for (auto* m : out.matrices()) m->cols = features::kFeatureCount;
  const std::size_t n = run.ts.size();
  const auto active = events_in_force(run);
  const auto failure = failure_truth(run);
  for (std::size_t d = 0; d < run.devices.size(); ++d) {
    const auto& steps = run.steps[d];
    const auto overload = overload_truth(run, d);
    const auto sag = sag_truth(run, d);
    const auto ratings = features::ratings_of(run.devices[d]);
    const double nominal_hz = ratings.nominal_frequency;
    const double rated_kva = 3 * ratings.nominal_voltage * ratings.rated_current / 1000;
    std::optional<sim::ElementRef> element;
    try {
      element = sim::resolve_element(twin.network, run.devices[d].element);
    } catch (const grid::NetworkError&) {
    }
    std::size_t next_snapshot = 0;
    // Samples within a minute of a voltage event: the negatives worth learning from.
    const auto anomaly_truth = voltage_anomaly_truth(steps, active);
    std::vector<int> events(n + 1, 0);
    for (std::size_t k = 0; k < n; ++k) events[k + 1] = events[k] + anomaly_truth[k];
    const auto near_event = [&](std::size_t k) {
      const auto lo = static_cast<std::size_t>(
          std::max<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(k) - kNearEventSteps));
      const auto hi = std::min(n, k + static_cast<std::size_t>(kNearEventSteps) + 1);
      return events[hi] - events[lo] > 0;
    };
    const auto horizon = static_cast<std::size_t>(std::llround(kFrequencyHorizonS / spec.step_s));
    const auto future_change = [&](std::size_t k) {
      if (k + horizon >= n || !steps[k + horizon].present) return core::kAbsent;
      return steps[k + horizon].values.f - steps[k].values.f;
    };
    out.anomaly_eval.series.push_back(out.anomaly_eval.truth.size());
    out.harmonic_eval.series.push_back(out.harmonic_eval.truth.size());
    out.failure_eval.series.push_back(out.failure_eval.truth.size());
    out.sag_eval.series.push_back(out.sag_eval.truth.size());
    for_each_sample(
        run, d,
        [&](std::size_t k, const features::FeatureVector& f) {
          const auto& s = steps[k];
          out.device_seconds += spec.step_s;
          const int anomaly = anomaly_truth[k];
          const int harmonic = harmonic_truth(s);
          const int imbalance = imbalance_truth(s);
          const double change = k % 5 == 0 ? future_change(k) : core::kAbsent;
          if (!models) {
            if (anomaly || near_event(k) || k % 10 == 0) out.anomaly.add(f, anomaly);
            if (k % 10 == 0) out.harmonic.add(f, harmonic);
            if (!std::isnan(change)) out.frequency.add(only(f, frequency_features()), change);
            if (k % 10 == 0 || (imbalance > 0 && k % 2 == 0)) out.imbalance.add(f, imbalance);
            // Uniformly sampled: the probabilities stay calibrated (oversampled positives,
            // mostly unforeseeable steps before an event, only taught false alarms).
            if (k % 10 == 0 && failure[k] >= 0)
              out.failure.add(only(f, failure_features()), failure[k]);
            if (k % 10 == 0 && overload[k] >= 0) out.overload.add(f, overload[k]);
            if (k % 10 == 0 && sag[k] >= 0) out.sag.add(f, sag[k]);
            return;
          }
          double p = 0;
          models->anomaly->predict(f, {&p, 1});
          out.anomaly_eval.truth.push_back(anomaly);
          out.anomaly_eval.baseline.push_back(voltage_anomaly_baseline(f));
          out.anomaly_eval.score.push_back(p);
          out.anomaly_eval.context.push_back(active[k]);
          models->harmonic->predict(f, {&p, 1});
          out.harmonic_eval.truth.push_back(harmonic);
          out.harmonic_eval.baseline.push_back(0);  // the majority class
          out.harmonic_eval.score.push_back(p);
          if (!std::isnan(change)) {
            models->frequency->predict(f, {&p, 1});
            out.frequency_eval.truth.push_back(change);
            out.frequency_eval.predicted.push_back(p);
            out.frequency_eval.persistence.push_back(0);
            out.frequency_eval.in_event.push_back(s.label.event == "frequency_excursion");
          }
          std::array<double, kImbalanceClasses> probs{};
          models->imbalance->predict(f, probs);
          out.imbalance_eval.truth.push_back(imbalance);
          out.imbalance_eval.predicted.push_back(argmax(probs));
          out.imbalance_eval.baseline.push_back(imbalance_baseline(f));
          if (failure[k] >= 0) {
            models->failure->predict(f, {&p, 1});
            out.failure_eval.truth.push_back(failure[k]);
            out.failure_eval.score.push_back(p);
            out.failure_eval.baseline.push_back(0);  // never fails: the majority class
          }
          if (overload[k] >= 0) {
            std::array<double, kOverloadClasses> over{};
            models->overload->predict(f, over);
            out.overload_eval.truth.push_back(overload[k]);
            out.overload_eval.predicted.push_back(argmax(over));
            out.overload_eval.baseline.push_back(overload_baseline(f));
          }
          if (sag[k] >= 0) {
            models->sag->predict(f, {&p, 1});
            out.sag_eval.truth.push_back(sag[k]);
            out.sag_eval.score.push_back(p);
            out.sag_eval.baseline.push_back(sag_baseline(f));
          }
          out.pqi_eval.truth.push_back(power_quality_truth(s));
          out.pqi_eval.score.push_back(power_quality_index(f, nominal_hz).index);
          {
            const bool planned = load_balancing(f).move_count > 0;
            auto& e = out.decision_eval;
            if (imbalance >= 2) {
              ++e.imbalanced;
              e.imbalanced_planned += planned;
            } else if (imbalance == 0 && k % 10 == 0) {
              ++e.balanced;
              e.balanced_planned += planned;
            }
          }
          while (next_snapshot < run.snapshots.size() && run.snapshots[next_snapshot].first < k) {
            ++next_snapshot;
          }
          if (element && next_snapshot < run.snapshots.size() &&
              run.snapshots[next_snapshot].first == k && !active[k]) {
            try {
              check_compensation(run.snapshots[next_snapshot].second, *element, rated_kva,
                                 out.decision_eval);
            } catch (const grid::NetworkError&) {
            }
          }
        },
        /*with_network=*/false);  // the server's monitoring models run without it
  }
  if (models) {
    for (const auto& [k, net] : run.snapshots) {
      const auto& first = run.steps.front()[k];
      const double df = first.present ? first.values.f - twin.dynamics.frequency_hz : core::kAbsent;
      try {
        evaluate_network(twin, net, df, active[k] != 0, out.network_eval);
      } catch (const grid::NetworkError&) {
        // a step with part of the network tripped off: the plain power flow wants one island
      }
    }
  }
  return out;
}

// Processes `runs` on `threads` threads; results in plan order.
std::vector<RunOutput> process_runs(const sim::Twin& twin, const std::vector<RunSpec>& runs,
                                    const Models* models, const TrainOptions& opt,
                                    std::string_view stage) {
  std::vector<RunOutput> out(runs.size());
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::condition_variable cv;
  std::size_t done = 0;
  std::exception_ptr error;
  const auto work = [&] {
    for (std::size_t k; (k = next++) < runs.size();) {
      try {
        if (opt.cancel && opt.cancel->load()) throw TrainingCancelled();
        out[k] = process_run(twin, runs[k], models);
      } catch (...) {
        const std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
        next = runs.size();
      }
      const std::lock_guard lock(mu);
      ++done;
      cv.notify_one();
    }
  };
  std::vector<std::jthread> pool;
  for (int t = 0; t < std::max(1, opt.threads); ++t) pool.emplace_back(work);
  {
    std::unique_lock lock(mu);
    std::size_t reported = 0;
    while (done < runs.size() && !error) {
      cv.wait(lock, [&] { return done > reported || error; });
      reported = done;
      if (opt.progress) {
        lock.unlock();
        opt.progress(stage, static_cast<double>(reported) / static_cast<double>(runs.size()));
        lock.lock();
      }
    }
  }
  pool.clear();
  if (error) std::rethrow_exception(error);
  return out;
}

std::vector<RunSpec> of_split(const std::vector<RunSpec>& plan, Split split) {
  std::vector<RunSpec> out;
  for (const auto& r : plan) {
    if (r.split == split) out.push_back(r);
  }
  return out;
}

std::vector<std::string> feature_names() {
  std::vector<std::string> names;
  for (const auto& d : features::feature_defs()) names.emplace_back(d.name);
  return names;
}

std::vector<int> flags_of(const BinaryEval& e, double threshold) {
  std::vector<int> flags(e.score.size());
  for (std::size_t k = 0; k < flags.size(); ++k) flags[k] = e.score[k] >= threshold;
  return flags;
}

// The threshold of highest F1 on validation (0.05 … 0.95).
double tune_threshold(const BinaryEval& v) {
  double best = 0.5, best_f1 = -1;
  for (int t = 1; t <= 19; ++t) {
    const double threshold = t * 0.05;
    const double f1 = ml::score_binary(v.truth, flags_of(v, threshold)).f1();
    if (f1 > best_f1 + 1e-12) {
      best_f1 = f1;
      best = threshold;
    }
  }
  return best;
}

ml::EventScore events_of(const BinaryEval& e, const std::vector<int>& flags) {
  ml::EventScore s;
  for (std::size_t k = 0; k < e.series.size(); ++k) {
    const auto begin = e.series[k];
    const auto end = k + 1 < e.series.size() ? e.series[k + 1] : e.truth.size();
    const auto context = e.context.empty() ? std::span<const int>{}
                                           : std::span(e.context).subspan(begin, end - begin);
    ml::score_events(std::span(e.truth).subspan(begin, end - begin),
                     std::span(flags).subspan(begin, end - begin), s, context);
  }
  return s;
}

json binary_metrics(const ml::BinaryScore& s) {
  return {{"f1", s.f1()},
          {"precision", s.precision()},
          {"recall", s.recall()},
          {"tp", s.tp},
          {"fp", s.fp},
          {"fn", s.fn},
          {"tn", s.tn}};
}

// How a computed 0–100 score (high: good) ranks cases with an event against the others: ROC AUC
// of 100 − score against the truth, and the mean score of each (cases without a score left out).
struct ScoreRanking {
  double auc = 0, mean_event = 0, mean_other = 0;
  std::size_t cases = 0;
};
ScoreRanking rank_score(const std::vector<int>& truth, const std::vector<double>& score) {
  std::vector<int> t;
  std::vector<double> badness;
  double sum[2] = {0, 0}, n[2] = {0, 0};
  for (std::size_t k = 0; k < truth.size() && k < score.size(); ++k) {
    if (std::isnan(score[k])) continue;
    t.push_back(truth[k]);
    badness.push_back(100 - score[k]);
    sum[truth[k] ? 1 : 0] += score[k];
    n[truth[k] ? 1 : 0] += 1;
  }
  return {ml::roc_auc(t, badness), n[1] ? sum[1] / n[1] : 0, n[0] ? sum[0] / n[0] : 0, t.size()};
}

json multi_metrics(const ml::MultiScore& s) {
  json per = json::array();
  for (double f : s.f1) per.push_back(std::isnan(f) ? json(nullptr) : json(f));
  return {{"macro_f1", s.macro_f1}, {"accuracy", s.accuracy}, {"f1_per_class", per}};
}

json params_json(const ml::GbtParams& p) {
  return {{"objective", p.objective},
          {"num_class", p.num_class},
          {"rounds", p.rounds},
          {"max_depth", p.max_depth},
          {"eta", p.eta},
          {"subsample", p.subsample},
          {"colsample_bytree", p.colsample_bytree},
          {"min_child_weight", p.min_child_weight},
          {"lambda", p.lambda},
          {"tree_method", "hist"},
          {"seed", p.seed}};
}

}  // namespace

std::vector<TrainedModel> train_models(const sim::Twin& twin, const TrainOptions& opt) {
  const auto plan = training_plan(twin, opt.seed, opt.scale, opt.run_s);
  const auto train_runs = of_split(plan, Split::train);
  const auto valid_runs = of_split(plan, Split::validation);
  auto test_runs = of_split(plan, Split::test);
  for (auto& r : test_runs) r.snapshot_every_s = 60;  // for the physics checks

  // 1. Train rows from the train runs.
  RunOutput rows;
  for (auto* m : rows.matrices()) m->cols = features::kFeatureCount;
  double train_device_seconds = 0;
  for (auto& r : process_runs(twin, train_runs, nullptr, opt, "simulating train runs")) {
    const auto to = rows.matrices();
    const auto from = r.matrices();
    for (std::size_t k = 0; k < to.size(); ++k) {
      append(*to[k], *from[k]);
      *from[k] = {};
    }
    train_device_seconds += r.device_seconds;
  }

  // 2. Fit.
  const auto names = feature_names();
  const auto fit = [&](const ml::Matrix& m, ml::GbtParams p, std::string_view stage) {
    if (opt.cancel && opt.cancel->load()) throw TrainingCancelled();
    if (opt.progress) opt.progress(stage, 0);
    p.threads = std::max(1, opt.threads);
    p.seed = opt.seed;
    auto text = ml::train_gbt(m, p, names);
    if (opt.progress) opt.progress(stage, 1);
    return text;
  };
  // The four monitoring models run on every sample: few rounds of depth-5 trees, large steps
  // (108 trees together, about a microsecond; more or deeper trees scored no better:
  // docs/analytics.md). The scheduled ones run once a minute and may be larger.
  ml::GbtParams anomaly_params;
  anomaly_params.objective = "binary:logistic";
  anomaly_params.rounds = 25;
  anomaly_params.eta = 0.3;
  anomaly_params.max_depth = 5;
  ml::GbtParams harmonic_params = anomaly_params;
  harmonic_params.rounds = 15;
  ml::GbtParams regression;
  regression.objective = "reg:squarederror";
  regression.rounds = 20;
  regression.eta = 0.3;
  regression.max_depth = 5;
  ml::GbtParams multi;
  multi.objective = "multi:softprob";
  multi.num_class = kImbalanceClasses;
  multi.rounds = 12;  // four trees a round
  multi.eta = 0.4;
  multi.max_depth = 5;
  ml::GbtParams failure_params = anomaly_params;  // shallow and smooth: few independent runs
  failure_params.rounds = 40;
  failure_params.eta = 0.1;
  failure_params.max_depth = 3;
  failure_params.min_child_weight = 20;
  ml::GbtParams overload_params = multi;
  overload_params.num_class = kOverloadClasses;
  overload_params.rounds = 30;
  overload_params.eta = 0.2;
  overload_params.max_depth = 6;
  ml::GbtParams sag_params = anomaly_params;
  sag_params.rounds = 40;
  sag_params.eta = 0.2;
  sag_params.max_depth = 6;
  std::vector<TrainedModel> out(kModelCount);
  for (const auto& info : kModels) {
    auto& m = out[static_cast<std::size_t>(info.id)];
    m.name = info.name;
    m.module = info.module;
  }
  const auto trees = [&](ModelId id, const ml::Matrix& rows_of, const ml::GbtParams& p) {
    auto& m = out[static_cast<std::size_t>(id)];
    m.model_json = fit(rows_of, p, "training " + m.name);
    m.gbt = ml::io::parse_xgboost_json(m.model_json, features::kFeatureCount);
    return &m.gbt;
  };
  const Models models{trees(ModelId::voltage_anomaly, rows.anomaly, anomaly_params),
                      trees(ModelId::harmonic_analysis, rows.harmonic, harmonic_params),
                      trees(ModelId::frequency_stability, rows.frequency, regression),
                      trees(ModelId::phase_imbalance, rows.imbalance, multi),
                      trees(ModelId::equipment_failure, rows.failure, failure_params),
                      trees(ModelId::overload_risk, rows.overload, overload_params),
                      trees(ModelId::voltage_sag, rows.sag, sag_params)};

  // 3. Thresholds from the validation runs.
  RunOutput valid;
  for (auto& r : process_runs(twin, valid_runs, &models, opt, "validating")) {
    valid.anomaly_eval.append(r.anomaly_eval);
    valid.harmonic_eval.append(r.harmonic_eval);
    valid.failure_eval.append(r.failure_eval);
    valid.sag_eval.append(r.sag_eval);
  }
  const double anomaly_threshold = tune_threshold(valid.anomaly_eval);
  const double harmonic_threshold = tune_threshold(valid.harmonic_eval);
  const double failure_threshold = tune_threshold(valid.failure_eval);
  const double sag_threshold = tune_threshold(valid.sag_eval);

  // 4. Scores on the test runs.
  RunOutput test;
  BinaryEval voltage_runs;  // the sag, swell and line-fault runs: model 1's targets
  BinaryEval ageing_runs;   // the transformer-degradation runs: model 5's
  double test_device_seconds = 0, voltage_seconds = 0;
  const auto tested = process_runs(twin, test_runs, &models, opt, "testing");
  for (std::size_t k = 0; k < tested.size(); ++k) {
    const auto& r = tested[k];
    const auto& id = test_runs[k].scenario;
    if (id == "voltage_sag" || id == "voltage_swell" || id == "line_fault") {
      voltage_runs.append(r.anomaly_eval);
      voltage_seconds += test_runs[k].duration_s;
    }
    test.anomaly_eval.append(r.anomaly_eval);
    test.harmonic_eval.append(r.harmonic_eval);
    test.frequency_eval.append(r.frequency_eval);
    test.imbalance_eval.append(r.imbalance_eval);
    test.failure_eval.append(r.failure_eval);
    test.overload_eval.append(r.overload_eval);
    test.sag_eval.append(r.sag_eval);
    test.pqi_eval.append(r.pqi_eval);
    test.decision_eval.append(r.decision_eval);
    test.network_eval.append(r.network_eval);
    if (id == "transformer_degradation") ageing_runs.append(r.failure_eval);
    test_device_seconds += r.device_seconds;
  }
  double test_seconds = 0;
  for (const auto& r : test_runs) test_seconds += r.duration_s;
  const double test_days = test_seconds / 86400;

  // The cards.
  std::vector<std::string> scenarios;
  for (const auto& r : plan) {
    if (std::find(scenarios.begin(), scenarios.end(), r.scenario) == scenarios.end()) {
      scenarios.push_back(r.scenario);
    }
  }
  const json data = {
      {"source", "remhart simulator, twin '" + twin.name + "'"},
      {"seed", opt.seed},
      {"scale", opt.scale},
      {"scenarios", scenarios},
      {"split", "by run, in rotation within each scenario (3 train : 1 validation : 1 test)"},
      {"runs",
       {{"train", train_runs.size()},
        {"validation", valid_runs.size()},
        {"test", test_runs.size()}}},
      {"run_duration_s", opt.run_s},
      {"step_s", 1},
      {"train_device_hours", train_device_seconds / 3600},
      {"test_device_hours", test_device_seconds / 3600}};
  const json feature_block = {{"count", features::kFeatureCount},
                              {"names", names},
                              {"documentation", "docs/analytics.md#features"}};
  const auto card = [&](ModelId id, const ml::Matrix& train, const ml::GbtParams& p) -> auto& {
    auto& m = out[static_cast<std::size_t>(id)];
    m.card = {{"name", m.name},
              {"module", m.module},
              {"algorithm",
               "gradient-boosted trees (XGBoost 1.7 C API, hist); served by the "
               "project's tree evaluator, checked equal to XGBoost's predictions"},
              {"hyper_parameters", params_json(p)},
              {"features", feature_block},
              {"data", data},
              {"train_rows", train.rows()}};
    return m;
  };

  {  // 1. Voltage anomaly.
    auto& m = card(ModelId::voltage_anomaly, rows.anomaly, anomaly_params);
    m.serving = {{"threshold", anomaly_threshold}};
    // Scores of the model and of the threshold rule on a set of runs lasting `days`.
    const auto scores = [&](const BinaryEval& e, double days) {
      const auto flags = flags_of(e, anomaly_threshold);
      const auto model = ml::score_binary(e.truth, flags);
      const auto base = ml::score_binary(e.truth, e.baseline);
      const auto ev = events_of(e, flags);
      const auto ev_base = events_of(e, e.baseline);
      auto metrics = binary_metrics(model);
      metrics["events"] = ev.events;
      metrics["events_detected"] = ev.detected;
      metrics["event_recall"] = ev.recall();
      metrics["false_events"] = ev.false_events;
      metrics["false_events_per_day"] = static_cast<double>(ev.false_events) / days;
      metrics["simulated_days"] = days;
      metrics["samples"] = e.truth.size();
      auto baseline = binary_metrics(base);
      baseline["event_recall"] = ev_base.recall();
      baseline["false_events_per_day"] = static_cast<double>(ev_base.false_events) / days;
      return std::pair{metrics, baseline};
    };
    const auto [events, events_base] = scores(voltage_runs, voltage_seconds / 86400);
    const auto [all, all_base] = scores(test.anomaly_eval, test_days);
    m.card["truth"] =
        "an event is in force in the network (any meter's label, transformer ageing aside) and "
        "the meter's bus's solved |V| is outside 0.9–1.1 p.u. (IEEE 1159) or moved 3 % or more "
        "from just before the event (IEC 61000-4-30 rapid voltage change); a false event is a "
        "run of flags while no event is in force";
    m.card["outputs"] = json::array(
        {{{"name", "anomaly_score"}, {"unit", "1"}, {"range", "0–1"}},
         {{"name", "is_anomaly"}, {"unit", "bool"}, {"range", "anomaly_score ≥ threshold"}},
         {{"name", "kind"}, {"unit", "IEEE 1159"}, {"range", "none, sag, swell, interruption"}},
         {{"name", "severity"}, {"unit", ""}, {"range", "none, minor, moderate, severe"}}});
    m.card["baseline"] = {{"name", "threshold rule"},
                          {"rule", "any measured phase outside 0.9–1.1 p.u."},
                          {"test", events_base},
                          {"test_all_runs", all_base}};
    m.card["metrics"] = {{"threshold", anomaly_threshold},
                         {"test", events},
                         {"test_all_runs", all},
                         {"test_runs",
                          "test: the sag, swell and line-fault runs; "
                          "test_all_runs: every test run, every scenario"}};
    const double f1 = events["f1"], base_f1 = events_base["f1"];
    const double recall = events["event_recall"], fpd = events["false_events_per_day"];
    m.card["targets"] =
        json::array({target("per-sample F1 (sag/swell/fault runs)", "≥ 0.90", f1, f1 >= 0.9),
                     target("per-sample F1 above the threshold baseline",
                            "> " + std::to_string(base_f1), f1, f1 > base_f1),
                     target("per-event recall", "≥ 0.95", recall, recall >= 0.95),
                     target("false events per simulated day (all meters)", "≤ 1", fpd, fpd <= 1)});
  }
  {  // 2. Harmonic analysis.
    auto& m = card(ModelId::harmonic_analysis, rows.harmonic, harmonic_params);
    const auto flags = flags_of(test.harmonic_eval, harmonic_threshold);
    const auto model = ml::score_multiclass(test.harmonic_eval.truth, flags, 2);
    const auto base =
        ml::score_multiclass(test.harmonic_eval.truth, test.harmonic_eval.baseline, 2);
    m.serving = {{"threshold", harmonic_threshold}};
    m.card["truth"] =
        "harmonic pollution (non-linear load above the normal share) acts on the meter";
    m.card["outputs"] =
        json::array({{{"name", "thd_v_pct"}, {"unit", "%"}, {"range", "0–100, measured"}},
                     {{"name", "thd_i_pct"}, {"unit", "%"}, {"range", "0–100, measured"}},
                     {{"name", "category"},
                      {"unit", ""},
                      {"range", "not_reported, within_limits, above_ieee519, above_en50160"}},
                     {{"name", "pollution_probability"}, {"unit", "1"}, {"range", "0–1"}}});
    m.card["baseline"] = {{"name", "majority class"}, {"test", multi_metrics(base)}};
    auto metrics = multi_metrics(model);
    metrics["threshold"] = harmonic_threshold;
    metrics["samples"] = test.harmonic_eval.truth.size();
    m.card["metrics"] = {{"test", metrics}};
    m.card["targets"] = json::array(
        {target("macro-F1 above the majority baseline", "≥ " + std::to_string(base.macro_f1 + 0.15),
                model.macro_f1, model.macro_f1 >= base.macro_f1 + 0.15)});
  }
  {  // 3. Frequency stability.
    auto& m = card(ModelId::frequency_stability, rows.frequency, regression);
    const auto& e = test.frequency_eval;
    const double mae = ml::mean_absolute_error(e.truth, e.predicted);
    const double mae_base = ml::mean_absolute_error(e.truth, e.persistence);
    RegressionEval during;
    for (std::size_t k = 0; k < e.truth.size(); ++k) {
      if (!e.in_event[k]) continue;
      during.truth.push_back(e.truth[k]);
      during.predicted.push_back(e.predicted[k]);
      during.persistence.push_back(e.persistence[k]);
    }
    const double mae_event = ml::mean_absolute_error(during.truth, during.predicted);
    const double mae_event_base = ml::mean_absolute_error(during.truth, during.persistence);
    m.serving = {{"horizon_s", kFrequencyHorizonS}};
    m.card["truth"] = "the measured frequency 60 s later, minus the frequency now";
    m.card["outputs"] =
        json::array({{{"name", "predicted_hz"}, {"unit", "Hz"}, {"range", "f ± a few tenths"}},
                     {{"name", "stability_score"}, {"unit", "1"}, {"range", "0–100"}},
                     {{"name", "trend"}, {"unit", ""}, {"range", "rising, falling, steady"}}});
    m.card["baseline"] = {
        {"name", "persistence (no change in 60 s)"},
        {"test", {{"mae_hz", mae_base}, {"mae_hz_during_excursions", mae_event_base}}}};
    m.card["metrics"] = {{"test",
                          {{"mae_hz", mae},
                           {"mae_hz_during_excursions", mae_event},
                           {"samples", e.truth.size()},
                           {"samples_during_excursions", during.truth.size()}}}};
    m.card["targets"] = json::array(
        {target("MAE below persistence", "< " + std::to_string(mae_base), mae, mae < mae_base),
         target("MAE during excursions below persistence", "< " + std::to_string(mae_event_base),
                mae_event, mae_event < mae_event_base)});
  }
  {  // 4. Phase imbalance.
    auto& m = card(ModelId::phase_imbalance, rows.imbalance, multi);
    const auto& e = test.imbalance_eval;
    const auto model = ml::score_multiclass(e.truth, e.predicted, kImbalanceClasses);
    const std::vector<int> majority(e.truth.size(), 0);
    const auto base = ml::score_multiclass(e.truth, majority, kImbalanceClasses);
    const auto rule = ml::score_multiclass(e.truth, e.baseline, kImbalanceClasses);
    m.serving = json::object();
    m.card["truth"] =
        "the voltage unbalance at the meter's bus (NEMA MG-1 on the simulator's true phase "
        "voltages, whatever its cause): none (< 1 %), minor (1–2 %), moderate (2–4 %, above "
        "EN 50160's 2 %), severe (> 4 %)";
    m.card["outputs"] = json::array(
        {{{"name", "vuf_pct"}, {"unit", "%"}, {"range", "0–100, measured"}},
         {{"name", "iu_nema_pct"}, {"unit", "%"}, {"range", "0–200, measured"}},
         {{"name", "severity"}, {"unit", ""}, {"range", "none, minor, moderate, severe"}},
         {{"name", "likely_cause"},
          {"unit", ""},
          {"range", "none, open_phase, load_on_phase_a/b/c, supply_side"}}});
    m.card["baseline"] = {{"name", "majority class"},
                          {"test", multi_metrics(base)},
                          {"threshold_rule",
                           {{"rule", "the measured unbalance (vu_nema_pct) graded as the truth"},
                            {"test", multi_metrics(rule)}}}};
    m.card["metrics"] = {{"test", multi_metrics(model)}};
    m.card["metrics"]["test"]["samples"] = e.truth.size();
    m.card["targets"] = json::array(
        {target("macro-F1 above the majority baseline", "≥ " + std::to_string(base.macro_f1 + 0.15),
                model.macro_f1, model.macro_f1 >= base.macro_f1 + 0.15),
         target("macro-F1 above the threshold rule", "> " + std::to_string(rule.macro_f1),
                model.macro_f1, model.macro_f1 > rule.macro_f1)});
  }
  {  // 5. Equipment failure.
    auto& m = card(ModelId::equipment_failure, rows.failure, failure_params);
    const auto& e = test.failure_eval;
    const auto flags = flags_of(e, failure_threshold);
    const auto model = ml::score_multiclass(e.truth, flags, 2);
    const auto base = ml::score_multiclass(e.truth, e.baseline, 2);
    const auto cal = ml::calibration(e.truth, e.score);
    const auto cal_ageing = ml::calibration(ageing_runs.truth, ageing_runs.score);
    // The base rate as a constant probability: calibrated by construction, and useless.
    double rate = 0;
    for (int t : e.truth) rate += t;
    rate /= std::max<double>(1, static_cast<double>(e.truth.size()));
    m.serving = {{"threshold", failure_threshold}, {"horizon_s", kFailureHorizonS}};
    m.card["truth"] =
        "the supply transformer fails (the simulator's IEEE C57.91 loss of life runs through the "
        "life left) within the next 15 minutes; steps whose horizon runs past the end of a "
        "degradation run are left out";
    m.card["outputs"] = json::array(
        {{{"name", "failure_probability"}, {"unit", "1"}, {"range", "0–1, within horizon_s"}},
         {{"name", "at_risk"}, {"unit", "bool"}, {"range", "failure_probability ≥ threshold"}},
         {{"name", "contributing_factors"},
          {"unit", "°C, 1, %, %/h"},
          {"range", "hot-spot temperature, ageing acceleration, loading, loading trend"}}});
    m.card["baseline"] = {{"name", "majority class (never fails)"},
                          {"test", multi_metrics(base)},
                          {"base_rate", rate}};
    auto metrics = multi_metrics(model);
    metrics["threshold"] = failure_threshold;
    metrics["samples"] = e.truth.size();
    metrics["positives"] = static_cast<std::size_t>(std::count(e.truth.begin(), e.truth.end(), 1));
    metrics["ece"] = cal.ece;
    metrics["ece_degradation_runs"] = cal_ageing.ece;
    metrics["roc_auc"] = ml::roc_auc(e.truth, e.score);
    json curve = json::array();
    for (const auto& b : cal_ageing.curve) {
      curve.push_back({{"predicted", b.predicted}, {"observed", b.observed}, {"count", b.count}});
    }
    metrics["reliability_curve_degradation_runs"] = curve;
    m.card["metrics"] = {{"test", metrics}};
    m.card["targets"] = json::array(
        {target("macro-F1 above the majority baseline", "≥ " + std::to_string(base.macro_f1 + 0.15),
                model.macro_f1, model.macro_f1 >= base.macro_f1 + 0.15),
         target("expected calibration error", "≤ 0.05", cal.ece, cal.ece <= 0.05),
         target("expected calibration error on the degradation runs", "≤ 0.05", cal_ageing.ece,
                cal_ageing.ece <= 0.05)});
  }
  {  // 6. Overload risk.
    auto& m = card(ModelId::overload_risk, rows.overload, overload_params);
    const auto& e = test.overload_eval;
    const auto model = ml::score_multiclass(e.truth, e.predicted, kOverloadClasses);
    const std::vector<int> majority(e.truth.size(), 0);
    const auto base = ml::score_multiclass(e.truth, majority, kOverloadClasses);
    const auto persistence = ml::score_multiclass(e.truth, e.baseline, kOverloadClasses);
    m.serving = {{"horizon_s", kOverloadHorizonS}};
    m.card["truth"] =
        "the meter's highest phase current against its rating over the next 5 minutes, now "
        "included: low (< 80 %), elevated (80–100 %), overload (> 100 %)";
    m.card["outputs"] =
        json::array({{{"name", "risk_class"}, {"unit", ""}, {"range", "low, elevated, overload"}},
                     {{"name", "loading_pct"}, {"unit", "%"}, {"range", "0–, measured now"}},
                     {{"name", "time_to_limit_s"},
                      {"unit", "s"},
                      {"range", "> 0 at the 15-minute current trend; null when not rising"}},
                     {{"name", "horizon_s"}, {"unit", "s"}, {"range", "300"}}});
    m.card["baseline"] = {{"name", "majority class"},
                          {"test", multi_metrics(base)},
                          {"persistence", multi_metrics(persistence)}};
    m.card["metrics"] = {{"test", multi_metrics(model)}};
    m.card["metrics"]["test"]["samples"] = e.truth.size();
    m.card["targets"] = json::array(
        {target("macro-F1 above the majority baseline", "≥ " + std::to_string(base.macro_f1 + 0.15),
                model.macro_f1, model.macro_f1 >= base.macro_f1 + 0.15),
         target("macro-F1 above persistence (the class of the loading now)",
                "> " + std::to_string(persistence.macro_f1), model.macro_f1,
                model.macro_f1 > persistence.macro_f1)});
  }
  // The computed models' cards: their definition and how they did on the test runs.
  const auto computed_card = [&](ModelId id, std::string algorithm, json parameters) -> auto& {
    auto& m = out[static_cast<std::size_t>(id)];
    m.serving = json::object();
    m.card = {{"name", m.name},
              {"module", m.module},
              {"algorithm", std::move(algorithm)},
              {"hyper_parameters", std::move(parameters)},
              {"features", feature_block},
              {"data", data}};
    return m;
  };
  {  // 7. Power quality index: computed, scored by how well it ranks event samples.
    auto& m =
        computed_card(ModelId::power_quality_index,
                      "computed: weighted mean of five EN 50160 components over the last 60 s "
                      "(docs/analytics.md); nothing learnt",
                      {{"weights",
                        {{"voltage_deviation", 0.35},
                         {"voltage_unbalance", 0.2},
                         {"voltage_thd", 0.2},
                         {"frequency_deviation", 0.15},
                         {"voltage_fluctuation", 0.1}}},
                       {"limits",
                        {{"voltage_deviation_pu", 0.1},
                         {"voltage_unbalance_pct", 2},
                         {"voltage_thd_pct", 8},
                         {"frequency_deviation_hz", 0.5},
                         {"voltage_fluctuation_pu", 0.03}}}});
    const auto r = rank_score(test.pqi_eval.truth, test.pqi_eval.score);
    const double auc = r.auc;
    m.card["truth"] =
        "scored, not trained: a power-quality event (sag, swell, fault, harmonics, imbalance, "
        "frequency excursion) acts on the meter";
    m.card["outputs"] = json::array(
        {{{"name", "pqi"}, {"unit", "1"}, {"range", "0–100"}},
         {{"name", "category"}, {"unit", ""}, {"range", "good (≥ 90), fair (≥ 70), poor"}},
         {{"name", "components"},
          {"unit", "each its own"},
          {"range", "measured, limit, score 0–100, weight"}}});
    m.card["baseline"] = {{"name", "chance (a score that does not rank)"}, {"roc_auc", 0.5}};
    m.card["metrics"] = {{"test",
                          {{"roc_auc_event_vs_normal", auc},
                           {"mean_pqi_during_events", r.mean_event},
                           {"mean_pqi_otherwise", r.mean_other},
                           {"samples", r.cases}}}};
    m.card["targets"] = json::array(
        {target("ranks event samples below the others (ROC AUC)", "≥ 0.75", auc, auc >= 0.75)});
  }
  {  // 8. Voltage sag.
    auto& m = card(ModelId::voltage_sag, rows.sag, sag_params);
    const auto& e = test.sag_eval;
    const auto flags = flags_of(e, sag_threshold);
    const auto model = ml::score_multiclass(e.truth, flags, 2);
    const std::vector<int> majority(e.truth.size(), 0);
    const auto base = ml::score_multiclass(e.truth, majority, 2);
    const auto persistence = ml::score_multiclass(e.truth, e.baseline, 2);
    m.serving = {{"threshold", sag_threshold}, {"horizon_s", kSagHorizonS}};
    m.card["truth"] =
        "the meter's bus's solved |V| is below 0.9 p.u. (IEEE 1159 sag or interruption) now or "
        "within the next minute";
    m.card["outputs"] = json::array(
        {{{"name", "sag_probability"}, {"unit", "1"}, {"range", "0–1, within horizon_s"}},
         {{"name", "sag_expected"}, {"unit", "bool"}, {"range", "sag_probability ≥ threshold"}},
         {{"name", "affected_phases"}, {"unit", ""}, {"range", "phases below 0.9 p.u. now"}},
         {{"name", "weakest_phase"}, {"unit", ""}, {"range", "a, b, c"}}});
    m.card["baseline"] = {{"name", "majority class"},
                          {"test", multi_metrics(base)},
                          {"persistence", multi_metrics(persistence)}};
    auto metrics = multi_metrics(model);
    metrics["threshold"] = sag_threshold;
    metrics["samples"] = e.truth.size();
    metrics["roc_auc"] = ml::roc_auc(e.truth, e.score);
    m.card["metrics"] = {{"test", metrics}};
    m.card["targets"] = json::array(
        {target("macro-F1 above the majority baseline", "≥ " + std::to_string(base.macro_f1 + 0.15),
                model.macro_f1, model.macro_f1 >= base.macro_f1 + 0.15),
         target("macro-F1 above persistence (a phase below 0.9 p.u. now)",
                "> " + std::to_string(persistence.macro_f1), model.macro_f1,
                model.macro_f1 > persistence.macro_f1)});
  }
  {  // 13. Reactive power compensation.
    auto& m = computed_card(
        ModelId::reactive_power,
        "computed: Q_c = P (tan φ − tan φ_target) from the last minute's mean P and Q, a bank "
        "of nameplate Q_c / V² in standard steps (the fewest reaching the target); checked "
        "with the grid engine",
        {{"target_power_factor", kTargetPowerFactor},
         {"steps_kvar", json::array({1, 2.5, 5, 10, 25, 50, 100, 200, 400})}});
    const auto& e = test.decision_eval;
    double worst = 0, sum = 0;
    std::size_t within = 0;
    for (double x : e.pf_error) {
      worst = std::max(worst, x);
      sum += x;
      within += x <= 0.01;
    }
    const double n = static_cast<double>(e.pf_error.size());
    const double share = n > 0 ? within / n : 0;
    m.card["truth"] =
        "the power factor the device's meter would see with the bank installed, from a power "
        "flow of the network as the simulator solved it (every 5 minutes of every test run "
        "without an event in force; the recommendation for the P, Q and V the meter sees there; "
        "the bank at the meter's bus, or at a branch meter's far end)";
    m.card["outputs"] = json::array(
        {{{"name", "status"},
          {"unit", ""},
          {"range", "compensate, ok, leading, exporting, no_load"}},
         {{"name", "kvar_needed"}, {"unit", "kvar"}, {"range", "≥ 0, at the measured voltage"}},
         {{"name", "capacitor_kvar"},
          {"unit", "kvar"},
          {"range", "nameplate at 1 p.u.: capacitor_steps × capacitor_step_kvar"}},
         {{"name", "power_factor_after"}, {"unit", "1"}, {"range", "the promise, 0–1"}}});
    m.card["baseline"] = {{"name", "none: a physics answer, checked against the power flow"}};
    m.card["metrics"] = {{"test",
                          {{"recommendations_checked", e.pf_error.size()},
                           {"power_flows_not_converged", e.not_converged},
                           {"share_within_1pct", share},
                           {"mean_relative_pf_error", n > 0 ? sum / n : 0},
                           {"max_relative_pf_error", worst}}}};
    m.card["targets"] = json::array(
        {target("the power flow achieves the promised power factor within 1 % (share of checks)",
                "1.0", share, e.pf_error.size() > 0 && within == e.pf_error.size())});
  }
  {  // 14. Load balancing.
    auto& m = computed_card(
        ModelId::load_balancing,
        "computed: per-phase power (the last minute's mean total split as the phases share it "
        "now), surplus above the mean moved to the phases below it (at most two moves)",
        {{"tolerance_pct", kBalanceTolerancePct}});
    const auto& e = test.decision_eval;
    const double hit = e.imbalanced ? static_cast<double>(e.imbalanced_planned) / e.imbalanced : 0;
    const double idle = e.balanced ? static_cast<double>(e.balanced_planned) / e.balanced : 0;
    m.card["truth"] =
        "not trained; plans proposed on the test runs, against the true voltage unbalance at the "
        "meter (moderate or severe: above 2 %; none: below 1 %)";
    m.card["outputs"] = json::array(
        {{{"name", "plan"}, {"unit", "kW"}, {"range", "moves {from, to, kw}, at most two"}},
         {{"name", "expected_unbalance_pct"},
          {"unit", "%"},
          {"range", "NEMA power unbalance after the plan"}},
         {{"name", "power_unbalance_pct"}, {"unit", "%"}, {"range", "NEMA, now"}}});
    m.card["baseline"] = {{"name", "none: a computed plan"}};
    m.card["metrics"] = {{"test",
                          {{"samples_unbalanced", e.imbalanced},
                           {"share_planned_unbalanced", hit},
                           {"samples_balanced", e.balanced},
                           {"share_planned_balanced", idle}}}};
    m.card["targets"] = json::array(
        {target("plans more often where the voltage unbalance is moderate or severe than where "
                "it is none",
                "> " + std::to_string(idle), hit, hit > idle)});
  }
  const auto& ne = test.network_eval;
  const auto stats = [](const std::vector<double>& x) {
    double worst = 0, sum = 0;
    for (double v : x) {
      worst = std::max(worst, v);
      sum += v;
    }
    return std::pair{x.empty() ? 0.0 : sum / static_cast<double>(x.size()), worst};
  };
  const auto within = [](const std::vector<double>& x, double tol) {
    return static_cast<std::size_t>(
        std::count_if(x.begin(), x.end(), [&](double v) { return v <= tol; }));
  };
  {  // 10. Energy loss.
    auto& m = computed_card(
        ModelId::energy_loss,
        "computed: series losses of every branch from the state estimate (the grid engine's "
        "branch flows), split into lines and transformers, with the estimate's deviation; "
        "checked by a power flow of the state's injections",
        json::object());
    const auto [mean, worst] = stats(ne.loss_error);
    const auto ok = within(ne.loss_error, 0.01);
    m.card["truth"] =
        "a power flow of the state's bus injections (the simulator's solved state at every minute "
        "of every test run)";
    m.card["outputs"] = json::array(
        {{{"name", "losses_kw"}, {"unit", "kW"}, {"range", "≥ 0"}},
         {{"name", "losses_pct"}, {"unit", "%"}, {"range", "of the power entering, 0–100"}},
         {{"name", "split_kw"}, {"unit", "kW"}, {"range", "lines, transformers, shunts"}},
         {{"name", "largest"}, {"unit", "kW"}, {"range", "the five largest branches"}}});
    m.card["baseline"] = {{"name", "none: a physics answer, checked against the power flow"}};
    m.card["metrics"] = {{"test",
                          {{"states", ne.loss_error.size()},
                           {"mean_relative_error", mean},
                           {"max_relative_error", worst}}}};
    m.card["targets"] = json::array(
        {target("reported losses equal the power flow's within 1 % (every state)", "all",
                static_cast<double>(ok), !ne.loss_error.empty() && ok == ne.loss_error.size())});
  }
  {  // 11. Power-flow optimisation.
    auto& m = computed_card(
        ModelId::power_flow,
        "optimisation: coordinate search over the substation tap (±5 % in 0.625 % steps), the "
        "capacitor banks (on/off) and the inverters' reactive power (±44 % of rating in nine "
        "steps), each candidate a warm power flow, keeping what lowers the losses with every "
        "voltage within 0.95–1.05 p.u.",
        {{"vmin_pu", 0.95}, {"vmax_pu", 1.05}, {"max_passes", 4}});
    const auto [mean_err, worst_err] = stats(ne.setpoint_error);
    const auto [mean_saving, best_saving] = stats(ne.saving_pct);
    const auto [mean_ms, worst_ms] = stats(ne.setpoint_ms);
    const auto ok = within(ne.setpoint_error, 0.01);
    m.card["truth"] =
        "the losses of a fresh power flow with the set-points applied (every minute of every "
        "test run without an event in force)";
    m.card["outputs"] =
        json::array({{{"name", "set_points"},
                      {"unit", "ratio, on/off, kvar"},
                      {"range", "taps, capacitors, inverters"}},
                     {{"name", "saving_kw"}, {"unit", "kW"}, {"range", "≥ 0"}},
                     {{"name", "saving_pct"}, {"unit", "%"}, {"range", "of the losses before"}}});
    m.card["baseline"] = {{"name", "the network as operated (no change)"}, {"saving_pct", 0}};
    m.card["metrics"] = {{"test",
                          {{"states", ne.setpoint_error.size()},
                           {"mean_saving_pct", mean_saving},
                           {"best_saving_pct", best_saving},
                           {"infeasible", ne.infeasible},
                           {"max_relative_loss_error", worst_err},
                           {"mean_relative_loss_error", mean_err},
                           {"mean_ms", mean_ms},
                           {"max_ms", worst_ms}}}};
    m.card["targets"] = json::array(
        {target("applied set-points achieve the promised losses within 1 % (every state)", "all",
                static_cast<double>(ok),
                !ne.setpoint_error.empty() && ok == ne.setpoint_error.size()),
         target("time per optimisation on the demo twin (max)", "≤ 50 ms", worst_ms,
                worst_ms <= 50)});
  }
  {  // 15. Grid stability score.
    auto& m = computed_card(
        ModelId::stability_score,
        "computed: weighted voltage margin, loading margin, N-1 security (every line and "
        "transformer outage solved by the grid engine) and frequency deviation",
        {{"weights",
          {{"voltage", 0.3}, {"loading", 0.25}, {"n_minus_1", 0.25}, {"frequency", 0.2}}}});
    const auto r = rank_score(ne.stability_event, ne.stability);
    const double auc = r.auc;
    m.card["truth"] =
        "scored, not trained: an event is in force in the network (the simulator's labels) at "
        "the state scored (every minute of every test run)";
    m.card["outputs"] = json::array(
        {{{"name", "score"}, {"unit", "1"}, {"range", "0–100"}},
         {{"name", "category"}, {"unit", ""}, {"range", "secure (≥ 80), alert (≥ 50), at_risk"}},
         {{"name", "risk_factors"},
          {"unit", "each its own"},
          {"range", "value, score 0–100, weight"}},
         {{"name", "n_minus_1"},
          {"unit", ""},
          {"range", "outages, islanding, violating, load at risk (MW)"}}});
    m.card["baseline"] = {{"name", "chance (a score that does not rank)"}, {"roc_auc", 0.5}};
    m.card["metrics"] = {{"test",
                          {{"states", ne.stability.size()},
                           {"roc_auc_event_vs_calm", detail::number(auc)},
                           {"mean_score_during_events", r.mean_event},
                           {"mean_score_otherwise", r.mean_other}}}};
    m.card["targets"] = json::array({target("ranks states with an event below calm ones (ROC AUC)",
                                            "≥ 0.75", auc, auc >= 0.75)});
  }
  train_energy_models(twin, opt, out);
  return out;
}

}  // namespace remhart::analytics
