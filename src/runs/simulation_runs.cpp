#include "runs/simulation_runs.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <random>
#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"
#include "obs/metrics.hpp"
#include "sim/engine.hpp"

namespace remhart::runs {

using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

struct SimulationRuns::Active {
  std::mutex mu;  // guards info
  store::SimRun info;
  std::atomic<bool> stop{false};
  std::atomic<bool> finished{false};  // the thread is done (joinable, reaped by start())
  std::thread thread;
  Clock::time_point last_publish{};
  double history_days = 0;  // realtime runs: simulated first, at 15-minute steps
};

namespace {

constexpr double kTruthEveryS = 60;  // simulated seconds between true-state snapshots

constexpr double kMaxDurationS = 366.0 * 86400;
constexpr std::int64_t kMaxSteps = 20'000'000;

std::string new_run_id() {
  std::random_device rd;
  std::uint64_t x = (std::uint64_t{rd()} << 32) ^ rd();
  return fmt::format("{:012x}", x & 0xffffffffffffULL);
}

// Run-length labels per device: consecutive steps with the same label make one interval.
class LabelRecorder {
 public:
  LabelRecorder(std::string run, const sim::Twin& twin) : run_(std::move(run)) {
    for (const auto& d : twin.devices) open_.push_back({d.device.id, {}, 0, 0, false});
  }
  void add(std::size_t device, core::TimeUs ts, const sim::Label& label) {
    auto& o = open_[device];
    if (o.active && o.label == label) {
      o.t1 = ts;
      return;
    }
    close(o);
    o = {o.device, label, ts, ts, true};
  }
  /// Closed intervals so far (and, at the end, the open ones), for storage.
  std::vector<store::LabelInterval> take(bool finish) {
    if (finish) {
      for (auto& o : open_) close(o);
    }
    return std::exchange(done_, {});
  }

 private:
  struct Open {
    std::string device;
    sim::Label label;
    core::TimeUs t0, t1;
    bool active;
  };
  void close(Open& o) {
    if (!o.active) return;
    done_.push_back({run_, o.device, o.t0, o.t1, o.label.event,
                     std::string(sim::severity_name(o.label.severity)),
                     std::string(sim::data_fault_name(o.label.data_fault))});
    o.active = false;
  }
  std::string run_;
  std::vector<Open> open_;
  std::vector<store::LabelInterval> done_;
};

}  // namespace

SimulationRuns::SimulationRuns(store::Store& store, ingest::IngestService& ingest,
                               store::SimRunRepository& repo, std::shared_ptr<const sim::Twin> twin,
                               Listener on_change, std::size_t max_running, StorageBudget budget,
                               obs::Counter* failures)
    : store_(store),
      ingest_(ingest),
      repo_(repo),
      twin_(std::move(twin)),
      on_change_(std::move(on_change)),
      max_running_(max_running),
      budget_(budget),
      waiter_(std::make_unique<core::Periodic>(
          "rh-run-stops", std::chrono::milliseconds(100), [this] { check_stop_waits(); },
          [failures](const std::string& what) {
            if (failures) failures->inc();
            spdlog::error("simulator: watching the runs asked to stop: {}", what);
          })) {}

SimulationRuns::~SimulationRuns() {
  stop_all();
}

store::SimRun SimulationRuns::start(const RunRequest& rq) {
  auto fail = [](const std::string& field, const std::string& message) {
    return Error(ErrorKind::unprocessable, field + ": " + message, field);
  };
  sim::Scenario scenario;
  try {
    scenario = sim::build_scenario(rq.scenario, rq.params, *twin_);
  } catch (const sim::ParamError& e) {
    throw fail(e.field(), e.what());
  }
  if (rq.mode != "realtime" && rq.mode != "accelerated" && rq.mode != "backfill") {
    throw fail("mode", "must be realtime, accelerated or backfill");
  }
  const bool realtime = rq.mode == "realtime";
  if (!(rq.history_days >= 0 && rq.history_days <= 31) || (!realtime && rq.history_days > 0)) {
    throw fail("history_days", "must be 0–31 days, for realtime runs");
  }
  const double step = rq.step_s.value_or(scenario.step_s.value_or(1.0));
  if (!(step >= 0.01 && step <= 3600)) throw fail("step_s", "must be between 0.01 and 3600");
  const double duration =
      rq.duration_s.value_or(scenario.duration_s.value_or(realtime ? 0.0 : 3600.0));
  if (!(duration >= 0 && duration <= kMaxDurationS) || (!realtime && duration == 0)) {
    throw fail("duration_s", realtime ? "must be between 0 (until stopped) and 366 days"
                                      : "must be more than 0 and at most 366 days");
  }
  if (duration > 0) scenario.duration_s = duration;  // custom patterns span the run
  if (duration / step > static_cast<double>(kMaxSteps)) {
    throw fail("step_s", fmt::format("gives more than {} steps for this duration", kMaxSteps));
  }
  // Refused up front when the run alone would exceed its storage budget; open-ended realtime
  // runs stop when they reach it.
  const std::int64_t estimate = duration > 0 ? estimate_bytes(duration, step) : 0;
  if (estimate > budget_.run_bytes) {
    throw fail("duration_s",
               fmt::format("would store about {} MB, over a run's storage budget of {} MB "
                           "(simulator.run_budget_mb): shorten the run or raise step_s",
                           estimate >> 20, budget_.run_bytes >> 20));
  }
  const double speed = rq.speed.value_or(rq.mode == "accelerated" ? 10.0 : 1.0);
  if (rq.speed && rq.mode != "accelerated") throw fail("speed", "applies to accelerated runs only");
  if (!(speed >= 1 && speed <= 100000)) throw fail("speed", "must be between 1 and 100000");
  const auto step_us = static_cast<core::TimeUs>(std::llround(step * core::kUsPerSecond));
  const auto duration_us = static_cast<core::TimeUs>(std::llround(duration * core::kUsPerSecond));
  const auto now = core::now_us();
  core::TimeUs start = 0;
  if (realtime) {
    if (rq.start) throw fail("start", "realtime runs start now; give start for backfill runs");
    start = now / step_us * step_us;
  } else {
    start = rq.start.value_or((now - duration_us) / step_us * step_us);
    if (start < 0) throw fail("start", "must not be before 1970");
    const auto skew = ingest_.options().limits.max_future_skew;
    if (start + duration_us > now + skew) {
      throw fail("start", "the run would reach past now; non-realtime runs simulate the past");
    }
  }
  std::uint64_t seed = 0;
  if (rq.seed) {
    seed = *rq.seed;
  } else {
    std::random_device rd;
    seed = (std::uint64_t{rd()} << 20) ^ rd();
  }
  if (seed > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw fail("seed", "must be below 2^63");
  }

  // The twin's meters must exist as devices.
  const auto devices = store_.devices();
  for (const auto& d : twin_->devices) {
    if (devices->count(d.device.id)) continue;
    try {
      store_.create_device(d.device);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::conflict) throw;  // created meanwhile
    }
  }

  auto a = std::make_shared<Active>();
  auto& info = a->info;
  info.id = new_run_id();
  info.scenario = scenario.id;
  info.mode = rq.mode;
  info.params_json = rq.params_json;
  info.seed = static_cast<std::int64_t>(seed);
  info.start = start;
  info.duration_s = duration;
  info.step_s = step;
  info.speed = speed;
  info.status = "running";
  info.created_at = now;
  info.created_by = rq.created_by;
  info.created_by_id = rq.created_by_id;
  a->history_days = rq.history_days;
  {
    std::lock_guard lock(mu_);
    std::size_t running = 0;
    for (auto it = active_.begin(); it != active_.end();) {
      if (it->second->finished) {  // reap runs that ended on their own
        it->second->thread.join();
        it = active_.erase(it);
      } else {
        running += !it->second->stop;
        ++it;
      }
    }
    if (running >= max_running_) {
      throw Error(ErrorKind::conflict,
                  fmt::format("{} runs are going already; stop one first", running));
    }
    check_total_budget(estimate);
    repo_.create(info);
    // The thread exists before the run is visible to stop, remove, stop_all and the reaper.
    a->thread = std::thread(
        [this, a, scenario = std::move(scenario)]() mutable { run(a, std::move(scenario)); });
    active_[info.id] = a;
  }
  const auto snapshot = info;
  if (on_change_) on_change_(snapshot);
  return snapshot;
}

std::int64_t SimulationRuns::estimate_bytes(double duration_s, double step_s) const {
  const double steps = std::ceil(duration_s / step_s - 1e-9);
  return static_cast<std::int64_t>(steps * static_cast<double>(twin_->devices.size()) *
                                   kBytesPerSample);
}

void SimulationRuns::check_total_budget(std::int64_t estimate) {
  std::int64_t used = 0;
  for (const auto& r : repo_.list()) {
    std::int64_t bytes = r.samples * kBytesPerSample;
    if (const auto it = active_.find(r.id); it != active_.end()) {
      std::lock_guard al(it->second->mu);
      const auto& info = it->second->info;
      bytes = info.samples * kBytesPerSample;
      // A going run counts with what it will still add.
      if (info.duration_s > 0)
        bytes = std::max(bytes, estimate_bytes(info.duration_s, info.step_s));
    }
    used += bytes;
  }
  if (used + estimate > budget_.total_bytes) {
    throw Error(
        ErrorKind::conflict,
        fmt::format("the simulation runs' storage budget of {} MB (simulator.total_budget_mb) "
                    "is used up: about {} MB stored or coming; delete runs first",
                    budget_.total_bytes >> 20, used >> 20));
  }
}

void SimulationRuns::publish(Active& a, bool persist) {
  store::SimRun copy;
  {
    std::lock_guard lock(a.mu);
    copy = a.info;
  }
  if (persist) repo_.update(copy);
  if (on_change_) on_change_(copy);
}

void SimulationRuns::run(std::shared_ptr<Active> a, sim::Scenario scenario) {
  store::SimRun cfg;
  {
    std::lock_guard lock(a->mu);
    cfg = a->info;
  }
  const std::string origin = "sim:" + cfg.id;
  const bool backfill = cfg.mode == "backfill";
  const std::int64_t total =
      cfg.duration_s > 0 ? static_cast<std::int64_t>(std::ceil(cfg.duration_s / cfg.step_s - 1e-9))
                         : 0;  // 0: until stopped
  const std::size_t batch_limit = backfill ? 6000 : 2000;
  const auto wall_start = Clock::now();
  std::string status = "completed", error;
  std::int64_t samples = 0, rejected = 0, steps = 0;
  std::vector<core::Sample> batch;

  // Submits a batch and waits until it is durable; retries while the store pushes back.
  auto submit = [&](std::vector<core::Sample>& b) {
    while (!b.empty()) {
      std::promise<ingest::IngestOutcome> done;
      auto fut = done.get_future();
      ingest_.ingest(ingest::ParsedBatch::of(b), origin, false,
                     [&done](ingest::IngestOutcome o) { done.set_value(std::move(o)); });
      const auto outcome = fut.get();
      if (outcome.status == ingest::IngestStatus::unavailable) {
        if (a->stop) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      if (outcome.status != ingest::IngestStatus::ok) {
        throw std::runtime_error("storing samples failed: " + outcome.error);
      }
      samples += static_cast<std::int64_t>(outcome.reply.accepted + outcome.reply.duplicates);
      rejected += static_cast<std::int64_t>(outcome.reply.rejected.size());
      b.clear();
    }
  };
  try {
    LabelRecorder labels(cfg.id, *twin_);
    // A step's labels, and its samples for the next batch.
    const auto record = [&](const sim::StepResult& r) {
      for (std::size_t d = 0; d < r.readings.size(); ++d) {
        const auto& rd = r.readings[d];
        labels.add(d, r.ts, rd.label);
        if (rd.present) batch.push_back({twin_->devices[d].device.id, r.ts, rd.values});
      }
    };
    if (a->history_days > 0) {  // the days before now, at 15-minute steps, as fast as it goes
      constexpr double kHistoryStepS = 900;
      const auto step_us = static_cast<core::TimeUs>(kHistoryStepS * core::kUsPerSecond);
      const auto steps_back = static_cast<core::TimeUs>(std::ceil(a->history_days * 96));
      const core::TimeUs from = (cfg.start / step_us - steps_back) * step_us;
      sim::Simulator past(*twin_, scenario,
                          {from, kHistoryStepS, static_cast<std::uint64_t>(cfg.seed) + 1});
      for (core::TimeUs k = 0; k < steps_back && !a->stop; ++k) {
        const auto& r = past.step();
        if (r.ts >= cfg.start) break;
        record(r);
        if (batch.size() >= batch_limit) submit(batch);
      }
      submit(batch);
      repo_.add_labels(labels.take(true));
    }
    sim::Simulator engine(*twin_, std::move(scenario),
                          {cfg.start, cfg.step_s, static_cast<std::uint64_t>(cfg.seed)});
    // The true bus voltages, one snapshot a minute of simulated time, to score estimates by.
    const auto truth_every =
        std::max<std::int64_t>(1, std::llround(kTruthEveryS / std::max(cfg.step_s, 1e-9)));
    std::vector<std::int64_t> bus_ids;
    for (const auto& b : twin_->network.buses) bus_ids.push_back(b.id);
    std::vector<store::TruthSnapshot> truth;
    auto flush = [&](bool finish) {
      submit(batch);
      repo_.add_labels(labels.take(finish));
      repo_.add_truth(cfg.id, truth);
      truth.clear();
      std::lock_guard lock(a->mu);
      a->info.samples = samples;
      a->info.rejected = rejected;
      a->info.steps = steps;
      a->info.progress = total > 0 ? static_cast<double>(steps) / static_cast<double>(total) : 0;
    };
    for (std::int64_t s = 0; total == 0 || s < total; ++s) {
      if (a->stop) {
        status = "stopped";
        break;
      }
      if (!backfill) {  // pace by the clock (×speed)
        const auto due =
            wall_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                             static_cast<double>(s) * cfg.step_s / cfg.speed));
        if (due > Clock::now() && !batch.empty()) flush(false);
        while (!a->stop && Clock::now() < due) {
          std::this_thread::sleep_until(
              std::min(due, Clock::now() + std::chrono::milliseconds(200)));
        }
        if (a->stop) {
          status = "stopped";
          break;
        }
      }
      const auto& r = engine.step();
      if (steps % truth_every == 0) {
        truth.push_back({r.ts, bus_ids, engine.solution().vm, engine.solution().va_deg});
      }
      record(r);
      ++steps;
      if ((samples + static_cast<std::int64_t>(batch.size())) * kBytesPerSample >
          budget_.run_bytes) {
        status = "stopped";
        error = fmt::format("the run reached its storage budget of {} MB (simulator.run_budget_mb)",
                            budget_.run_bytes >> 20);
        break;
      }
      if (batch.size() >= batch_limit) flush(false);
      if (Clock::now() - a->last_publish > std::chrono::seconds(1)) {
        flush(false);
        a->last_publish = Clock::now();
        publish(*a, true);                                 // also the run's heartbeat
        if (repo_.stop_requested(cfg.id)) a->stop = true;  // another replica was asked to stop it
      }
    }
    flush(true);
  } catch (const std::exception& e) {
    status = "failed";
    error = e.what();
  }
  {
    std::lock_guard lock(a->mu);
    a->info.status = status;
    a->info.error = error;
    a->info.samples = samples;
    a->info.rejected = rejected;
    a->info.steps = steps;
    if (status == "completed") a->info.progress = 1;
    a->info.finished_at = core::now_us();
  }
  try {
    publish(*a, true);
  } catch (const std::exception& e) {  // the run's last state stays in memory until restart
    spdlog::error("simulation run {}: its final state could not be stored: {}", cfg.id, e.what());
  }
  a->finished = true;
}

void SimulationRuns::overlay(store::SimRun& r) {
  // A going run's counters are newer in memory; the pinned flag lives in the database only.
  if (const auto it = active_.find(r.id); it != active_.end()) {
    std::lock_guard al(it->second->mu);
    const bool pinned = r.pinned;
    r = it->second->info;
    r.pinned = pinned;
  }
}

bool SimulationRuns::running_elsewhere(const store::SimRun& r) {
  std::lock_guard lock(mu_);
  return r.status == "running" && !active_.count(r.id);
}

void SimulationRuns::mark_lost_runs() {
  const auto now = core::now_us();
  if (const int n = repo_.mark_interrupted(now, now - store::SimRunRepository::kLostAfterUs)) {
    spdlog::info("{} simulation run(s) of a replica that went away: marked stopped", n);
  }
}

std::vector<store::SimRun> SimulationRuns::list() {
  auto runs = repo_.list();
  // Runs another replica is running (a shared database): those whose replica went away are
  // marked stopped before they are shown.
  if (std::any_of(runs.begin(), runs.end(), [&](const auto& r) { return running_elsewhere(r); })) {
    mark_lost_runs();
    runs = repo_.list();
  }
  std::lock_guard lock(mu_);
  for (auto& r : runs) overlay(r);
  return runs;
}

std::optional<store::SimRun> SimulationRuns::get(const std::string& id) {
  auto r = repo_.get(id);
  if (!r) return r;
  std::lock_guard lock(mu_);
  overlay(*r);
  return r;
}

std::optional<store::SimRun> SimulationRuns::stop(const std::string& id) {
  std::promise<std::optional<store::SimRun>> stopped;
  stop_async(id, [&stopped](std::optional<store::SimRun> run, std::exception_ptr error) {
    if (error) {
      stopped.set_exception(error);
    } else {
      stopped.set_value(std::move(run));
    }
  });
  return stopped.get_future().get();
}

void SimulationRuns::stop_async(const std::string& id, StopDone done) {
  std::shared_ptr<Active> a;
  {
    std::lock_guard lock(mu_);
    if (const auto it = active_.find(id); it != active_.end()) {
      a = it->second;
      active_.erase(it);
    }
  }
  if (a) {
    a->stop = true;
    if (a->thread.joinable()) a->thread.join();
    done(get(id), nullptr);
    return;
  }
  auto r = repo_.get(id);
  if (!r || r->status != "running") {
    done(std::move(r), nullptr);
    return;
  }
  // Another replica's run (several replicas on one database): it stops it within a second of
  // being asked; a run nobody has reported on for 30 s lost its replica and is marked stopped.
  // The waiter thread watches it, not the caller's (a caller refused here has asked all the same:
  // its retry finds the run stopped).
  repo_.request_stop(id);
  std::lock_guard lock(waits_mu_);
  if (closed_) throw Error(ErrorKind::unavailable, "the server is shutting down", "", 5);
  if (waits_.size() >= kMaxStopWaits) {
    throw Error(ErrorKind::unavailable,
                "too many simulation runs are being stopped on other replicas; retry shortly", "",
                2);
  }
  waits_.push_back({id, Clock::now() + std::chrono::seconds(10), std::move(done)});
}

void SimulationRuns::check_stop_waits() {
  std::vector<StopWait> waits;
  {
    std::lock_guard lock(waits_mu_);
    waits.swap(waits_);
  }
  if (waits.empty()) return;
  std::vector<StopWait> pending;
  bool lost_marked = false;
  for (auto& w : waits) {
    std::optional<store::SimRun> r;
    std::exception_ptr error;
    const bool late = Clock::now() >= w.until;
    try {
      r = get(w.id);
      if (r && r->status == "running" && late) {
        if (!lost_marked) mark_lost_runs();  // its replica may be gone
        lost_marked = true;
        r = get(w.id);
        if (r && r->status == "running") {
          throw Error(ErrorKind::unavailable,
                      "the replica running this simulation has not stopped it yet", "", 5);
        }
      }
    } catch (...) {
      if (!late) {  // a database that failed once: asked again next round
        pending.push_back(std::move(w));
        continue;
      }
      error = std::current_exception();
    }
    if (!error && r && r->status == "running") {
      pending.push_back(std::move(w));
      continue;
    }
    try {
      w.done(error ? std::nullopt : std::move(r), error);
    } catch (const std::exception& e) {
      spdlog::error("simulator: answering a stop of run {}: {}", w.id, e.what());
    }
  }
  {
    std::lock_guard lock(waits_mu_);
    if (!closed_) {
      for (auto& w : pending) waits_.push_back(std::move(w));
      return;
    }
  }
  fail_waits(pending);  // shutdown began during this round
}

void SimulationRuns::fail_waits(std::vector<StopWait>& waits) {
  for (auto& w : waits) {
    try {
      w.done(std::nullopt, std::make_exception_ptr(Error(ErrorKind::unavailable,
                                                         "the server is shutting down", "", 5)));
    } catch (const std::exception& e) {
      spdlog::error("simulator: answering a stop of run {}: {}", w.id, e.what());
    }
  }
}

bool SimulationRuns::remove(const std::string& id) {
  if (!stop(id)) return false;
  store_.delete_origin("sim:" + id);
  return repo_.remove(id);
}

std::optional<store::SimRun> SimulationRuns::pin(const std::string& id) {
  if (!repo_.pin(id)) return std::nullopt;
  auto r = get(id);
  if (r && on_change_) on_change_(*r);
  return r;
}

std::optional<store::SimRun> SimulationRuns::pinned() {
  const auto p = repo_.pinned();
  return p ? get(p->id) : p;
}

std::size_t SimulationRuns::running() {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [id, a] : active_) n += !a->finished && !a->stop;
  return n;
}

void SimulationRuns::stop_all() {
  std::map<std::string, std::shared_ptr<Active>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(active_);
  }
  for (auto& [id, a] : all) a->stop = true;
  for (auto& [id, a] : all) {
    if (a->thread.joinable()) a->thread.join();
  }
  std::vector<StopWait> waits;
  {
    std::lock_guard lock(waits_mu_);
    closed_ = true;
    waits.swap(waits_);
  }
  fail_waits(waits);
}

}  // namespace remhart::runs
