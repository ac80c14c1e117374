#pragma once
// A small POSIX tar (ustar) writer and extractor for backups: regular files only, names checked
// on the way in, so a backup file cannot write outside the directory it is restored into.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace remhart::app::tar {

struct Entry {
  std::string name;
  std::uint64_t size = 0;
};

class Writer {
 public:
  /// Creates (or truncates) `file`. Throws std::runtime_error.
  explicit Writer(const std::filesystem::path& file);
  /// Adds a file's bytes under `name` (a relative path, at most 255 bytes).
  void add_file(const std::string& name, const std::filesystem::path& source);
  void add_bytes(const std::string& name, std::string_view bytes);
  /// Writes the end-of-archive blocks and syncs the file to disk.
  void finish();

 private:
  void header(const std::string& name, std::uint64_t size);
  void pad(std::uint64_t size);
  std::filesystem::path path_;
  std::ofstream out_;
};

/// Extracts every entry of `file` below `into` (created when missing); returns the entries.
/// Throws std::runtime_error naming the entry and what is wrong: a bad checksum, a truncated
/// file, a name that is absolute or has `..`, an entry that is not a regular file or directory.
std::vector<Entry> extract(const std::filesystem::path& file, const std::filesystem::path& into);

}  // namespace remhart::app::tar
