#pragma once
// Simulation runs and their ground truth: one row per run (parameters, status, progress, counts)
// and label intervals per (run, device) — each the span of consecutive steps with the same
// label, so every sample's label is stored exactly at a fraction of the rows.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace remhart::store {

class Database;
namespace maria {
class Pool;
}

struct SimRun {
  std::string id;
  std::string scenario;
  std::string mode;         ///< realtime | accelerated | backfill
  std::string params_json;  ///< the scenario parameters as given
  std::int64_t seed = 0;
  std::int64_t start = 0;  ///< first sample's time, UTC µs
  double duration_s = 0;   ///< 0: until stopped (realtime)
  double step_s = 1;
  double speed = 1;
  std::string status;  ///< running | completed | stopped | failed
  double progress = 0;
  std::int64_t samples = 0, rejected = 0, steps = 0;
  std::int64_t created_at = 0, finished_at = 0;
  std::string created_by;
  std::int64_t created_by_id = 0;  ///< the creating account; 0: not an account (server, CLI)
  std::string error;
  bool pinned = false;
};

struct LabelInterval {
  std::string run, device;
  std::int64_t t0 = 0, t1 = 0;  ///< first and last step's time (inclusive), UTC µs
  std::string event, severity, data_fault;
};

/// The simulator's true state at one step: every bus's voltage (network order), to score state
/// estimates against.
struct TruthSnapshot {
  std::int64_t ts = 0;  ///< UTC µs
  std::vector<std::int64_t> bus;
  std::vector<double> vm_pu, va_deg;
};

/// Where runs and their ground truth are kept: the data directory's SQLite file, or — with
/// several replicas — the shared MariaDB database, where every replica lists every run. A run
/// goes on in the replica that started it; another replica asks it to stop (`request_stop`),
/// which it sees within a second; a replica that died leaves runs whose heartbeat (every
/// `update`) goes stale.
class SimRunRepository {
 public:
  virtual ~SimRunRepository() = default;
  virtual void create(const SimRun& run) = 0;
  /// Status, progress, counts, error and finish time; also the run's heartbeat.
  virtual void update(const SimRun& run) = 0;
  virtual std::vector<SimRun> list() = 0;
  virtual std::optional<SimRun> get(const std::string& id) = 0;
  /// Deletes the run and its labels; false when unknown.
  virtual bool remove(const std::string& id) = 0;
  /// Makes `id` the pinned run (the dashboard's); false when unknown.
  virtual bool pin(const std::string& id) = 0;
  virtual std::optional<SimRun> pinned() = 0;
  /// A running run's heartbeat (update) comes every second; one silent this long (µs) lost the
  /// process running it.
  static constexpr std::int64_t kLostAfterUs = 30'000'000;
  /// Runs still `running` with no heartbeat since `stale_before` (a process that ended without
  /// finishing them) become `stopped`; returns how many.
  virtual int mark_interrupted(std::int64_t now, std::int64_t stale_before) = 0;
  /// Asks whichever process runs `id` to stop it; false when unknown.
  virtual bool request_stop(const std::string& id) = 0;
  virtual bool stop_requested(const std::string& id) = 0;

  virtual void add_labels(const std::vector<LabelInterval>& labels) = 0;
  /// Intervals of `run` overlapping [from, to), by device ("" = all) and time.
  virtual std::vector<LabelInterval> labels(const std::string& run, const std::string& device,
                                            std::int64_t from, std::int64_t to,
                                            std::size_t limit) = 0;
  virtual void add_truth(const std::string& run, const std::vector<TruthSnapshot>& snapshots) = 0;
  /// A run's snapshots with from ≤ ts < to, oldest first.
  virtual std::vector<TruthSnapshot> truth(const std::string& run, std::int64_t from,
                                           std::int64_t to, std::size_t limit) = 0;
  /// A run's newest `limit` snapshots, oldest first.
  virtual std::vector<TruthSnapshot> newest_truth(const std::string& run, std::size_t limit) = 0;
};

/// In the SQLite file: its own connection and migrations.
class SqliteSimRunRepository final : public SimRunRepository {
 public:
  explicit SqliteSimRunRepository(const std::string& path);
  ~SqliteSimRunRepository() override;
  void create(const SimRun& run) override;
  void update(const SimRun& run) override;
  std::vector<SimRun> list() override;
  std::optional<SimRun> get(const std::string& id) override;
  bool remove(const std::string& id) override;
  bool pin(const std::string& id) override;
  std::optional<SimRun> pinned() override;
  int mark_interrupted(std::int64_t now, std::int64_t stale_before) override;
  bool request_stop(const std::string& id) override;
  bool stop_requested(const std::string& id) override;
  void add_labels(const std::vector<LabelInterval>& labels) override;
  std::vector<LabelInterval> labels(const std::string& run, const std::string& device,
                                    std::int64_t from, std::int64_t to, std::size_t limit) override;
  void add_truth(const std::string& run, const std::vector<TruthSnapshot>& snapshots) override;
  std::vector<TruthSnapshot> truth(const std::string& run, std::int64_t from, std::int64_t to,
                                   std::size_t limit) override;
  std::vector<TruthSnapshot> newest_truth(const std::string& run, std::size_t limit) override;

 private:
  std::mutex mu_;
  std::unique_ptr<Database> db_;
};

/// In the shared MariaDB/MySQL database (tables `sim_runs`, `sim_labels`, `sim_truth`).
class MariadbSimRunRepository final : public SimRunRepository {
 public:
  explicit MariadbSimRunRepository(const std::string& url);
  ~MariadbSimRunRepository() override;
  void create(const SimRun& run) override;
  void update(const SimRun& run) override;
  std::vector<SimRun> list() override;
  std::optional<SimRun> get(const std::string& id) override;
  bool remove(const std::string& id) override;
  bool pin(const std::string& id) override;
  std::optional<SimRun> pinned() override;
  int mark_interrupted(std::int64_t now, std::int64_t stale_before) override;
  bool request_stop(const std::string& id) override;
  bool stop_requested(const std::string& id) override;
  void add_labels(const std::vector<LabelInterval>& labels) override;
  std::vector<LabelInterval> labels(const std::string& run, const std::string& device,
                                    std::int64_t from, std::int64_t to, std::size_t limit) override;
  void add_truth(const std::string& run, const std::vector<TruthSnapshot>& snapshots) override;
  std::vector<TruthSnapshot> truth(const std::string& run, std::int64_t from, std::int64_t to,
                                   std::size_t limit) override;
  std::vector<TruthSnapshot> newest_truth(const std::string& run, std::size_t limit) override;

 private:
  std::unique_ptr<maria::Pool> pool_;
};

}  // namespace remhart::store
