#pragma once
// Versioned network models: every upload is kept (as the JSON network document) and one is
// active. Own connection to the database file, its own migrations.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace remhart::store {

class Database;

struct NetworkVersion {
  std::int64_t id = 0;
  std::string name;
  std::int64_t uploaded_at = 0;  ///< UTC microseconds
  std::string uploaded_by;
  bool active = false;
  std::string document;  ///< empty in listings
};

class NetworkRepository {
 public:
  /// Keeps the newest `keep_versions` versions (≥ 1); older ones are deleted as new ones come.
  explicit NetworkRepository(const std::string& path, std::size_t keep_versions = 10);
  ~NetworkRepository();

  /// Stores a version and makes it the active one (deleting versions beyond the newest
  /// `keep_versions`); returns its id.
  std::int64_t add(const std::string& name, const std::string& document,
                   const std::string& uploaded_by, std::int64_t at);
  std::vector<NetworkVersion> list();
  std::optional<NetworkVersion> active();
  /// Throws core::Error(not_found).
  void activate(std::int64_t id);

 private:
  std::mutex mu_;
  std::unique_ptr<Database> db_;
  std::size_t keep_;
};

}  // namespace remhart::store
