#pragma once
// Analytics results kept for their history: one row per (origin, device, model, time), the
// result as JSON text, downsampled by the caller.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace remhart::store {

class Database;
namespace maria {
class Pool;
}

struct MlResult {
  std::string origin, device, model;
  std::int64_t ts = 0;  ///< UTC µs of the sample it answers
  std::int64_t version = 0;
  std::string result_json;
};

struct MlResultQuery {
  std::string origin = "real";
  std::string device;  ///< empty: every device
  std::string model;
  std::int64_t from = INT64_MIN, to = INT64_MAX;  ///< [from, to)
  std::size_t limit = 100;
};

/// The history of analytics results: in the data directory's database file, or — with several
/// replicas — in the shared MariaDB database, where a device's owner writes it and every
/// replica reads it.
class MlResultRepository {
 public:
  virtual ~MlResultRepository() = default;
  /// Stores rows in one transaction (a row already there for the same key is replaced).
  virtual void insert(const std::vector<MlResult>& rows) = 0;
  /// Newest first.
  virtual std::vector<MlResult> query(const MlResultQuery& q) = 0;
  /// Deletes results older than `before` (UTC µs); returns the rows removed.
  virtual std::size_t delete_before(std::int64_t before) = 0;
  /// Forgets an origin's results (a deleted simulation run); returns the rows removed.
  virtual std::size_t delete_origin(const std::string& origin) = 0;
};

/// In the SQLite file: its own connection and migrations.
class SqliteMlResultRepository final : public MlResultRepository {
 public:
  explicit SqliteMlResultRepository(const std::string& path);
  ~SqliteMlResultRepository() override;
  void insert(const std::vector<MlResult>& rows) override;
  std::vector<MlResult> query(const MlResultQuery& q) override;
  std::size_t delete_before(std::int64_t before) override;
  std::size_t delete_origin(const std::string& origin) override;

 private:
  std::unique_ptr<Database> db_;
  std::mutex mu_;
};

/// In the shared MariaDB/MySQL database (table `ml_results`, migrated on construction).
class MariadbMlResultRepository final : public MlResultRepository {
 public:
  explicit MariadbMlResultRepository(const std::string& url);
  ~MariadbMlResultRepository() override;
  void insert(const std::vector<MlResult>& rows) override;
  std::vector<MlResult> query(const MlResultQuery& q) override;
  std::size_t delete_before(std::int64_t before) override;
  std::size_t delete_origin(const std::string& origin) override;

 private:
  std::unique_ptr<maria::Pool> pool_;
};

}  // namespace remhart::store
