#pragma once
// Simulation runs: each run drives the physics simulator on its own thread and feeds its samples
// through the normal ingestion pipeline with origin `sim:<run>`, storing the ground-truth
// labels beside them. Modes: realtime (paced by the clock, optionally until stopped),
// accelerated (×speed) and backfill (as fast as possible over a past interval).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/periodic.hpp"
#include "ingest/ingest_service.hpp"
#include "sim/scenario.hpp"
#include "sim/twin.hpp"
#include "store/sim_repo.hpp"

namespace remhart::obs {
class Counter;
}

namespace remhart::runs {

struct RunRequest {
  std::string scenario;
  std::string mode = "realtime";
  std::optional<core::TimeUs> start;
  std::optional<double> duration_s, step_s, speed;
  std::optional<std::uint64_t> seed;
  sim::ScenarioParams params;
  std::string params_json = "{}";  ///< as given, kept with the run
  std::string created_by;
  std::int64_t created_by_id = 0;  ///< the creating account, 0 when none
  /// Realtime runs: first simulate this many days before now at 15-minute steps (the history a
  /// day-ahead forecast reads), then go on in real time. 0–31.
  double history_days = 0;
};

/// Storage the simulation runs may take, in bytes (estimated per stored sample).
struct StorageBudget {
  std::int64_t run_bytes = std::int64_t{2} << 30;
  std::int64_t total_bytes = std::int64_t{8} << 30;
};

class SimulationRuns {
 public:
  /// Bytes one stored sample takes in the database file, used to hold runs to their storage
  /// budgets. Measured on the demo twin (one day at 1 s, 1.12 M samples): 58 B compacted, 75 B
  /// with the log's freed pages (docs/storage.md).
  static constexpr std::int64_t kBytesPerSample = 64;

  /// `on_change` is called (from run threads and callers) with a run's state whenever its status
  /// changes and about once a second while it progresses.
  using Listener = std::function<void(const store::SimRun&)>;
  /// `failures` counts the failed rounds of the thread that watches the runs asked to stop.
  SimulationRuns(store::Store& store, ingest::IngestService& ingest, store::SimRunRepository& repo,
                 std::shared_ptr<const sim::Twin> twin, Listener on_change,
                 std::size_t max_running = 4, StorageBudget budget = {},
                 obs::Counter* failures = nullptr);
  ~SimulationRuns();

  /// Checks the request and starts the run; throws core::Error (unprocessable naming the
  /// field, also when the run alone would exceed its storage budget; conflict when too many
  /// runs are going or the runs' total storage budget is used up).
  store::SimRun start(const RunRequest& request);
  std::vector<store::SimRun> list();
  std::optional<store::SimRun> get(const std::string& id);
  /// Stops a running run (waits for its last batch); the run's state, or nullopt when unknown.
  /// A run another replica is running (shared database) is asked to stop there, and waited for
  /// up to 10 s; throws core::Error(unavailable) when it is still running then.
  std::optional<store::SimRun> stop(const std::string& id);
  /// Called with the run's state (nullopt when unknown) or with the error stop() would throw.
  using StopDone = std::function<void(std::optional<store::SimRun>, std::exception_ptr)>;
  /// stop() without holding the calling thread while another replica stops its run: `done` is
  /// called at once for a run of this process or one not running, else from the thread that
  /// watches the runs asked to stop (checked every 100 ms, given up after 10 s). At most
  /// kMaxStopWaits such waits at a time: beyond, and during shutdown, throws
  /// core::Error(unavailable).
  void stop_async(const std::string& id, StopDone done);
  static constexpr std::size_t kMaxStopWaits = 64;
  /// Stops the run if running, then removes it with its samples and labels; false if unknown.
  bool remove(const std::string& id);
  std::optional<store::SimRun> pin(const std::string& id);
  std::optional<store::SimRun> pinned();
  /// Label intervals of a run (see store::SimRunRepository::labels).
  std::vector<store::LabelInterval> labels(const std::string& id, const std::string& device,
                                           core::TimeUs from, core::TimeUs to, std::size_t limit) {
    return repo_.labels(id, device, from, to, limit);
  }
  /// True bus voltages of a run, one snapshot a simulated minute (see store::TruthSnapshot).
  std::vector<store::TruthSnapshot> truth(const std::string& id, core::TimeUs from, core::TimeUs to,
                                          std::size_t limit) {
    return repo_.truth(id, from, to, limit);
  }
  std::vector<store::TruthSnapshot> newest_truth(const std::string& id, std::size_t limit) {
    return repo_.newest_truth(id, limit);
  }
  /// Runs going now.
  std::size_t running();
  /// Stops every run, and answers the waits for other replicas' runs with unavailable
  /// (shutdown).
  void stop_all();

  const sim::Twin& twin() const { return *twin_; }

 private:
  struct Active;
  void run(std::shared_ptr<Active> a, sim::Scenario scenario);
  void publish(Active& a, bool persist);
  /// A run the database has as running that no thread of this process runs (another replica's).
  bool running_elsewhere(const store::SimRun& r);
  /// Marks stopped the runs whose replica has not reported for 30 s (it went away).
  void mark_lost_runs();
  void overlay(store::SimRun& run);  ///< with mu_ held
  std::int64_t estimate_bytes(double duration_s, double step_s) const;
  void check_total_budget(std::int64_t estimate);  ///< with mu_ held
  /// The waiter's round: answers the stop waits whose run stopped or whose time is up.
  void check_stop_waits();
  struct StopWait {
    std::string id;
    std::chrono::steady_clock::time_point until;
    StopDone done;
  };
  /// Answers `waits` with unavailable (shutdown).
  void fail_waits(std::vector<StopWait>& waits);

  store::Store& store_;
  ingest::IngestService& ingest_;
  store::SimRunRepository& repo_;
  std::shared_ptr<const sim::Twin> twin_;
  Listener on_change_;
  std::size_t max_running_;
  StorageBudget budget_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Active>> active_;
  std::mutex waits_mu_;
  std::vector<StopWait> waits_;             // under waits_mu_
  bool closed_ = false;                     // under waits_mu_: shutting down
  std::unique_ptr<core::Periodic> waiter_;  // last: stopped first
};

}  // namespace remhart::runs
