// The object store's two variants behave alike: a directory and a table in MariaDB.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "shared_data.hpp"
#include "store/object_store.hpp"
#include "testkit.hpp"

using namespace remhart;

namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> out(s.size());
  if (!s.empty()) std::memcpy(out.data(), s.data(), s.size());
  return out;
}

struct ObjectStoreTest : ::testing::TestWithParam<std::string> {
  testkit::TempDir dir;
  std::unique_ptr<core::ObjectStore> objects;
  void SetUp() override {
    if (GetParam() == "mariadb") {
      if (!testkit::MariadbServer::available()) {
        if (testkit::running_in_ci()) FAIL() << "mariadb-server is missing (CI): scripts/bootstrap";
        GTEST_SKIP() << "mariadb-server not installed (scripts/bootstrap)";
      }
      objects = std::make_unique<store::MariadbObjectStore>(
          testkit::MariadbServer::shared().create_database());
    } else {
      objects = std::make_unique<store::DirectoryObjectStore>(dir.path() + "/objects");
    }
  }
};
INSTANTIATE_TEST_SUITE_P(Variants, ObjectStoreTest, ::testing::Values("directory", "mariadb"),
                         [](const auto& info) { return info.param; });

}  // namespace

TEST_P(ObjectStoreTest, PutGetListReplaceRemove) {
  EXPECT_FALSE(objects->get("archive/none.rhb"));
  objects->put("archive/real/m1/2026-08-01.rhb", bytes_of("first"));
  objects->put("archive/real/m2/2026-08-01.rhb", bytes_of("second"));
  objects->put("reports/r1.pdf", bytes_of(""));  // empty objects exist too
  EXPECT_EQ(objects->get("archive/real/m1/2026-08-01.rhb"), bytes_of("first"));
  EXPECT_EQ(objects->get("reports/r1.pdf"), bytes_of(""));
  const auto archive = objects->list("archive/");
  ASSERT_EQ(archive.size(), 2u);
  EXPECT_EQ(archive[0].name, "archive/real/m1/2026-08-01.rhb");
  EXPECT_EQ(archive[0].size, 5u);
  EXPECT_GT(archive[0].modified, 0);
  EXPECT_EQ(objects->list().size(), 3u);
  objects->put("archive/real/m1/2026-08-01.rhb", bytes_of("replaced"));
  EXPECT_EQ(objects->get("archive/real/m1/2026-08-01.rhb"), bytes_of("replaced"));
  EXPECT_EQ(objects->list("archive/real/m1/")[0].size, 8u);
  EXPECT_TRUE(objects->remove("archive/real/m1/2026-08-01.rhb"));
  EXPECT_FALSE(objects->remove("archive/real/m1/2026-08-01.rhb"));
  EXPECT_FALSE(objects->get("archive/real/m1/2026-08-01.rhb"));
  EXPECT_EQ(objects->list("archive/").size(), 1u);
}

// Larger than one 4 MiB chunk of the database variant, with every byte value.
TEST_P(ObjectStoreTest, LargeBinaryObjectsRoundTrip) {
  std::vector<std::byte> big(9 * 1024 * 1024 + 17);
  for (std::size_t k = 0; k < big.size(); ++k) big[k] = static_cast<std::byte>((k * 131) % 256);
  objects->put("archive/big.bin", big);
  EXPECT_EQ(objects->get("archive/big.bin"), big);
  objects->put("archive/big.bin", bytes_of("small now"));  // no chunk of the old one remains
  EXPECT_EQ(objects->get("archive/big.bin"), bytes_of("small now"));
}

TEST_P(ObjectStoreTest, PutNewKeepsTheFirstWritersObject) {
  EXPECT_TRUE(objects->put_new("models/a/1/card.json", bytes_of("first")));
  EXPECT_FALSE(objects->put_new("models/a/1/card.json", bytes_of("second")));
  EXPECT_EQ(objects->get("models/a/1/card.json"), bytes_of("first"));
  EXPECT_EQ(objects->list("models/").size(), 1u);  // the loser left nothing behind
  EXPECT_THROW(objects->put_new("a/../b", bytes_of("x")), std::invalid_argument);
}

// Several writers (replicas) race for one name: exactly one gets it, and its bytes stay.
TEST_P(ObjectStoreTest, OfRacingPutNewsExactlyOneSucceeds) {
  constexpr int kWriters = 8;
  std::atomic<int> won{0};
  std::atomic<int> winner{-1};
  {
    std::vector<std::jthread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        if (objects->put_new("models/race/1/model.json", bytes_of("writer " + std::to_string(w)))) {
          ++won;
          winner = w;
        }
      });
    }
  }
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(objects->get("models/race/1/model.json"),
            bytes_of("writer " + std::to_string(winner.load())));
}

// A listing while another writer puts and removes (its temporary files come and go) sees whole
// objects only and never fails.
TEST_P(ObjectStoreTest, ListingWhileAnotherWriterPutsNeverFails) {
  std::atomic<bool> done{false};
  std::jthread writer([&] {
    for (int k = 0; k < 200; ++k) {
      objects->put("models/w/" + std::to_string(k % 7), bytes_of("payload " + std::to_string(k)));
      if (k % 3 == 0) objects->remove("models/w/" + std::to_string((k + 1) % 7));
    }
    done = true;
  });
  int listings = 0;
  while (!done || listings == 0) {
    for (const auto& o : objects->list("models/")) {
      EXPECT_TRUE(o.name.starts_with("models/w/")) << o.name;
      EXPECT_EQ(o.name.find("partial"), std::string::npos) << o.name;
    }
    ++listings;
  }
}

TEST_P(ObjectStoreTest, NamesThatCouldEscapeOrConfuseAreRefused) {
  for (const char* bad :
       {"", "/abs", "a//b", "a/../b", "..", "./a", "a/", "a b", "a\\b", "é", "a\nb"}) {
    EXPECT_THROW(objects->put(bad, bytes_of("x")), std::invalid_argument) << bad;
    EXPECT_THROW(objects->get(bad), std::invalid_argument) << bad;
  }
  EXPECT_THROW(objects->put(std::string(513, 'a'), bytes_of("x")), std::invalid_argument);
  EXPECT_TRUE(objects->list().empty());
}

TEST(DirectoryObjectStore, AWriteCutShortIsNotListed) {
  testkit::TempDir dir;
  store::DirectoryObjectStore objects(dir.path());
  std::filesystem::create_directories(dir.path() + "/archive");
  std::ofstream(dir.path() + "/archive/x.rhb.partial-123") << "half";
  objects.put("archive/y.rhb", bytes_of("whole"));
  const auto all = objects.list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "archive/y.rhb");
}
