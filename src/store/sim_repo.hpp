#pragma once
// Simulation runs and their ground truth: one row per run (parameters, status, progress, counts)
// and label intervals per (run, device) — each the span of consecutive steps with the same
// label, so every sample's label is stored exactly at a fraction of the rows. Own connection to
// the database file, its own migrations.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace remhart::store {

class Database;

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

class SimRunRepository {
 public:
  explicit SimRunRepository(const std::string& path);
  ~SimRunRepository();

  void create(const SimRun& run);
  /// Status, progress, counts, error and finish time.
  void update(const SimRun& run);
  std::vector<SimRun> list();
  std::optional<SimRun> get(const std::string& id);
  /// Deletes the run and its labels; false when unknown.
  bool remove(const std::string& id);
  /// Makes `id` the pinned run (the dashboard's); false when unknown.
  bool pin(const std::string& id);
  std::optional<SimRun> pinned();
  /// Runs left `running` by a previous process become `stopped`; returns how many.
  int mark_interrupted(std::int64_t now);

  void add_labels(const std::vector<LabelInterval>& labels);
  /// Intervals of `run` overlapping [from, to), by device ("" = all) and time.
  std::vector<LabelInterval> labels(const std::string& run, const std::string& device,
                                    std::int64_t from, std::int64_t to, std::size_t limit);
  void add_truth(const std::string& run, const std::vector<TruthSnapshot>& snapshots);
  /// A run's snapshots with from ≤ ts < to, oldest first.
  std::vector<TruthSnapshot> truth(const std::string& run, std::int64_t from, std::int64_t to,
                                   std::size_t limit);
  /// A run's newest `limit` snapshots, oldest first.
  std::vector<TruthSnapshot> newest_truth(const std::string& run, std::size_t limit);

 private:
  std::mutex mu_;
  std::unique_ptr<Database> db_;
};

}  // namespace remhart::store
