// The dashboard's files: exact entries from memory, the application-route fallback, cache
// policy and content types, and paths that must find nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/static_files.hpp"
#include "testkit.hpp"

using namespace remhart;
namespace fs = std::filesystem;

namespace {
void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

struct Site {
  testkit::TempDir dir;
  fs::path root = fs::path(dir.path()) / "web";
  Site() {
    write(root / "index.html", "<!doctype html><title>twin</title>");
    write(root / "assets" / "app-1a2b.js", "console.log(1)");
    write(root / "assets" / "app-3c4d.css", "body{}");
    write(fs::path(dir.path()) / "secret.txt", "TOPSECRET");
  }
};
}  // namespace

TEST(StaticFiles, ServesFilesWithTheirTypesAndCachePolicy) {
  Site site;
  const api::StaticFiles files(site.root.string());
  EXPECT_EQ(files.files(), 3u);
  const auto* index = files.find("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index->cache_control, "no-cache");
  const auto* js = files.find("/assets/app-1a2b.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->body, "console.log(1)");
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js->cache_control, "public, max-age=31536000, immutable");
  EXPECT_EQ(files.find("/assets/app-3c4d.css")->content_type, "text/css; charset=utf-8");
  // Application routes are the app's page; missing assets are not.
  EXPECT_EQ(files.find("/devices"), index);
  EXPECT_EQ(files.find("/network/bus-7"), index);
  EXPECT_FALSE(files.find("/assets/app-0000.js"));
  EXPECT_FALSE(files.find("/favicon.ico"));
}

TEST(StaticFiles, TraversalAndOddPathsFindNothing) {
  Site site;
  const api::StaticFiles files(site.root.string());
  for (const char* path :
       {"/../secret.txt", "/assets/../../secret.txt", "/assets/../index.html", "/./index.html",
        "//index.html", "/assets//app-1a2b.js", "/assets/", "/assets\\app-1a2b.js",
        "/index.html\x01", "", "index.html", "/..", "/assets/.."}) {
    const auto* f = files.find(path);
    EXPECT_TRUE(!f || f->body.find("TOPSECRET") == std::string::npos) << path;
    EXPECT_FALSE(f) << path;
  }
}

TEST(StaticFiles, RefusesADirectoryWithoutIndexOrTooLarge) {
  Site site;
  EXPECT_THROW(api::StaticFiles((site.root / "assets").string()), std::runtime_error);
  EXPECT_THROW(api::StaticFiles(site.root.string(), 8), std::runtime_error);
}
