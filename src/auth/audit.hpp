#pragma once
// The audit log: every API call and every security event, written in batches by its own thread
// so recording never waits for the disk. Rows are kept for the retention period.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace remhart::store {
class Database;
namespace maria {
class Pool;
}
}  // namespace remhart::store
namespace remhart::obs {
class Registry;
class Counter;
}  // namespace remhart::obs

namespace remhart::auth {

struct AuditEntry {
  std::int64_t id = 0;  ///< assigned when written
  std::int64_t ts = 0;  ///< UTC microseconds
  std::string kind;     ///< "request" or "security"
  std::string event;    ///< "api_call", "login_ok", "login_failed", "token_reuse", …
  std::string actor;    ///< username, "key:<id>" or "anonymous"
  std::optional<std::int64_t> user_id;
  std::string role;
  std::string method;
  std::string route;  ///< the route pattern (or the path when no route matched)
  int status = 0;
  std::int64_t duration_us = 0;
  std::string ip;
  std::string request_id;
  std::string detail;
};

struct AuditQuery {
  std::optional<std::int64_t> from, to;  ///< microseconds, [from, to)
  std::optional<std::int64_t> user_id;
  std::string actor;
  std::string kind, event;
  std::optional<std::int64_t> before_id;  ///< paging cursor: rows older than this id
  std::size_t limit = 100;
};

struct AuditOptions {
  std::int64_t retention_days = 365;
  std::size_t max_pending = 200000;  ///< beyond this, entries are dropped and counted
};

/// Where audit rows are kept: the data directory's SQLite file, or — with several replicas — the
/// shared MariaDB database, so an administrator on any replica sees every replica's rows (ids are
/// the database's, one sequence for all).
class AuditStore {
 public:
  virtual ~AuditStore() = default;
  /// Writes a batch in one transaction; throws when it cannot.
  virtual void insert(const std::vector<AuditEntry>& batch) = 0;
  /// Newest first.
  virtual std::vector<AuditEntry> query(const AuditQuery& q) = 0;
  /// The user's rows lose their name, address and detail and keep `pseudonym` as actor.
  virtual void pseudonymise(std::int64_t user_id, const std::string& username,
                            const std::string& pseudonym) = 0;
  /// Deletes rows older than `before` (UTC µs); returns how many.
  virtual std::int64_t delete_before(std::int64_t before) = 0;
};

class SqliteAuditStore final : public AuditStore {
 public:
  explicit SqliteAuditStore(const std::string& path);
  ~SqliteAuditStore() override;
  void insert(const std::vector<AuditEntry>& batch) override;
  std::vector<AuditEntry> query(const AuditQuery& q) override;
  void pseudonymise(std::int64_t user_id, const std::string& username,
                    const std::string& pseudonym) override;
  std::int64_t delete_before(std::int64_t before) override;

 private:
  std::unique_ptr<store::Database> db_;
  std::mutex mu_;
};

/// Table `audit` in the shared MariaDB/MySQL database (migrated on construction).
class MariadbAuditStore final : public AuditStore {
 public:
  explicit MariadbAuditStore(const std::string& url);
  ~MariadbAuditStore() override;
  void insert(const std::vector<AuditEntry>& batch) override;
  std::vector<AuditEntry> query(const AuditQuery& q) override;
  void pseudonymise(std::int64_t user_id, const std::string& username,
                    const std::string& pseudonym) override;
  std::int64_t delete_before(std::int64_t before) override;

 private:
  std::unique_ptr<store::maria::Pool> pool_;
};

class AuditLog {
 public:
  AuditLog(std::unique_ptr<AuditStore> store, AuditOptions options,
           obs::Registry* metrics = nullptr);
  /// In the SQLite file at `path`.
  AuditLog(const std::string& path, AuditOptions options, obs::Registry* metrics = nullptr);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void record(AuditEntry e);
  /// Waits until every entry recorded before the call is written.
  void flush();
  /// Newest first.
  std::vector<AuditEntry> query(const AuditQuery& q);
  /// GDPR erase: the user's rows lose their name and address but stay, under `pseudonym`.
  void pseudonymise(std::int64_t user_id, const std::string& username,
                    const std::string& pseudonym);
  /// Deletes rows older than the retention period; returns how many.
  std::int64_t apply_retention(std::int64_t now_us);

 private:
  void run();
  void write(std::vector<AuditEntry>& batch);

  AuditOptions opt_;
  std::unique_ptr<AuditStore> store_;
  std::mutex queue_mu_;  // pending_, recorded_, written_, stopping_ and the condition variables
  std::condition_variable cv_, flushed_cv_;
  std::vector<AuditEntry> pending_;
  std::uint64_t recorded_ = 0, written_ = 0;
  bool stopping_ = false;
  obs::Counter* dropped_ = nullptr;
  obs::Counter* written_total_ = nullptr;
  std::thread thread_;
};

}  // namespace remhart::auth
