#pragma once
// Analytics results kept for their history: one row per (origin, device, model, time), the
// result as JSON text, downsampled by the caller. Own connection to the database file, its own
// migrations.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace remhart::store {

class Database;

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

class MlResultRepository {
 public:
  explicit MlResultRepository(const std::string& path);
  ~MlResultRepository();

  /// Stores rows in one transaction (a row already there for the same key is replaced).
  void insert(const std::vector<MlResult>& rows);
  /// Newest first.
  std::vector<MlResult> query(const MlResultQuery& q);
  /// Deletes results older than `before` (UTC µs); returns the rows removed.
  std::size_t delete_before(std::int64_t before);
  /// Forgets an origin's results (a deleted simulation run); returns the rows removed.
  std::size_t delete_origin(const std::string& origin);

 private:
  std::unique_ptr<Database> db_;
  std::mutex mu_;
};

}  // namespace remhart::store
