#include "analytics/training.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "analytics/dataset.hpp"
#include "analytics/monitoring.hpp"
#include "ml/io/xgboost_json.hpp"
#include "ml/metrics.hpp"
#include "ml/xgboost_train.hpp"

namespace remhart::analytics {

namespace {

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
  std::vector<int> truth, predicted;
  void append(const ClassEval& o) {
    truth.insert(truth.end(), o.truth.begin(), o.truth.end());
    predicted.insert(predicted.end(), o.predicted.begin(), o.predicted.end());
  }
};

struct Models {
  const ml::GbtModel *anomaly, *harmonic, *frequency, *imbalance;
};

struct RunOutput {
  ml::Matrix anomaly, harmonic, frequency, imbalance;
  BinaryEval anomaly_eval, harmonic_eval;
  RegressionEval frequency_eval;
  ClassEval imbalance_eval;
  double device_seconds = 0;
};

void append(ml::Matrix& to, const ml::Matrix& from) {
  to.cols = from.cols;
  to.x.insert(to.x.end(), from.x.begin(), from.x.end());
  to.y.insert(to.y.end(), from.y.begin(), from.y.end());
}

RunOutput process_run(const sim::Twin& twin, const RunSpec& spec, const Models* models) {
  const RunData run = simulate_run(twin, spec);
  RunOutput out;
  for (auto* m : {&out.anomaly, &out.harmonic, &out.frequency, &out.imbalance}) {
    m->cols = features::kFeatureCount;
  }
  const std::size_t n = run.ts.size();
  const auto active = events_in_force(run);
  for (std::size_t d = 0; d < run.devices.size(); ++d) {
    const auto& steps = run.steps[d];
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
            if (!std::isnan(change)) {
              features::FeatureVector only;  // the frequency features; the rest missing
              only.fill(core::kAbsent);
              for (auto i : frequency_features()) only[i] = f[i];
              out.frequency.add(only, change);
            }
            if (k % 10 == 0 || (imbalance > 0 && k % 2 == 0)) out.imbalance.add(f, imbalance);
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
          out.imbalance_eval.predicted.push_back(
              static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin()));
        },
        /*with_network=*/false);  // the server's monitoring models run without it
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

json multi_metrics(const ml::MultiScore& s) {
  json per = json::array();
  for (double f : s.f1) per.push_back(std::isnan(f) ? json(nullptr) : json(f));
  return {{"macro_f1", s.macro_f1}, {"accuracy", s.accuracy}, {"f1_per_class", per}};
}

json target(std::string name, std::string goal, double value, bool met) {
  return {{"name", std::move(name)}, {"target", std::move(goal)}, {"value", value}, {"met", met}};
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
  const auto test_runs = of_split(plan, Split::test);

  // 1. Train rows from the train runs.
  RunOutput rows;
  for (auto* m : {&rows.anomaly, &rows.harmonic, &rows.frequency, &rows.imbalance}) {
    m->cols = features::kFeatureCount;
  }
  double train_device_seconds = 0;
  for (auto& r : process_runs(twin, train_runs, nullptr, opt, "simulating train runs")) {
    append(rows.anomaly, r.anomaly);
    append(rows.harmonic, r.harmonic);
    append(rows.frequency, r.frequency);
    append(rows.imbalance, r.imbalance);
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
  // Few, deeper-stepping rounds: every tree costs serving time on every sample (the four
  // models together stay within a few microseconds; docs/analytics.md).
  ml::GbtParams anomaly_params;
  anomaly_params.objective = "binary:logistic";
  anomaly_params.rounds = 60;
  anomaly_params.eta = 0.2;
  ml::GbtParams harmonic_params = anomaly_params;
  harmonic_params.rounds = 40;
  ml::GbtParams regression;
  regression.objective = "reg:squarederror";
  regression.rounds = 60;
  regression.eta = 0.15;
  ml::GbtParams multi;
  multi.objective = "multi:softprob";
  multi.num_class = kImbalanceClasses;
  multi.rounds = 30;  // four trees a round
  multi.eta = 0.2;
  std::vector<TrainedModel> out(4);
  out[0].name = "voltage-anomaly";
  out[0].model_json = fit(rows.anomaly, anomaly_params, "training voltage-anomaly");
  out[1].name = "harmonic-analysis";
  out[1].model_json = fit(rows.harmonic, harmonic_params, "training harmonic-analysis");
  out[2].name = "frequency-stability";
  out[2].model_json = fit(rows.frequency, regression, "training frequency-stability");
  out[3].name = "phase-imbalance";
  out[3].model_json = fit(rows.imbalance, multi, "training phase-imbalance");
  for (auto& m : out) {
    m.module = "monitoring";
    m.gbt = ml::io::parse_xgboost_json(m.model_json, features::kFeatureCount);
  }
  const Models models{&out[0].gbt, &out[1].gbt, &out[2].gbt, &out[3].gbt};

  // 3. Thresholds from the validation runs.
  RunOutput valid;
  for (auto& r : process_runs(twin, valid_runs, &models, opt, "validating")) {
    valid.anomaly_eval.append(r.anomaly_eval);
    valid.harmonic_eval.append(r.harmonic_eval);
  }
  const double anomaly_threshold = tune_threshold(valid.anomaly_eval);
  const double harmonic_threshold = tune_threshold(valid.harmonic_eval);

  // 4. Scores on the test runs.
  RunOutput test;
  BinaryEval voltage_runs;  // the sag, swell and line-fault runs: model 1's targets
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
  const auto card = [&](TrainedModel& m, const ml::Matrix& train, const ml::GbtParams& p) {
    m.card = {{"name", m.name},
              {"module", m.module},
              {"algorithm",
               "gradient-boosted trees (XGBoost 1.7 C API, hist); served by the "
               "project's tree evaluator, checked equal to XGBoost's predictions"},
              {"hyper_parameters", params_json(p)},
              {"features", feature_block},
              {"data", data},
              {"train_rows", train.rows()}};
  };

  {  // 1. Voltage anomaly.
    auto& m = out[0];
    card(m, rows.anomaly, anomaly_params);
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
    auto& m = out[1];
    card(m, rows.harmonic, harmonic_params);
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
    auto& m = out[2];
    card(m, rows.frequency, regression);
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
    auto& m = out[3];
    card(m, rows.imbalance, multi);
    const auto& e = test.imbalance_eval;
    const auto model = ml::score_multiclass(e.truth, e.predicted, kImbalanceClasses);
    const std::vector<int> majority(e.truth.size(), 0);
    const auto base = ml::score_multiclass(e.truth, majority, kImbalanceClasses);
    m.serving = json::object();
    m.card["truth"] =
        "the simulator's grading of an imbalance event at the meter from its true phase "
        "voltages: none, minor, moderate (> 2 %), severe (> 4 %)";
    m.card["outputs"] = json::array(
        {{{"name", "vuf_pct"}, {"unit", "%"}, {"range", "0–100, measured"}},
         {{"name", "iu_nema_pct"}, {"unit", "%"}, {"range", "0–200, measured"}},
         {{"name", "severity"}, {"unit", ""}, {"range", "none, minor, moderate, severe"}},
         {{"name", "likely_cause"},
          {"unit", ""},
          {"range", "none, open_phase, load_on_phase_a/b/c, supply_side"}}});
    m.card["baseline"] = {{"name", "majority class"}, {"test", multi_metrics(base)}};
    m.card["metrics"] = {{"test", multi_metrics(model)}};
    m.card["metrics"]["test"]["samples"] = e.truth.size();
    m.card["targets"] = json::array(
        {target("macro-F1 above the majority baseline", "≥ " + std::to_string(base.macro_f1 + 0.15),
                model.macro_f1, model.macro_f1 >= base.macro_f1 + 0.15)});
  }
  return out;
}

}  // namespace remhart::analytics
