#pragma once
// Named blobs behind one interface — measurement archives, model artefacts — so the layers that
// keep them need not know where: a local directory (the default) or a table in the shared
// database that every replica sees (the implementations are in store/object_store.hpp).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace remhart::core {

struct ObjectInfo {
  std::string name;
  std::uint64_t size = 0;
  TimeUs modified = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  /// Stores `data` under `name`, replacing any object of that name; readers see the old object
  /// or the new one, never a part. Throws std::runtime_error when it cannot.
  virtual void put(std::string_view name, std::span<const std::byte> data) = 0;
  /// Stores `data` under `name` only when no object has that name; returns false (storing
  /// nothing) when one has. Of several writers racing for one name exactly one succeeds.
  virtual bool put_new(std::string_view name, std::span<const std::byte> data) = 0;
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

}  // namespace remhart::core
