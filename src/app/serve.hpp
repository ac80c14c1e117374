#pragma once
#include <memory>
#include <string>

#include <spdlog/formatter.h>

#include "analytics/registry.hpp"
#include "app/config.hpp"
#include "ingest/ingest_service.hpp"
#include "runs/simulation_runs.hpp"
#include "sim/twin.hpp"
#include "store/archive.hpp"
#include "store/object_store.hpp"
#include "store/sqlite_store.hpp"

namespace remhart::app {

/// Runs the server until SIGINT/SIGTERM; returns the process exit code.
int serve(const Config& config);

/// The formatter of JSON log lines (`log.json`): one JSON object per line, the message escaped.
std::unique_ptr<spdlog::formatter> json_log_formatter();
/// Configures the global logger from the configuration.
void setup_logging(const Config& config);

/// The storage and ingestion settings of a configuration (shared by `serve` and the CLI).
store::SqliteOptions store_options(const Config& config);
/// The measurement store the configuration names: MariaDB when `storage.database_url` is set,
/// else SQLite in the data directory.
std::unique_ptr<store::Store> open_store(const Config& config, obs::Registry* metrics = nullptr);
/// The object store the configuration names (`storage.object_store`).
std::shared_ptr<core::ObjectStore> open_objects(const Config& config);
/// The model registry: in the data directory's `models/`, or with `storage.object_store =
/// "database"` under `models/` in `objects` (the database every replica sees).
std::unique_ptr<analytics::ModelRegistry> open_models(const Config& config,
                                                      std::shared_ptr<core::ObjectStore> objects);
/// The simulation run records: the data directory's database, or the shared one
/// (`storage.database_url`).
std::unique_ptr<store::SimRunRepository> open_sim_runs(const Config& config);
/// At start: marks stopped the runs a process left `running` when it ended — with the SQLite
/// file every one (one process), in the shared database those without a heartbeat for 30 s
/// (their replica is gone; the other replicas' runs go on). Returns how many.
int mark_interrupted_runs(const Config& config, store::SimRunRepository& runs);
store::RetentionPolicy retention_policy(const Config& config);
ingest::IngestOptions ingest_options(const Config& config);
/// The simulation twin the configuration names (`simulator.twin`, else the demo feeder); throws
/// core::Error naming `simulator.twin`.
std::shared_ptr<const sim::Twin> load_twin(const Config& config);
/// The simulation runs' storage budgets (`simulator.run_budget_mb`, `total_budget_mb`).
runs::StorageBudget sim_budget(const Config& config);

/// An exclusive lock on a data directory, held while a process writes samples into it (the
/// server keeps its store's state in memory, so a second writer would go unseen). Released when
/// destroyed or when the process dies.
class DataDirLock {
 public:
  /// Throws core::Error(conflict) naming the directory when another process holds it.
  explicit DataDirLock(const std::string& data_dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace remhart::app
