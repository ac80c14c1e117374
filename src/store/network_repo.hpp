#pragma once
// Versioned network models: every upload is kept (as the JSON network document) and one is
// active.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace remhart::store {

class Database;
namespace maria {
class Connection;
class Pool;
}  // namespace maria

struct NetworkVersion {
  std::int64_t id = 0;
  std::string name;
  std::int64_t uploaded_at = 0;  ///< UTC microseconds
  std::string uploaded_by;
  bool active = false;
  std::string document;  ///< empty in listings
};

/// Keeps the newest `keep_versions` versions (≥ 1); older ones are deleted as new ones come.
class NetworkRepository {
 public:
  virtual ~NetworkRepository() = default;
  /// Stores a version and makes it the active one (deleting versions beyond the newest
  /// `keep_versions`); returns its id.
  virtual std::int64_t add(const std::string& name, const std::string& document,
                           const std::string& uploaded_by, std::int64_t at) = 0;
  /// add(), but only while there is no version at all — atomically, so of several processes
  /// starting together on a fresh database one stores it; nullopt for the others.
  virtual std::optional<std::int64_t> add_first(const std::string& name,
                                                const std::string& document,
                                                const std::string& uploaded_by,
                                                std::int64_t at) = 0;
  virtual std::vector<NetworkVersion> list() = 0;
  virtual std::optional<NetworkVersion> active() = 0;
  /// The active version's id without its document (0: none) — cheap, for noticing changes.
  virtual std::int64_t active_id() = 0;
  /// Throws core::Error(not_found).
  virtual void activate(std::int64_t id) = 0;
};

/// In the SQLite file: its own connection and migrations.
class SqliteNetworkRepository final : public NetworkRepository {
 public:
  explicit SqliteNetworkRepository(const std::string& path, std::size_t keep_versions = 10);
  ~SqliteNetworkRepository() override;
  std::int64_t add(const std::string& name, const std::string& document,
                   const std::string& uploaded_by, std::int64_t at) override;
  std::optional<std::int64_t> add_first(const std::string& name, const std::string& document,
                                        const std::string& uploaded_by, std::int64_t at) override;
  std::vector<NetworkVersion> list() override;
  std::optional<NetworkVersion> active() override;
  std::int64_t active_id() override;
  void activate(std::int64_t id) override;

 private:
  std::int64_t insert_active(const std::string& name, const std::string& document,
                             const std::string& uploaded_by, std::int64_t at);
  std::mutex mu_;
  std::unique_ptr<Database> db_;
  std::size_t keep_;
};

/// In the shared MariaDB/MySQL database (table `networks`), so every replica studies the same
/// model.
class MariadbNetworkRepository final : public NetworkRepository {
 public:
  explicit MariadbNetworkRepository(const std::string& url, std::size_t keep_versions = 10);
  ~MariadbNetworkRepository() override;
  std::int64_t add(const std::string& name, const std::string& document,
                   const std::string& uploaded_by, std::int64_t at) override;
  std::optional<std::int64_t> add_first(const std::string& name, const std::string& document,
                                        const std::string& uploaded_by, std::int64_t at) override;
  std::vector<NetworkVersion> list() override;
  std::optional<NetworkVersion> active() override;
  std::int64_t active_id() override;
  void activate(std::int64_t id) override;

 private:
  std::int64_t insert_active(maria::Connection& c, const std::string& name,
                             const std::string& document, const std::string& uploaded_by,
                             std::int64_t at);
  std::unique_ptr<maria::Pool> pool_;
  std::size_t keep_;
};

}  // namespace remhart::store
