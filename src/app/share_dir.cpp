#include "app/share_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace remhart::app {

namespace fs = std::filesystem;

namespace {
constexpr const char* kProbe = "twins/demo-feeder.json";
}

std::string share_dir() {
  std::vector<fs::path> tried;
  if (const char* dir = std::getenv("REMHART_SHARE_DIR"); dir && *dir) {
    // Set explicitly: the only place looked at, so a wrong value is an error, not a fallback.
    if (fs::exists(fs::path(dir) / kProbe)) return dir;
    throw std::runtime_error(std::string("REMHART_SHARE_DIR=") + dir + " has no " + kProbe);
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const auto& candidate :
         {exe.parent_path() / ".." / "share" / "remhart", exe.parent_path() / ".." / "share"}) {
      const fs::path dir = candidate.lexically_normal();
      if (fs::exists(dir / kProbe)) return dir.string();
      tried.push_back(dir);
    }
  }
  std::string where;
  for (const auto& t : tried) where += (where.empty() ? "" : ", ") + t.string();
  throw std::runtime_error(std::string("the shared data (") + kProbe + ") was not found in " +
                           (where.empty() ? "any place" : where) +
                           "; install remhart (cmake --install) or set REMHART_SHARE_DIR");
}

std::string web_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const auto& candidate : {exe.parent_path() / ".." / "share" / "remhart" / "web",
                                exe.parent_path() / ".." / "web" / "dist"}) {
    const fs::path dir = candidate.lexically_normal();
    if (fs::is_regular_file(dir / "index.html")) return dir.string();
  }
  return {};
}

std::string demo_twin_path() {
  return (fs::path(share_dir()) / kProbe).string();
}

}  // namespace remhart::app
