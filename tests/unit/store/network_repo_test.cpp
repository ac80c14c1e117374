// Network model versions on both backends: the same contract for the SQLite file and the shared
// MariaDB database (a private mariadbd), where two replicas see one active version.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "core/error.hpp"
#include "shared_data.hpp"
#include "store/network_repo.hpp"
#include "testkit.hpp"

using namespace remhart;

namespace {

struct NetworkVersions : ::testing::TestWithParam<std::string> {
  testkit::TempDir dir;
  std::string url;
  std::unique_ptr<store::NetworkRepository> open(std::size_t keep) {
    if (GetParam() == "sqlite") {
      return std::make_unique<store::SqliteNetworkRepository>(dir.path() + "/db", keep);
    }
    return std::make_unique<store::MariadbNetworkRepository>(url, keep);
  }
  void SetUp() override {
    if (GetParam() == "mariadb") {
      REQUIRE_SERVICE(testkit::MariadbServer, "mariadb-server");
      url = testkit::MariadbServer::shared().create_database();
    }
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Stores, NetworkVersions, ::testing::Values("sqlite", "mariadb"),
                         [](const auto& info) { return info.param; });

TEST_P(NetworkVersions, TheNewestIsActiveOnlyTheNewestAreKeptAndOneCanBeActivated) {
  auto repo = open(3);
  EXPECT_FALSE(repo->active());
  EXPECT_EQ(repo->active_id(), 0);
  std::vector<std::int64_t> ids;
  for (int k = 0; k < 5; ++k) {
    ids.push_back(repo->add("net" + std::to_string(k), R"({"doc":)" + std::to_string(k) + "}",
                            "alice", 1000 + k));
  }
  const auto versions = repo->list();
  ASSERT_EQ(versions.size(), 3u);  // the newest three, newest first, documents left out
  EXPECT_EQ(versions[0].id, ids[4]);
  EXPECT_EQ(versions[2].id, ids[2]);
  EXPECT_TRUE(versions[0].active);
  EXPECT_FALSE(versions[1].active);
  EXPECT_TRUE(versions[0].document.empty());
  EXPECT_EQ(versions[0].uploaded_by, "alice");
  EXPECT_EQ(versions[0].uploaded_at, 1004);
  auto active = repo->active();
  ASSERT_TRUE(active);
  EXPECT_EQ(active->id, ids[4]);
  EXPECT_EQ(active->document, R"({"doc":4})");
  EXPECT_EQ(repo->active_id(), ids[4]);
  repo->activate(ids[3]);
  EXPECT_EQ(repo->active_id(), ids[3]);
  EXPECT_EQ(repo->active()->name, "net3");
  try {
    repo->activate(ids[0]);  // deleted
    FAIL() << "activating a deleted version";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::not_found);
  }
  EXPECT_EQ(repo->active_id(), ids[3]);  // unchanged
}

// Two processes on one database (replicas on MariaDB; the SQLite file shared by a CLI and the
// server): a version one adds is the other's active one.
TEST_P(NetworkVersions, AnotherProcessSeesTheActiveVersion) {
  auto a = open(10);
  auto b = open(10);
  const auto id = a->add("feeder", "{}", "alice", 1);
  EXPECT_EQ(b->active_id(), id);
  const auto later = b->add("feeder-2", "{}", "bob", 2);
  EXPECT_EQ(a->active_id(), later);
  ASSERT_EQ(a->list().size(), 2u);
  EXPECT_EQ(a->list()[1].active, false);
}

// Replicas starting together on a fresh database: one first version, not one each.
TEST_P(NetworkVersions, OnlyOneFirstVersionWhenSeveralAddItAtOnce) {
  std::vector<std::unique_ptr<store::NetworkRepository>> repos;
  for (int k = 0; k < 4; ++k) repos.push_back(open(10));
  std::atomic<int> stored{0};
  std::vector<std::thread> starts;
  for (auto& r : repos) {
    starts.emplace_back([&stored, repo = r.get()] {
      if (repo->add_first("twin", "{}", "first start", 1)) ++stored;
    });
  }
  for (auto& t : starts) t.join();
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(repos[0]->list().size(), 1u);
  EXPECT_FALSE(repos[1]->add_first("twin", "{}", "first start", 2));
  EXPECT_GT(repos[2]->add("upload", "{}", "alice", 3), 0);  // later versions as usual
  EXPECT_EQ(repos[3]->list().size(), 2u);
}
