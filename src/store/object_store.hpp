#pragma once
// Named blobs — measurement archives, later reports and model artefacts — behind one interface:
// a local directory (the default, `<data-dir>/objects/`) or a table in the shared database that
// every replica sees.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace remhart::store {

namespace maria {
class Pool;
}

struct ObjectInfo {
  std::string name;
  std::uint64_t size = 0;
  core::TimeUs modified = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  /// Stores `data` under `name`, replacing any object of that name; readers see the old object
  /// or the new one, never a part. Throws std::runtime_error when it cannot.
  virtual void put(std::string_view name, std::span<const std::byte> data) = 0;
  /// The object, or nullopt when there is none of that name.
  virtual std::optional<std::vector<std::byte>> get(std::string_view name) const = 0;
  /// Objects whose names start with `prefix`, sorted by name.
  virtual std::vector<ObjectInfo> list(std::string_view prefix = {}) const = 0;
  /// Removes the object; false when there was none.
  virtual bool remove(std::string_view name) = 0;
  /// Where the objects are, for logs.
  virtual std::string where() const = 0;
};

/// Object names are paths of segments `[A-Za-z0-9._-]+` joined by `/` (no `.` or `..` segment),
/// at most 512 bytes. Throws std::invalid_argument naming what is wrong.
void check_object_name(std::string_view name);

/// Objects as files under a directory (written to a temporary name, synced, renamed).
class DirectoryObjectStore final : public ObjectStore {
 public:
  explicit DirectoryObjectStore(std::filesystem::path root);
  void put(std::string_view name, std::span<const std::byte> data) override;
  std::optional<std::vector<std::byte>> get(std::string_view name) const override;
  std::vector<ObjectInfo> list(std::string_view prefix = {}) const override;
  bool remove(std::string_view name) override;
  std::string where() const override { return root_.string(); }

 private:
  std::filesystem::path root_;
};

/// Objects in the shared MariaDB database (tables `objects` and `object_chunks`, 4 MiB chunks so
/// no statement exceeds the server's packet limit), written in one transaction each.
class MariadbObjectStore final : public ObjectStore {
 public:
  /// Migrates its tables (under the replicas' migration lock). Throws std::runtime_error.
  explicit MariadbObjectStore(const std::string& url);
  ~MariadbObjectStore() override;
  void put(std::string_view name, std::span<const std::byte> data) override;
  std::optional<std::vector<std::byte>> get(std::string_view name) const override;
  std::vector<ObjectInfo> list(std::string_view prefix = {}) const override;
  bool remove(std::string_view name) override;
  std::string where() const override;

 private:
  std::string url_;
  std::unique_ptr<maria::Pool> pool_;
};

}  // namespace remhart::store
