#pragma once
// The object store's two variants (core/object_store.hpp): a local directory (the default,
// `<data-dir>/objects/`) or a table in the shared database that every replica sees.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/object_store.hpp"

namespace remhart::store {

namespace maria {
class Pool;
}

/// Objects as files under a directory (written to a temporary name, synced, renamed).
class DirectoryObjectStore final : public core::ObjectStore {
 public:
  explicit DirectoryObjectStore(std::filesystem::path root);
  void put(std::string_view name, std::span<const std::byte> data) override;
  bool put_new(std::string_view name, std::span<const std::byte> data) override;
  std::optional<std::vector<std::byte>> get(std::string_view name) const override;
  std::vector<core::ObjectInfo> list(std::string_view prefix = {}) const override;
  bool remove(std::string_view name) override;
  std::string where() const override { return root_.string(); }

 private:
  std::filesystem::path root_;
};

/// Objects in the shared MariaDB database (tables `objects` and `object_chunks`, 4 MiB chunks so
/// no statement exceeds the server's packet limit), written in one transaction each.
class MariadbObjectStore final : public core::ObjectStore {
 public:
  /// Migrates its tables (under the replicas' migration lock). Throws std::runtime_error.
  explicit MariadbObjectStore(const std::string& url);
  ~MariadbObjectStore() override;
  void put(std::string_view name, std::span<const std::byte> data) override;
  bool put_new(std::string_view name, std::span<const std::byte> data) override;
  std::optional<std::vector<std::byte>> get(std::string_view name) const override;
  std::vector<core::ObjectInfo> list(std::string_view prefix = {}) const override;
  bool remove(std::string_view name) override;
  std::string where() const override;

 private:
  std::string url_;
  std::unique_ptr<maria::Pool> pool_;
};

}  // namespace remhart::store
