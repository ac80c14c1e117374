#pragma once
// A thin RAII wrapper over MariaDB Connector/C: connection settings from a URL, a connection,
// prepared statements with typed parameters and results, and a bounded connection pool.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct st_mysql;
struct st_mysql_stmt;

namespace remhart::store::maria {

/// Where and how to connect: `mariadb://user:password@host:port/database` with optional
/// `?socket=/path` (a Unix socket instead of TCP). `mysql://` is accepted as well.
struct ConnectionOptions {
  std::string host = "127.0.0.1";
  unsigned port = 3306;
  std::string user;
  std::string password;
  std::string database;
  std::string socket;
  std::chrono::seconds connect_timeout{3};
  std::chrono::seconds io_timeout{30};  ///< a read or write that stalls this long fails
};
/// Parses a URL; throws std::invalid_argument naming what is wrong.
ConnectionOptions parse_url(std::string_view url);
/// The URL without its password, for logs and /api/settings.
std::string redacted_url(std::string_view url);

class Error : public std::runtime_error {
 public:
  Error(unsigned code, const std::string& what) : std::runtime_error(what), code_(code) {}
  unsigned code() const { return code_; }
  /// The connection is gone or could not be made: retry on a new one.
  bool connection_lost() const;
  /// The server's disk or table space is full.
  bool disk_full() const;
  /// A deadlock or lock wait timeout: the transaction was rolled back, retrying may succeed.
  bool transient() const;

 private:
  unsigned code_;
};

/// A parameter or result value: NULL, an integer, a double or a string.
using Value = std::variant<std::monostate, std::int64_t, double, std::string>;

/// A result row. Integer columns come as int64, floating ones as double, the rest as strings.
struct Row {
  std::vector<Value> cells;
  bool is_null(std::size_t k) const { return std::holds_alternative<std::monostate>(cells[k]); }
  std::int64_t int64(std::size_t k) const;
  double real(std::size_t k) const;
  std::string text(std::size_t k) const;
};

class Connection;

/// A prepared statement on one connection (binary protocol: doubles travel exactly).
class Statement {
 public:
  Statement(Connection& c, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// Executes with these parameters; returns the affected rows (0 for a SELECT).
  std::uint64_t execute(const std::vector<Value>& params = {});
  /// Executes and calls `row` for every result row, streaming (rows are not all held at once).
  void query(const std::vector<Value>& params, const std::function<void(const Row&)>& row);
  std::vector<Row> rows(const std::vector<Value>& params = {});

  /// Column-wise array execution (one round trip for many rows). `columns[c]` holds one value per
  /// row: int64 or double (NaN is sent as NULL). Returns the affected rows.
  struct Column {
    std::vector<std::int64_t> ints;  ///< used when non-empty
    std::vector<double> reals;       ///< otherwise
  };
  std::uint64_t execute_array(std::span<const Column> columns, std::size_t rows);

  st_mysql_stmt* handle() const { return stmt_; }

 private:
  [[noreturn]] void fail(const char* what);
  Connection& conn_;
  st_mysql_stmt* stmt_ = nullptr;
};

class Connection {
 public:
  explicit Connection(const ConnectionOptions& o);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void exec(std::string_view sql);
  /// Text-protocol query for small results (metadata, counts).
  std::vector<Row> query(std::string_view sql);
  std::uint64_t affected_rows() const;
  /// Whether the connection still answers (a round trip).
  bool alive();
  /// Set once an error showed the connection to be lost; the pool then drops it.
  bool broken() const { return broken_; }
  [[noreturn]] void fail(const char* what);

  st_mysql* handle() const { return db_; }

 private:
  st_mysql* db_ = nullptr;
  bool broken_ = false;
};

/// Runs BEGIN on construction and ROLLBACK on destruction unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Connection& c);
  ~Transaction();
  void commit();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Connection& c_;
  bool open_ = true;
};

/// Connections for readers: at least `min` kept open, at most `max` at a time. Acquiring waits
/// up to `wait` for a free one and then throws core::Error(unavailable) — a burst of slow
/// queries costs the callers that queue, never the writer (which has its own connection).
class Pool {
 public:
  struct Options {
    ConnectionOptions connection;
    std::size_t min = 1;
    std::size_t max = 8;
    std::chrono::milliseconds wait{5000};
  };
  explicit Pool(Options o);
  ~Pool();

  class Lease {
   public:
    Lease(Pool& p, std::unique_ptr<Connection> c) : pool_(&p), conn_(std::move(c)) {}
    Lease(Lease&& o) noexcept = default;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };
  Lease acquire();

  /// Runs `fn` on a pooled connection; when the connection turns out to be lost (a server
  /// restart), runs it once more on a new one.
  template <class Fn>
  auto with(Fn&& fn) {
    for (int attempt = 0;; ++attempt) {
      auto lease = acquire();
      try {
        return fn(*lease);
      } catch (const Error& e) {
        if (!e.connection_lost() || attempt > 0) throw;
        drop_idle();  // a lost connection usually means a restarted server: all are stale
      }
    }
  }

  /// Closes the idle connections (they are reopened on demand).
  void drop_idle();
  std::size_t in_use() const;
  std::size_t open() const;
  std::size_t max() const { return opt_.max; }

 private:
  void release(std::unique_ptr<Connection> c);
  Options opt_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t in_use_ = 0;
};

/// Quotes a string literal for the text protocol (identifiers and values we build ourselves).
std::string quote(Connection& c, std::string_view s);

/// Holds one of the server's named locks (GET_LOCK: shared by every replica on the database) for
/// its lifetime. Throws std::runtime_error when another connection holds it beyond `timeout_s`.
class NamedLock {
 public:
  NamedLock(Connection& c, std::string name, int timeout_s);
  ~NamedLock();
  NamedLock(const NamedLock&) = delete;
  NamedLock& operator=(const NamedLock&) = delete;

 private:
  Connection& c_;
  std::string name_;
};

/// Brings `component`'s tables to the last of `steps` (each a list of statements; table
/// `schema_versions` records how many ran), under the named lock `remhart.migrations`, so replicas
/// starting together — even of two versions — never migrate at once. MariaDB commits DDL at once:
/// every statement must be re-runnable (IF NOT EXISTS). Throws std::runtime_error when the
/// database is newer than `steps`.
void apply_migrations(Connection& c, const std::string& component,
                      const std::vector<std::vector<std::string>>& steps);

/// A pool of at most `max` connections to `url` with `component`'s tables migrated: what each
/// repository beside the measurement store keeps. Throws like Pool and apply_migrations.
std::unique_ptr<Pool> open_migrated(const std::string& url, const std::string& component,
                                    const std::vector<std::vector<std::string>>& steps,
                                    std::size_t max = 4);

}  // namespace remhart::store::maria
