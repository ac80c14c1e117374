#pragma once
// The web dashboard's built assets (web/dist), loaded into memory at startup and served at `/`:
// Vite's content-hashed files under /assets/ cached for a year as immutable, index.html never
// cached, and every other extension-less path answered with index.html (the app routes by path).
// A request names an entry of an in-memory table, never a file: `..`, `//`, backslashes and
// control bytes find nothing, and there is no directory listing.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace remhart::api {

struct StaticFile {
  std::string body;
  std::string content_type;
  std::string cache_control;
};

class StaticFiles {
 public:
  /// Loads every regular file below `root` (symbolic links are not followed). Throws
  /// std::runtime_error when `root` has no index.html, or when the files exceed `max_bytes`.
  explicit StaticFiles(const std::string& root, std::size_t max_bytes = 64 << 20);

  /// The file for a request path (already percent-decoded): the exact file, or index.html for
  /// an application route (a path without an extension outside /assets/); nullopt otherwise.
  const StaticFile* find(std::string_view path) const;

  std::size_t files() const { return files_.size(); }
  std::size_t bytes() const { return bytes_; }

  /// "text/javascript; charset=utf-8" for ".js", …; application/octet-stream when unknown.
  static std::string_view content_type(std::string_view path);

 private:
  std::map<std::string, StaticFile, std::less<>> files_;  // "/assets/app-1a2b.js" → file
  std::size_t bytes_ = 0;
};

}  // namespace remhart::api
