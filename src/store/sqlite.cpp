#include "store/sqlite.hpp"

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace remhart::store {
namespace {
[[noreturn]] void fail(sqlite3* db, int rc, std::string_view context) {
  throw SqliteError(rc,
                    std::string(context) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}
}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db, rc, "prepare");
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    db_ = o.db_;
    stmt_ = o.stmt_;
    o.stmt_ = nullptr;
  }
  return *this;
}

Statement& Statement::bind(int idx, std::int64_t v) {
  if (int rc = sqlite3_bind_int64(stmt_, idx, v); rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}
Statement& Statement::bind(int idx, double v) {
  if (int rc = sqlite3_bind_double(stmt_, idx, v); rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}
Statement& Statement::bind(int idx, std::string_view v) {
  if (int rc =
          sqlite3_bind_text(stmt_, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    fail(db_, rc, "bind");
  }
  return *this;
}
Statement& Statement::bind_blob(int idx, std::span<const std::byte> v) {
  if (int rc = sqlite3_bind_blob(stmt_, idx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
      rc != SQLITE_OK) {
    fail(db_, rc, "bind");
  }
  return *this;
}
Statement& Statement::bind_null(int idx) {
  if (int rc = sqlite3_bind_null(stmt_, idx); rc != SQLITE_OK) fail(db_, rc, "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  fail(db_, rc, "step");
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}
double Statement::real(int col) const {
  return sqlite3_column_double(stmt_, col);
}
bool Statement::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}
std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}
std::span<const std::byte> Statement::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return {static_cast<const std::byte*>(p), static_cast<std::size_t>(n)};
}

Database::Database(const std::string& path) {
  const int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    throw SqliteError(rc, "open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  sqlite3_wal_hook(
      db_,
      [](void* self, sqlite3*, const char*, int frames) {
        static_cast<Database*>(self)->wal_frames_ = frames;
        return SQLITE_OK;
      },
      this);
}

Database::~Database() {
  sqlite3_close_v2(db_);
}

void Database::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  const int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(rc, "exec: " + msg);
  }
}

std::int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}

int Database::changes() const {
  return sqlite3_changes(db_);
}

namespace {
// Every write transaction of this process takes a turn at this first-come, first-served gate
// before BEGIN IMMEDIATE. SQLite has one writer at a time and its busy handler polls, so a
// connection that writes back to back (the sample writer under a heavy ingest) would otherwise
// starve an occasional writer (a login, an audit batch) into its busy timeout. A thread that
// holds a turn may open further transactions (on other connections) without queueing again.
class WriteTurns {
 public:
  void acquire() {
    if (held_++ > 0) return;
    std::unique_lock lock(mu_);
    const auto ticket = next_++;
    cv_.wait(lock, [&] { return serving_ == ticket; });
  }
  void release() {
    if (--held_ > 0) return;
    {
      std::lock_guard lock(mu_);
      ++serving_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t next_ = 0, serving_ = 0;
  static thread_local int held_;
};
thread_local int WriteTurns::held_ = 0;

WriteTurns& write_turns() {
  static WriteTurns turns;
  return turns;
}
}  // namespace

Transaction::Transaction(Database& db, bool immediate) : db_(db), turn_(immediate) {
  if (turn_) write_turns().acquire();
  try {
    db_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
  } catch (...) {
    if (turn_) write_turns().release();
    throw;
  }
}

Transaction::~Transaction() {
  if (open_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
      // The transaction is already gone (for example after a failed COMMIT); nothing to undo.
    }
  }
  if (turn_) write_turns().release();
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
  if (turn_) {
    turn_ = false;
    write_turns().release();
  }
}

void apply_migrations(Database& db, std::string_view component, std::span<const char* const> steps,
                      std::int64_t adopt_version) {
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_versions(component TEXT PRIMARY KEY, "
      "version INTEGER NOT NULL)");
  Transaction tx(db, true);
  auto st = db.prepare("SELECT version FROM schema_versions WHERE component = ?");
  st.bind(1, component);
  const std::size_t version = static_cast<std::size_t>(st.step() ? st.int64(0) : adopt_version);
  st = Statement();
  if (version > steps.size()) {
    throw std::runtime_error("database schema of " + std::string(component) + " is version " +
                             std::to_string(version) + ", newer than this binary understands (" +
                             std::to_string(steps.size()) + ")");
  }
  for (std::size_t v = version; v < steps.size(); ++v) db.exec(steps[v]);
  db.prepare(
        "INSERT INTO schema_versions(component, version) VALUES (?, ?) "
        "ON CONFLICT(component) DO UPDATE SET version = excluded.version")
      .bind(1, component)
      .bind(2, static_cast<std::int64_t>(steps.size()))
      .run();
  tx.commit();
}

void backup_database(const std::string& from, const std::string& to) {
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  auto close = [&] {
    sqlite3_close_v2(src);
    sqlite3_close_v2(dst);
  };
  int rc = sqlite3_open_v2(from.c_str(), &src, SQLITE_OPEN_READONLY, nullptr);
  if (rc == SQLITE_OK)
    rc = sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    const std::string what =
        std::string("cannot open ") + (dst ? to : from) + ": " + sqlite3_errmsg(dst ? dst : src);
    close();
    throw SqliteError(rc, what);
  }
  sqlite3_busy_timeout(src, 10'000);
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (!b) {
    const std::string what = std::string("backup of ") + from + ": " + sqlite3_errmsg(dst);
    close();
    throw SqliteError(sqlite3_errcode(dst), what);
  }
  do {
    rc = sqlite3_backup_step(b, -1);  // all pages at once: one consistent snapshot
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    const std::string what = std::string("backup of ") + from + ": " + sqlite3_errstr(rc);
    close();
    throw SqliteError(rc, what);
  }
  close();
}

std::string check_database_file(const std::string& path) {
  try {
    Database db(path);
    auto st = db.prepare("PRAGMA quick_check");
    std::string out;
    while (st.step()) {
      if (!out.empty()) out += "; ";
      out += st.text(0);
    }
    return out;
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace remhart::store
