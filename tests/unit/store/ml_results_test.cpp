// The analytics history on both backends: the same contract for the SQLite file and the shared
// MariaDB database (a private mariadbd).
#include <gtest/gtest.h>

#include <memory>

#include "shared_data.hpp"
#include "store/ml_results.hpp"
#include "testkit.hpp"

using namespace remhart;
using store::MlResult;
using store::MlResultQuery;

namespace {

struct MlResults : ::testing::TestWithParam<std::string> {
  testkit::TempDir dir;
  std::unique_ptr<store::MlResultRepository> repo;
  void SetUp() override {
    if (GetParam() == "sqlite") {
      repo = std::make_unique<store::SqliteMlResultRepository>(dir.path() + "/db");
      return;
    }
    REQUIRE_SERVICE(testkit::MariadbServer, "mariadb-server");
    repo = std::make_unique<store::MariadbMlResultRepository>(
        testkit::MariadbServer::shared().create_database());
  }
  static MlResult row(const std::string& device, std::int64_t ts, const std::string& model = "m",
                      const std::string& origin = "real") {
    return {origin, device, model, ts, 1, R"({"score":)" + std::to_string(ts) + "}"};
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Stores, MlResults, ::testing::Values("sqlite", "mariadb"),
                         [](const auto& info) { return info.param; });

TEST_P(MlResults, StoresQueriesNewestFirstAndReplacesOneKey) {
  repo->insert({row("d1", 10), row("d1", 20), row("d2", 15), row("d1", 30, "other"),
                row("d1", 40, "m", "sim:r1")});
  repo->insert({});
  MlResultQuery q;
  q.model = "m";
  auto all = repo->query(q);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].ts, 20);
  EXPECT_EQ(all[1].ts, 15);
  EXPECT_EQ(all[2].ts, 10);
  q.device = "d1";
  q.from = 11;
  q.to = 21;
  auto one = repo->query(q);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].result_json, R"({"score":20})");
  // The same key again: replaced, not added.
  auto again = row("d1", 20);
  again.version = 2;
  again.result_json = R"({"score":"new"})";
  repo->insert({again});
  one = repo->query(q);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].version, 2);
  EXPECT_EQ(one[0].result_json, R"({"score":"new"})");
  q = MlResultQuery{};
  q.model = "m";
  q.limit = 2;
  EXPECT_EQ(repo->query(q).size(), 2u);
  // A device name and a result with non-Latin text survive the round trip.
  repo->insert({{"real", "zähler-ü", "m", 50, 1, R"({"note":"Überlast ⚡"})"}});
  q.device = "zähler-ü";
  ASSERT_EQ(repo->query(q).size(), 1u);
  EXPECT_EQ(repo->query(q)[0].result_json, R"({"note":"Überlast ⚡"})");
}

TEST_P(MlResults, OldResultsAndDeletedRunsGo) {
  repo->insert({row("d1", 10), row("d1", 20), row("d1", 30), row("d1", 5, "m", "sim:r1")});
  EXPECT_EQ(repo->delete_before(15), 2u);  // 10, and the run's 5
  MlResultQuery q;
  q.model = "m";
  EXPECT_EQ(repo->query(q).size(), 2u);
  repo->insert({row("d1", 40, "m", "sim:r2"), row("d2", 41, "m", "sim:r2")});
  EXPECT_EQ(repo->delete_origin("sim:r2"), 2u);
  EXPECT_EQ(repo->delete_origin("sim:r2"), 0u);
  q.origin = "sim:r2";
  EXPECT_TRUE(repo->query(q).empty());
}
