// The backup container: what it writes, tar(1) reads; what it reads is checked before a byte
// lands outside the target directory.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/tar.hpp"
#include "testkit.hpp"

using namespace remhart;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

TEST(Tar, WritesWhatTarReadsAndReadsItBack) {
  testkit::TempDir dir;
  write(dir.path() + "/src.bin", std::string(70'000, '\x07') + "end");
  const std::string long_name =
      "objects/archive/sim/run-0123456789abcdef/device-with-a-long-name-0001/2026-08-27.rhb"
      "/and/more/levels/to/pass/one/hundred/bytes.rhb";
  {
    app::tar::Writer w(dir.path() + "/b.tar");
    w.add_bytes("manifest.json", "{}\n");
    w.add_file("data/src.bin", dir.path() + "/src.bin");
    w.add_bytes(long_name, "deep");
    w.add_bytes("empty", "");
    w.finish();
  }
  const auto listed = testkit::run_command("tar tf " + dir.path() + "/b.tar");
  ASSERT_EQ(listed.status, 0) << listed.output;
  EXPECT_EQ(listed.output, "manifest.json\ndata/src.bin\n" + long_name + "\nempty\n");
  const auto entries = app::tar::extract(dir.path() + "/b.tar", dir.path() + "/out");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[1].size, 70'003u);
  EXPECT_EQ(read(dir.path() + "/out/data/src.bin"), read(dir.path() + "/src.bin"));
  EXPECT_EQ(read(dir.path() + "/out/" + long_name), "deep");
  EXPECT_EQ(read(dir.path() + "/out/empty"), "");
  EXPECT_THROW(app::tar::Writer(dir.path() + "/c.tar").add_bytes("../up", "x"), std::runtime_error);
  EXPECT_THROW(app::tar::Writer(dir.path() + "/c.tar").add_bytes("/abs", "x"), std::runtime_error);
}

TEST(Tar, MalformedFilesAreRefusedNamingTheProblem) {
  testkit::TempDir dir;
  {
    app::tar::Writer w(dir.path() + "/good.tar");
    w.add_bytes("a.txt", std::string(1000, 'a'));
    w.finish();
  }
  const auto good = read(dir.path() + "/good.tar");
  auto refused = [&](const std::string& bytes, const std::string& says) {
    write(dir.path() + "/bad.tar", bytes);
    try {
      app::tar::extract(dir.path() + "/bad.tar", dir.path() + "/out");
      ADD_FAILURE() << "accepted: " << says;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  refused("", "end-of-archive");
  refused(good.substr(0, 700), "larger than the rest of the file");
  refused(good.substr(0, 1536), "end-of-archive");
  std::string bad_sum = good;
  bad_sum[0] = 'b';  // the name changes, the checksum does not
  refused(bad_sum, "checksum");
  std::string bad_size = good;
  bad_size.replace(124, 11, "77777777777");
  refused(bad_size, "checksum");  // the checksum covers the size field too
  // Entries built by tar(1): a symlink and a path leaving the directory.
  testkit::TempDir src;
  write(src.path() + "/f", "x");
  fs::create_symlink("/etc/passwd", src.path() + "/link");
  ASSERT_EQ(
      testkit::run_command("tar cf " + dir.path() + "/link.tar -C " + src.path() + " link").status,
      0);
  EXPECT_THROW(app::tar::extract(dir.path() + "/link.tar", dir.path() + "/out"),
               std::runtime_error);
  ASSERT_EQ(testkit::run_command("tar cf " + dir.path() + "/dots.tar -C " + src.path() +
                                 " --transform 's,^f,../../f,' f")
                .status,
            0);
  try {
    app::tar::extract(dir.path() + "/dots.tar", dir.path() + "/out");
    ADD_FAILURE() << "a ../ name was extracted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("leaves the directory"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/f"));
}
