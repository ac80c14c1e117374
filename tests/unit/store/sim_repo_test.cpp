// Simulation run records on both backends: the same contract for the SQLite file and the shared
// MariaDB database (a private mariadbd), where replicas see each other's runs, ask each other to
// stop them, and mark the runs of a replica that went away.
#include <gtest/gtest.h>

#include <memory>

#include "core/time.hpp"
#include "shared_data.hpp"
#include "store/sim_repo.hpp"
#include "testkit.hpp"

using namespace remhart;
using store::SimRun;

namespace {

struct SimRuns : ::testing::TestWithParam<std::string> {
  testkit::TempDir dir;
  std::string url;
  std::unique_ptr<store::SimRunRepository> open() {
    if (GetParam() == "sqlite") {
      return std::make_unique<store::SqliteSimRunRepository>(dir.path() + "/db");
    }
    return std::make_unique<store::MariadbSimRunRepository>(url);
  }
  void SetUp() override {
    if (GetParam() == "mariadb") {
      REQUIRE_SERVICE(testkit::MariadbServer, "mariadb-server");
      url = testkit::MariadbServer::shared().create_database();
    }
  }
  static SimRun run(const std::string& id, std::int64_t created) {
    SimRun r;
    r.id = id;
    r.scenario = "voltage_sag";
    r.mode = "accelerated";
    r.params_json = R"({"depth":0.3})";
    r.seed = 7;
    r.start = 1000;
    r.duration_s = 60;
    r.step_s = 1;
    r.speed = 10;
    r.status = "running";
    r.created_at = created;
    r.created_by = "alice";
    r.created_by_id = 3;
    return r;
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Stores, SimRuns, ::testing::Values("sqlite", "mariadb"),
                         [](const auto& info) { return info.param; });

TEST_P(SimRuns, RunsTheirLabelsAndTruthRoundTrip) {
  auto repo = open();
  repo->create(run("r1", 10));
  repo->create(run("r2", 20));
  auto r = run("r1", 10);
  r.status = "completed";
  r.progress = 1;
  r.samples = 600;
  r.steps = 60;
  r.finished_at = 99;
  repo->update(r);
  const auto all = repo->list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "r2");  // newest first
  const auto got = repo->get("r1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, "completed");
  EXPECT_EQ(got->samples, 600);
  EXPECT_EQ(got->params_json, R"({"depth":0.3})");
  EXPECT_EQ(got->created_by_id, 3);
  EXPECT_DOUBLE_EQ(got->speed, 10);
  EXPECT_FALSE(repo->get("nope"));
  EXPECT_TRUE(repo->pin("r1"));
  EXPECT_TRUE(repo->pin("r2"));
  EXPECT_FALSE(repo->pin("nope"));
  ASSERT_TRUE(repo->pinned());
  EXPECT_EQ(repo->pinned()->id, "r2");  // one pinned run
  EXPECT_FALSE(repo->get("r1")->pinned);

  repo->add_labels({{"r1", "m1", 100, 200, "sag", "minor", ""},
                    {"r1", "m2", 150, 300, "normal", "none", "dropout"},
                    {"r2", "m1", 0, 1000, "normal", "none", ""}});
  EXPECT_EQ(repo->labels("r1", "", 0, 1000, 100).size(), 2u);
  const auto m2 = repo->labels("r1", "m2", 250, 260, 100);
  ASSERT_EQ(m2.size(), 1u);
  EXPECT_EQ(m2[0].data_fault, "dropout");
  EXPECT_TRUE(repo->labels("r1", "", 301, 400, 100).empty());

  repo->add_truth("r1", {{100, {1, 2}, {1.01, 0.99}, {0, -1.5}},
                         {160, {1, 2}, {1.0, 0.98}, {0, -1.6}},
                         {220, {1, 2}, {1.02, 0.97}, {0, -1.7}}});
  const auto truth = repo->truth("r1", 100, 200, 10);
  ASSERT_EQ(truth.size(), 2u);
  EXPECT_EQ(truth[1].ts, 160);
  EXPECT_EQ(truth[1].bus, (std::vector<std::int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(truth[1].vm_pu[1], 0.98);
  const auto newest = repo->newest_truth("r1", 2);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0].ts, 160);  // oldest first
  EXPECT_EQ(newest[1].ts, 220);

  EXPECT_TRUE(repo->remove("r1"));
  EXPECT_FALSE(repo->remove("r1"));
  EXPECT_TRUE(repo->labels("r1", "", 0, 1000, 100).empty());
  EXPECT_TRUE(repo->truth("r1", 0, 1000, 10).empty());
  EXPECT_EQ(repo->list().size(), 1u);
}

TEST_P(SimRuns, AStopCanBeRequestedAndInterruptedRunsAreMarked) {
  auto a = open();
  auto b = open();  // another process on the same database
  a->create(run("r1", 10));
  EXPECT_FALSE(a->stop_requested("r1"));
  EXPECT_TRUE(b->request_stop("r1"));
  EXPECT_FALSE(b->request_stop("nope"));
  EXPECT_TRUE(a->stop_requested("r1"));
  // A run whose process reported a moment ago goes on; one silent for longer is marked.
  const auto now = core::now_us();
  EXPECT_EQ(b->mark_interrupted(now, now - 30 * core::kUsPerSecond), 0);
  EXPECT_EQ(a->get("r1")->status, "running");
  EXPECT_EQ(b->mark_interrupted(now, now + core::kUsPerSecond), 1);
  const auto r = a->get("r1");
  EXPECT_EQ(r->status, "stopped");
  EXPECT_EQ(r->finished_at, now);
  EXPECT_FALSE(r->error.empty());
}
