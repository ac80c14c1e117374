#include "store/sim_repo.hpp"

#include <algorithm>
#include <cstring>
#include <span>

#include "core/time.hpp"
#include "store/mariadb.hpp"
#include "store/sqlite.hpp"

namespace remhart::store {

namespace {
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE sim_runs(
  id TEXT PRIMARY KEY,
  scenario TEXT NOT NULL,
  mode TEXT NOT NULL,
  params TEXT NOT NULL,
  seed INTEGER NOT NULL,
  start INTEGER NOT NULL,
  duration_s REAL NOT NULL,
  step_s REAL NOT NULL,
  speed REAL NOT NULL,
  status TEXT NOT NULL,
  progress REAL NOT NULL DEFAULT 0,
  samples INTEGER NOT NULL DEFAULT 0,
  rejected INTEGER NOT NULL DEFAULT 0,
  steps INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  pinned INTEGER NOT NULL DEFAULT 0);
CREATE TABLE sim_labels(
  run TEXT NOT NULL,
  device TEXT NOT NULL,
  t0 INTEGER NOT NULL,
  t1 INTEGER NOT NULL,
  event TEXT NOT NULL,
  severity TEXT NOT NULL,
  data_fault TEXT NOT NULL);
CREATE INDEX sim_labels_by_run ON sim_labels(run, device, t0);
)sql",
    // The creating account's id (0: the server itself, the command line, or auth switched off):
    // only the creator or an admin may stop, delete or pin a run.
    "ALTER TABLE sim_runs ADD COLUMN created_by_id INTEGER NOT NULL DEFAULT 0;",
    // The simulator's true bus voltages, downsampled: what state estimates are scored against.
    R"sql(
CREATE TABLE sim_truth(run TEXT NOT NULL, ts INTEGER NOT NULL, bus BLOB NOT NULL,
  vm BLOB NOT NULL, va BLOB NOT NULL, PRIMARY KEY(run, ts));
)sql",
    // Asked to stop by another process (with MariaDB: another replica).
    "ALTER TABLE sim_runs ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sim_runs ADD COLUMN heartbeat_at INTEGER NOT NULL DEFAULT 0;",
};

template <typename T>
std::span<const std::byte> bytes_of(const std::vector<T>& v) {
  return std::as_bytes(std::span<const T>(v));
}

template <typename T>
std::vector<T> from_bytes(std::span<const std::byte> b) {
  std::vector<T> out(b.size() / sizeof(T));
  std::memcpy(out.data(), b.data(), out.size() * sizeof(T));
  return out;
}

constexpr const char* kColumns =
    "id, scenario, mode, params, seed, start, duration_s, step_s, speed, status, progress, "
    "samples, rejected, steps, created_at, finished_at, created_by, error, pinned, created_by_id";

// A row of kColumns, from either database (both rows read by the same names).
template <typename Row>
SimRun run_of(const Row& r) {
  SimRun run;
  run.id = r.text(0);
  run.scenario = r.text(1);
  run.mode = r.text(2);
  run.params_json = r.text(3);
  run.seed = r.int64(4);
  run.start = r.int64(5);
  run.duration_s = r.real(6);
  run.step_s = r.real(7);
  run.speed = r.real(8);
  run.status = r.text(9);
  run.progress = r.real(10);
  run.samples = r.int64(11);
  run.rejected = r.int64(12);
  run.steps = r.int64(13);
  run.created_at = r.int64(14);
  run.finished_at = r.int64(15);
  run.created_by = r.text(16);
  run.error = r.text(17);
  run.pinned = r.int64(18) != 0;
  run.created_by_id = r.int64(19);
  return run;
}

}  // namespace

SqliteSimRunRepository::SqliteSimRunRepository(const std::string& path)
    : db_(std::make_unique<Database>(path)) {
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  apply_migrations(*db_, "simulator", kMigrations);
}

SqliteSimRunRepository::~SqliteSimRunRepository() = default;

void SqliteSimRunRepository::create(const SimRun& r) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(std::string("INSERT INTO sim_runs(") + kColumns +
               ", heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
      .bind(1, r.id)
      .bind(2, r.scenario)
      .bind(3, r.mode)
      .bind(4, r.params_json)
      .bind(5, r.seed)
      .bind(6, r.start)
      .bind(7, r.duration_s)
      .bind(8, r.step_s)
      .bind(9, r.speed)
      .bind(10, r.status)
      .bind(11, r.progress)
      .bind(12, r.samples)
      .bind(13, r.rejected)
      .bind(14, r.steps)
      .bind(15, r.created_at)
      .bind(16, r.finished_at)
      .bind(17, r.created_by)
      .bind(18, r.error)
      .bind(19, std::int64_t{r.pinned})
      .bind(20, r.created_by_id)
      .bind(21, core::now_us())
      .run();
  tx.commit();
}

void SqliteSimRunRepository::update(const SimRun& r) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(
         "UPDATE sim_runs SET status = ?, progress = ?, samples = ?, rejected = ?, steps = ?, "
         "finished_at = ?, error = ?, heartbeat_at = ? WHERE id = ?")
      .bind(1, r.status)
      .bind(2, r.progress)
      .bind(3, r.samples)
      .bind(4, r.rejected)
      .bind(5, r.steps)
      .bind(6, r.finished_at)
      .bind(7, r.error)
      .bind(8, core::now_us())
      .bind(9, r.id)
      .run();
  tx.commit();
}

std::vector<SimRun> SqliteSimRunRepository::list() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kColumns +
                         " FROM sim_runs ORDER BY created_at DESC, id");
  std::vector<SimRun> out;
  while (st.step()) out.push_back(run_of(st));
  return out;
}

std::optional<SimRun> SqliteSimRunRepository::get(const std::string& id) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kColumns + " FROM sim_runs WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return run_of(st);
}

bool SqliteSimRunRepository::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("DELETE FROM sim_labels WHERE run = ?").bind(1, id).run();
  db_->prepare("DELETE FROM sim_truth WHERE run = ?").bind(1, id).run();
  db_->prepare("DELETE FROM sim_runs WHERE id = ?").bind(1, id).run();
  const bool found = db_->changes() > 0;
  tx.commit();
  return found;
}

bool SqliteSimRunRepository::pin(const std::string& id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("UPDATE sim_runs SET pinned = 1 WHERE id = ?").bind(1, id).run();
  if (db_->changes() == 0) return false;
  db_->prepare("UPDATE sim_runs SET pinned = 0 WHERE pinned = 1 AND id <> ?").bind(1, id).run();
  tx.commit();
  return true;
}

std::optional<SimRun> SqliteSimRunRepository::pinned() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kColumns + " FROM sim_runs WHERE pinned = 1");
  if (!st.step()) return std::nullopt;
  return run_of(st);
}

int SqliteSimRunRepository::mark_interrupted(std::int64_t now, std::int64_t stale_before) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(
         "UPDATE sim_runs SET status = 'stopped', finished_at = ?, "
         "error = 'the server stopped during the run' WHERE status = 'running' AND "
         "heartbeat_at < ?")
      .bind(1, now)
      .bind(2, stale_before)
      .run();
  const int changed = db_->changes();
  tx.commit();
  return changed;
}

bool SqliteSimRunRepository::request_stop(const std::string& id) {
  std::lock_guard lock(mu_);
  db_->prepare("UPDATE sim_runs SET stop_requested = 1 WHERE id = ?").bind(1, id).run();
  return db_->changes() > 0;
}

bool SqliteSimRunRepository::stop_requested(const std::string& id) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("SELECT stop_requested FROM sim_runs WHERE id = ?");
  st.bind(1, id);
  return st.step() && st.int64(0) != 0;
}

void SqliteSimRunRepository::add_labels(const std::vector<LabelInterval>& labels) {
  if (labels.empty()) return;
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  auto st = db_->prepare(
      "INSERT INTO sim_labels(run, device, t0, t1, event, severity, data_fault) "
      "VALUES (?,?,?,?,?,?,?)");
  for (const auto& l : labels) {
    st.bind(1, l.run)
        .bind(2, l.device)
        .bind(3, l.t0)
        .bind(4, l.t1)
        .bind(5, l.event)
        .bind(6, l.severity)
        .bind(7, l.data_fault)
        .run();
  }
  tx.commit();
}

std::vector<LabelInterval> SqliteSimRunRepository::labels(const std::string& run,
                                                          const std::string& device,
                                                          std::int64_t from, std::int64_t to,
                                                          std::size_t limit) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT run, device, t0, t1, event, severity, data_fault FROM sim_labels "
      "WHERE run = ? AND (? = '' OR device = ?) AND t1 >= ? AND t0 < ? "
      "ORDER BY t0, device LIMIT ?");
  st.bind(1, run).bind(2, device).bind(3, device).bind(4, from).bind(5, to);
  st.bind(6, static_cast<std::int64_t>(limit));
  std::vector<LabelInterval> out;
  while (st.step()) {
    out.push_back(
        {st.text(0), st.text(1), st.int64(2), st.int64(3), st.text(4), st.text(5), st.text(6)});
  }
  return out;
}

void SqliteSimRunRepository::add_truth(const std::string& run,
                                       const std::vector<TruthSnapshot>& snapshots) {
  if (snapshots.empty()) return;
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  auto st =
      db_->prepare("INSERT OR REPLACE INTO sim_truth(run, ts, bus, vm, va) VALUES (?,?,?,?,?)");
  for (const auto& s : snapshots) {
    st.bind(1, run).bind(2, s.ts);
    st.bind_blob(3, bytes_of(s.bus))
        .bind_blob(4, bytes_of(s.vm_pu))
        .bind_blob(5, bytes_of(s.va_deg));
    st.run();
  }
  tx.commit();
}

namespace {
std::vector<TruthSnapshot> snapshots(Statement& st) {
  std::vector<TruthSnapshot> out;
  while (st.step()) {
    out.push_back({st.int64(0), from_bytes<std::int64_t>(st.blob(1)),
                   from_bytes<double>(st.blob(2)), from_bytes<double>(st.blob(3))});
  }
  return out;
}
}  // namespace

std::vector<TruthSnapshot> SqliteSimRunRepository::truth(const std::string& run, std::int64_t from,
                                                         std::int64_t to, std::size_t limit) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT ts, bus, vm, va FROM sim_truth WHERE run = ? AND ts >= ? AND ts < ? "
      "ORDER BY ts LIMIT ?");
  st.bind(1, run).bind(2, from).bind(3, to).bind(4, static_cast<std::int64_t>(limit));
  return snapshots(st);
}

std::vector<TruthSnapshot> SqliteSimRunRepository::newest_truth(const std::string& run,
                                                                std::size_t limit) {
  std::lock_guard lock(mu_);
  auto st =
      db_->prepare("SELECT ts, bus, vm, va FROM sim_truth WHERE run = ? ORDER BY ts DESC LIMIT ?");
  st.bind(1, run).bind(2, static_cast<std::int64_t>(limit));
  auto out = snapshots(st);
  std::reverse(out.begin(), out.end());
  return out;
}

// ---- MariaDB ----

namespace {

const std::vector<std::vector<std::string>> kMariadbMigrations = {{
    "CREATE TABLE IF NOT EXISTS sim_runs(id VARCHAR(64) NOT NULL PRIMARY KEY, scenario TEXT NOT "
    "NULL, mode VARCHAR(16) NOT NULL, params MEDIUMTEXT NOT NULL, seed BIGINT NOT NULL, start "
    "BIGINT NOT NULL, duration_s DOUBLE NOT NULL, step_s DOUBLE NOT NULL, speed DOUBLE NOT NULL, "
    "status VARCHAR(16) NOT NULL, progress DOUBLE NOT NULL DEFAULT 0, samples BIGINT NOT NULL "
    "DEFAULT 0, rejected BIGINT NOT NULL DEFAULT 0, steps BIGINT NOT NULL DEFAULT 0, created_at "
    "BIGINT NOT NULL, finished_at BIGINT NOT NULL DEFAULT 0, created_by TEXT NOT NULL, error "
    "TEXT NOT NULL, pinned TINYINT NOT NULL DEFAULT 0, created_by_id BIGINT NOT NULL DEFAULT 0, "
    "stop_requested TINYINT NOT NULL DEFAULT 0, heartbeat_at BIGINT NOT NULL DEFAULT 0, KEY "
    "sim_runs_status(status)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS sim_labels(run VARCHAR(64) NOT NULL, device VARCHAR(64) NOT NULL, "
    "t0 BIGINT NOT NULL, t1 BIGINT NOT NULL, event VARCHAR(64) NOT NULL, severity VARCHAR(32) NOT "
    "NULL, data_fault VARCHAR(64) NOT NULL, KEY sim_labels_by_run(run, device, t0)) "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS sim_truth(run VARCHAR(64) NOT NULL, ts BIGINT NOT NULL, bus "
    "LONGBLOB NOT NULL, vm LONGBLOB NOT NULL, va LONGBLOB NOT NULL, PRIMARY KEY(run, ts)) "
    "ENGINE=InnoDB",
}};

template <typename T>
std::string blob_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

template <typename T>
std::vector<T> from_blob(const std::string& b) {
  std::vector<T> out(b.size() / sizeof(T));
  std::memcpy(out.data(), b.data(), out.size() * sizeof(T));
  return out;
}

// A row of (ts, bus, vm, va).
TruthSnapshot snapshot_of(const maria::Row& r) {
  return {r.int64(0), from_blob<std::int64_t>(r.text(1)), from_blob<double>(r.text(2)),
          from_blob<double>(r.text(3))};
}

}  // namespace

MariadbSimRunRepository::MariadbSimRunRepository(const std::string& url)
    : pool_(maria::open_migrated(url, "simulator", kMariadbMigrations)) {}

MariadbSimRunRepository::~MariadbSimRunRepository() = default;

void MariadbSimRunRepository::create(const SimRun& r) {
  pool_->with([&](maria::Connection& c) {
    maria::Statement(c, std::string("INSERT INTO sim_runs(") + kColumns +
                            ", heartbeat_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        .execute({r.id,
                  r.scenario,
                  r.mode,
                  r.params_json,
                  r.seed,
                  r.start,
                  r.duration_s,
                  r.step_s,
                  r.speed,
                  r.status,
                  r.progress,
                  r.samples,
                  r.rejected,
                  r.steps,
                  r.created_at,
                  r.finished_at,
                  r.created_by,
                  r.error,
                  std::int64_t{r.pinned},
                  r.created_by_id,
                  core::now_us()});
  });
}

void MariadbSimRunRepository::update(const SimRun& r) {
  pool_->with([&](maria::Connection& c) {
    maria::Statement(c,
                     "UPDATE sim_runs SET status = ?, progress = ?, samples = ?, rejected = ?, "
                     "steps = ?, finished_at = ?, error = ?, heartbeat_at = ? WHERE id = ?")
        .execute({r.status, r.progress, r.samples, r.rejected, r.steps, r.finished_at, r.error,
                  core::now_us(), r.id});
  });
}

std::vector<SimRun> MariadbSimRunRepository::list() {
  return pool_->with([](maria::Connection& c) {
    std::vector<SimRun> out;
    maria::Statement(
        c, std::string("SELECT ") + kColumns + " FROM sim_runs ORDER BY created_at DESC, id")
        .query({}, [&](const maria::Row& r) { out.push_back(run_of(r)); });
    return out;
  });
}

std::optional<SimRun> MariadbSimRunRepository::get(const std::string& id) {
  return pool_->with([&](maria::Connection& c) -> std::optional<SimRun> {
    const auto rows =
        maria::Statement(c, std::string("SELECT ") + kColumns + " FROM sim_runs WHERE id = ?")
            .rows({id});
    if (rows.empty()) return std::nullopt;
    return run_of(rows[0]);
  });
}

bool MariadbSimRunRepository::remove(const std::string& id) {
  return pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    maria::Statement(c, "DELETE FROM sim_labels WHERE run = ?").execute({id});
    maria::Statement(c, "DELETE FROM sim_truth WHERE run = ?").execute({id});
    const bool found = maria::Statement(c, "DELETE FROM sim_runs WHERE id = ?").execute({id}) > 0;
    tx.commit();
    return found;
  });
}

bool MariadbSimRunRepository::pin(const std::string& id) {
  return pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    if (maria::Statement(c, "SELECT id FROM sim_runs WHERE id = ? FOR UPDATE").rows({id}).empty()) {
      return false;
    }
    maria::Statement(c, "UPDATE sim_runs SET pinned = (id = ?)").execute({id});
    tx.commit();
    return true;
  });
}

std::optional<SimRun> MariadbSimRunRepository::pinned() {
  return pool_->with([](maria::Connection& c) -> std::optional<SimRun> {
    const auto rows =
        maria::Statement(c, std::string("SELECT ") + kColumns + " FROM sim_runs WHERE pinned = 1")
            .rows();
    if (rows.empty()) return std::nullopt;
    return run_of(rows[0]);
  });
}

int MariadbSimRunRepository::mark_interrupted(std::int64_t now, std::int64_t stale_before) {
  return pool_->with([&](maria::Connection& c) {
    return static_cast<int>(
        maria::Statement(c,
                         "UPDATE sim_runs SET status = 'stopped', finished_at = ?, error = 'the "
                         "replica running it stopped during the run' WHERE status = 'running' "
                         "AND heartbeat_at < ?")
            .execute({now, stale_before}));
  });
}

bool MariadbSimRunRepository::request_stop(const std::string& id) {
  return pool_->with([&](maria::Connection& c) {
    if (maria::Statement(c, "SELECT id FROM sim_runs WHERE id = ?").rows({id}).empty()) {
      return false;
    }
    maria::Statement(c, "UPDATE sim_runs SET stop_requested = 1 WHERE id = ?").execute({id});
    return true;
  });
}

bool MariadbSimRunRepository::stop_requested(const std::string& id) {
  return pool_->with([&](maria::Connection& c) {
    const auto rows =
        maria::Statement(c, "SELECT stop_requested FROM sim_runs WHERE id = ?").rows({id});
    return !rows.empty() && rows[0].int64(0) != 0;
  });
}

void MariadbSimRunRepository::add_labels(const std::vector<LabelInterval>& labels) {
  if (labels.empty()) return;
  pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    maria::Statement st(c,
                        "INSERT INTO sim_labels(run, device, t0, t1, event, severity, data_fault) "
                        "VALUES (?,?,?,?,?,?,?)");
    for (const auto& l : labels) {
      st.execute({l.run, l.device, l.t0, l.t1, l.event, l.severity, l.data_fault});
    }
    tx.commit();
  });
}

std::vector<LabelInterval> MariadbSimRunRepository::labels(const std::string& run,
                                                           const std::string& device,
                                                           std::int64_t from, std::int64_t to,
                                                           std::size_t limit) {
  return pool_->with([&](maria::Connection& c) {
    std::vector<LabelInterval> out;
    maria::Statement(c,
                     "SELECT run, device, t0, t1, event, severity, data_fault FROM sim_labels "
                     "WHERE run = ? AND (? = '' OR device = ?) AND t1 >= ? AND t0 < ? "
                     "ORDER BY t0, device LIMIT ?")
        .query({run, device, device, from, to, static_cast<std::int64_t>(limit)},
               [&](const maria::Row& r) {
                 out.push_back({r.text(0), r.text(1), r.int64(2), r.int64(3), r.text(4), r.text(5),
                                r.text(6)});
               });
    return out;
  });
}

void MariadbSimRunRepository::add_truth(const std::string& run,
                                        const std::vector<TruthSnapshot>& snapshots) {
  if (snapshots.empty()) return;
  pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    maria::Statement st(c, "REPLACE INTO sim_truth(run, ts, bus, vm, va) VALUES (?,?,?,?,?)");
    for (const auto& s : snapshots) {
      st.execute({run, s.ts, blob_of(s.bus), blob_of(s.vm_pu), blob_of(s.va_deg)});
    }
    tx.commit();
  });
}

std::vector<TruthSnapshot> MariadbSimRunRepository::truth(const std::string& run, std::int64_t from,
                                                          std::int64_t to, std::size_t limit) {
  return pool_->with([&](maria::Connection& c) {
    std::vector<TruthSnapshot> out;
    maria::Statement(c,
                     "SELECT ts, bus, vm, va FROM sim_truth WHERE run = ? AND ts >= ? AND ts < ? "
                     "ORDER BY ts LIMIT ?")
        .query({run, from, to, static_cast<std::int64_t>(limit)},
               [&](const maria::Row& r) { out.push_back(snapshot_of(r)); });
    return out;
  });
}

std::vector<TruthSnapshot> MariadbSimRunRepository::newest_truth(const std::string& run,
                                                                 std::size_t limit) {
  return pool_->with([&](maria::Connection& c) {
    std::vector<TruthSnapshot> out;
    maria::Statement(c,
                     "SELECT ts, bus, vm, va FROM sim_truth WHERE run = ? ORDER BY ts DESC LIMIT ?")
        .query({run, static_cast<std::int64_t>(limit)},
               [&](const maria::Row& r) { out.push_back(snapshot_of(r)); });
    std::reverse(out.begin(), out.end());
    return out;
  });
}

}  // namespace remhart::store
