#pragma once
// A thin RAII wrapper over the SQLite C API: a connection and prepared statements.
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace remhart::store {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  /// SQLITE_FULL: the disk (or the database's size limit) is full.
  bool disk_full() const { return (code_ & 0xff) == 13; }
  /// SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock past the busy timeout.
  bool busy() const { return (code_ & 0xff) == 5 || (code_ & 0xff) == 6; }

 private:
  int code_;
};

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  /// Whether it holds a prepared statement.
  explicit operator bool() const { return stmt_ != nullptr; }

  Statement& bind(int idx, std::int64_t v);
  Statement& bind(int idx, double v);
  Statement& bind(int idx, std::string_view v);
  Statement& bind_blob(int idx, std::span<const std::byte> v);
  Statement& bind_null(int idx);

  /// Steps once; true when a row is available, false when done.
  bool step();
  /// Steps to completion of a statement that returns no rows, then resets it.
  void run();
  void reset();

  std::int64_t int64(int col) const;
  double real(int col) const;
  bool is_null(int col) const;
  std::string text(int col) const;
  std::span<const std::byte> blob(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);
  Statement prepare(std::string_view sql) { return Statement(db_, sql); }
  std::int64_t last_insert_rowid() const;
  /// Rows changed by the last INSERT, UPDATE or DELETE.
  int changes() const;
  /// Frames in the write-ahead log after this connection's last commit (WAL mode).
  int wal_frames() const { return wal_frames_; }
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  int wal_frames_ = 0;
};

/// Runs BEGIN on construction and ROLLBACK on destruction unless commit() was called. An
/// immediate (write) transaction first waits its turn among this process's writers, first come
/// first served (see sqlite.cpp).
class Transaction {
 public:
  explicit Transaction(Database& db, bool immediate = false);
  ~Transaction();
  void commit();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Database& db_;
  bool open_ = true;
  bool turn_;  ///< holds a write turn
};

/// The one migration scheme of the database file: each component (measurements, identity, audit,
/// networks, simulator) has its ordered `steps`, and table `schema_versions` records how many of
/// them have run. Runs the steps not yet applied and records the new count in one transaction
/// (all or none). Throws when the database is newer than the steps. `adopt_version`: the
/// component's version as an older binary recorded it elsewhere, taken when it has no row yet.
void apply_migrations(Database& db, std::string_view component, std::span<const char* const> steps,
                      std::int64_t adopt_version = 0);

/// Copies the database file `from` into a new file `to` with SQLite's online backup API, in one
/// step: one read transaction, so the copy is consistent while another process keeps writing.
/// Throws SqliteError.
void backup_database(const std::string& from, const std::string& to);
/// "ok", or what `PRAGMA quick_check` found wrong with the database file.
std::string check_database_file(const std::string& path);

}  // namespace remhart::store
