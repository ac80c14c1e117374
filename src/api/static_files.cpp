#include "api/static_files.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace remhart::api {

namespace fs = std::filesystem;

namespace {
constexpr const char* kImmutable = "public, max-age=31536000, immutable";
constexpr const char* kRevalidate = "no-cache";

bool safe(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  }
  for (std::size_t start = 1; start <= path.size();) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const auto segment = path.substr(start, end - start);
    if (segment == "." || segment == ".." || (segment.empty() && end != path.size())) return false;
    start = end + 1;
  }
  return true;
}
}  // namespace

StaticFiles::StaticFiles(const std::string& root, std::size_t max_bytes) {
  const fs::path base(root);
  if (!fs::is_regular_file(base / "index.html")) {
    throw std::runtime_error(root + " has no index.html (build the dashboard: make web)");
  }
  for (auto it = fs::recursive_directory_iterator(base); it != fs::recursive_directory_iterator();
       ++it) {
    if (!it->is_regular_file() || it->is_symlink()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string key = "/" + fs::relative(it->path(), base).generic_string();
    StaticFile f{ss.str(), std::string(content_type(key)),
                 key.starts_with("/assets/") ? kImmutable : kRevalidate};
    bytes_ += f.body.size();
    if (bytes_ > max_bytes) {
      throw std::runtime_error(root + ": the dashboard's files exceed " +
                               std::to_string(max_bytes >> 20) + " MiB");
    }
    files_.emplace(key, std::move(f));
  }
}

const StaticFile* StaticFiles::find(std::string_view path) const {
  if (!safe(path)) return nullptr;
  if (path == "/") path = "/index.html";
  if (const auto it = files_.find(path); it != files_.end()) return &it->second;
  const auto last = path.substr(path.rfind('/') + 1);
  const bool app_route = !path.starts_with("/assets/") && last.find('.') == std::string_view::npos;
  if (!app_route) return nullptr;
  return &files_.find(std::string_view("/index.html"))->second;
}

std::string_view StaticFiles::content_type(std::string_view path) {
  static const std::pair<std::string_view, std::string_view> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (path.ends_with(ext)) return type;
  }
  return "application/octet-stream";
}

}  // namespace remhart::api
