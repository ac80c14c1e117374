#pragma once
// The standard cases in ../shared/data (never copied into the repository). A plain `make test`
// in a clone without ../shared skips the tests that need them; CI (CI=true, set by .ci/run)
// always has them, so there a missing file fails the test instead.
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include <gtest/gtest.h>

namespace remhart::testkit {

/// ../shared/data/matpower beside the project, or REMHART_MATPOWER_DIR.
inline std::filesystem::path matpower_dir() {
  if (const char* dir = std::getenv("REMHART_MATPOWER_DIR")) return dir;
  return std::filesystem::path(REMHART_SOURCE_DIR) / ".." / "shared" / "data" / "matpower";
}

inline bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string_view(ci) == "true";
}

}  // namespace remhart::testkit

/// Skips the test when `path` (a file of ../shared) is missing — fails it under CI=true.
#define REMHART_REQUIRE_SHARED(path)                                                   \
  do {                                                                                 \
    if (!std::filesystem::exists(path)) {                                              \
      if (::remhart::testkit::running_in_ci()) FAIL() << (path) << " is missing (CI)"; \
      GTEST_SKIP() << (path) << " not present (../shared is not beside the project)";  \
    }                                                                                  \
  } while (false)

/// Skips the test when a service's programs (`Kind::available()`) are not installed — fails it
/// in CI, where scripts/bootstrap has installed them.
#define REQUIRE_SERVICE(Kind, package)                                     \
  if (!Kind::available()) {                                                \
    if (::remhart::testkit::running_in_ci())                               \
      FAIL() << package " is missing (CI): scripts/bootstrap installs it"; \
    GTEST_SKIP() << package " is not installed (scripts/bootstrap)";       \
  }
