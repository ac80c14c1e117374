#include "store/sim_repo.hpp"

#include <algorithm>
#include <cstring>
#include <span>

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

SimRun row(const Statement& st) {
  SimRun r;
  r.id = st.text(0);
  r.scenario = st.text(1);
  r.mode = st.text(2);
  r.params_json = st.text(3);
  r.seed = st.int64(4);
  r.start = st.int64(5);
  r.duration_s = st.real(6);
  r.step_s = st.real(7);
  r.speed = st.real(8);
  r.status = st.text(9);
  r.progress = st.real(10);
  r.samples = st.int64(11);
  r.rejected = st.int64(12);
  r.steps = st.int64(13);
  r.created_at = st.int64(14);
  r.finished_at = st.int64(15);
  r.created_by = st.text(16);
  r.error = st.text(17);
  r.pinned = st.int64(18) != 0;
  r.created_by_id = st.int64(19);
  return r;
}

}  // namespace

SimRunRepository::SimRunRepository(const std::string& path)
    : db_(std::make_unique<Database>(path)) {
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  apply_migrations(*db_, "simulator", kMigrations);
}

SimRunRepository::~SimRunRepository() = default;

void SimRunRepository::create(const SimRun& r) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(std::string("INSERT INTO sim_runs(") + kColumns +
               ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
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
      .run();
  tx.commit();
}

void SimRunRepository::update(const SimRun& r) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(
         "UPDATE sim_runs SET status = ?, progress = ?, samples = ?, rejected = ?, steps = ?, "
         "finished_at = ?, error = ? WHERE id = ?")
      .bind(1, r.status)
      .bind(2, r.progress)
      .bind(3, r.samples)
      .bind(4, r.rejected)
      .bind(5, r.steps)
      .bind(6, r.finished_at)
      .bind(7, r.error)
      .bind(8, r.id)
      .run();
  tx.commit();
}

std::vector<SimRun> SimRunRepository::list() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kColumns +
                         " FROM sim_runs ORDER BY created_at DESC, id");
  std::vector<SimRun> out;
  while (st.step()) out.push_back(row(st));
  return out;
}

std::optional<SimRun> SimRunRepository::get(const std::string& id) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kColumns + " FROM sim_runs WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return row(st);
}

bool SimRunRepository::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("DELETE FROM sim_labels WHERE run = ?").bind(1, id).run();
  db_->prepare("DELETE FROM sim_truth WHERE run = ?").bind(1, id).run();
  db_->prepare("DELETE FROM sim_runs WHERE id = ?").bind(1, id).run();
  const bool found = db_->changes() > 0;
  tx.commit();
  return found;
}

bool SimRunRepository::pin(const std::string& id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("UPDATE sim_runs SET pinned = 1 WHERE id = ?").bind(1, id).run();
  if (db_->changes() == 0) return false;
  db_->prepare("UPDATE sim_runs SET pinned = 0 WHERE pinned = 1 AND id <> ?").bind(1, id).run();
  tx.commit();
  return true;
}

std::optional<SimRun> SimRunRepository::pinned() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kColumns + " FROM sim_runs WHERE pinned = 1");
  if (!st.step()) return std::nullopt;
  return row(st);
}

int SimRunRepository::mark_interrupted(std::int64_t now) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(
         "UPDATE sim_runs SET status = 'stopped', finished_at = ?, "
         "error = 'the server stopped during the run' WHERE status = 'running'")
      .bind(1, now)
      .run();
  const int changed = db_->changes();
  tx.commit();
  return changed;
}

void SimRunRepository::add_labels(const std::vector<LabelInterval>& labels) {
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

std::vector<LabelInterval> SimRunRepository::labels(const std::string& run,
                                                    const std::string& device, std::int64_t from,
                                                    std::int64_t to, std::size_t limit) {
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

void SimRunRepository::add_truth(const std::string& run,
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

std::vector<TruthSnapshot> SimRunRepository::truth(const std::string& run, std::int64_t from,
                                                   std::int64_t to, std::size_t limit) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT ts, bus, vm, va FROM sim_truth WHERE run = ? AND ts >= ? AND ts < ? "
      "ORDER BY ts LIMIT ?");
  st.bind(1, run).bind(2, from).bind(3, to).bind(4, static_cast<std::int64_t>(limit));
  return snapshots(st);
}

std::vector<TruthSnapshot> SimRunRepository::newest_truth(const std::string& run,
                                                          std::size_t limit) {
  std::lock_guard lock(mu_);
  auto st =
      db_->prepare("SELECT ts, bus, vm, va FROM sim_truth WHERE run = ? ORDER BY ts DESC LIMIT ?");
  st.bind(1, run).bind(2, static_cast<std::int64_t>(limit));
  auto out = snapshots(st);
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace remhart::store
