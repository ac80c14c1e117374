// Retention: old samples move into day files of the object store and stay readable.
#include <gtest/gtest.h>

#include <future>

#include "store/archive.hpp"
#include "store/block_codec.hpp"
#include "store/object_store.hpp"
#include "store/sqlite_store.hpp"
#include "testkit.hpp"

using namespace remhart;
using core::TimeUs;

namespace {

constexpr TimeUs kS = core::kUsPerSecond;
constexpr TimeUs kDay = 86'400 * kS;
constexpr TimeUs kNow = 1'795'860'000 * kS;  // 2026-11-28T10:00:00Z
constexpr TimeUs kMidnight = kNow - 10 * 3600 * kS;

core::Sample sample(const std::string& device, TimeUs ts, double v = 230) {
  core::Sample s;
  s.device = device;
  s.ts = ts;
  s.values.v = {v, v, v};
  s.values.i = {10, 10, 10};
  s.values.p = {2000, 2000, 2000};
  s.values.q = {500, 500, 500};
  s.values.f = 50;
  return s;
}

store::WriteResult write(store::Store& st, std::vector<core::Sample> samples,
                         std::string origin = "real") {
  std::promise<store::WriteResult> p;
  auto f = p.get_future();
  EXPECT_TRUE(st.submit(std::move(origin), std::move(samples),
                        [&p](const store::WriteResult& r) { p.set_value(r); }));
  return f.get();
}

struct ArchiveTest : ::testing::Test {
  testkit::TempDir dir;
  store::DirectoryObjectStore objects{dir.path() + "/objects"};
  std::unique_ptr<store::SqliteStore> store;
  store::RetentionPolicy policy;
  void SetUp() override {
    store::SqliteOptions o;
    o.path = dir.path() + "/t.db";
    store = std::make_unique<store::SqliteStore>(o);
    policy.real_days = 90;
  }
  std::size_t hot(const std::string& device, const std::string& origin = "real") {
    store::DataQuery q;
    q.device = device;
    q.origin = origin;
    q.limit = 100'000;
    return store->query(q).records.size();
  }
};

}  // namespace

TEST_F(ArchiveTest, OldDaysMoveToDayFilesAndStayReadable) {
  const TimeUs cutoff = kMidnight - 90 * kDay;
  std::vector<core::Sample> batch;
  for (int d = 3; d >= 1; --d) {  // three old days, 100 samples each, the last just before cutoff
    for (int k = 0; k < 100; ++k) batch.push_back(sample("m1", cutoff - d * kDay + k * 600 * kS));
  }
  for (int k = 0; k < 50; ++k) batch.push_back(sample("m1", cutoff + k * kS));  // kept
  write(*store, batch);
  const auto round = store::archive_old_samples(*store, objects, policy, kNow);
  EXPECT_EQ(round.series, 1u);
  EXPECT_EQ(round.days, 3u);
  EXPECT_EQ(round.samples, 300u);
  EXPECT_FALSE(round.more);
  EXPECT_EQ(hot("m1"), 50u);
  const auto files = objects.list("archive/real/m1/");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].name, "archive/real/m1/2026-08-27.rhb");
  const auto archived = store::read_archive(objects, "real", "m1", 0, cutoff);
  ASSERT_EQ(archived.size(), 300u);
  EXPECT_EQ(archived.front().ts, cutoff - 3 * kDay);
  EXPECT_EQ(store::read_archive(objects, "real", "m1", cutoff - kDay, cutoff).size(), 100u);
  EXPECT_EQ(store::archived_devices(objects, "real"), std::vector<std::string>{"m1"});
  // Nothing more to do.
  EXPECT_EQ(store::archive_old_samples(*store, objects, policy, kNow).days, 0u);
}

// Late data for an archived day is merged into its file next time; a sample that was archived
// and arrives again keeps its archived values (the first write wins, as in the hot store).
TEST_F(ArchiveTest, LateDataIsMergedAndTheArchivedSampleWins) {
  const TimeUs day = kMidnight - 100 * kDay;
  write(*store, {sample("m1", day + kS, 231), sample("m1", day + 2 * kS, 232)});
  store::archive_old_samples(*store, objects, policy, kNow);
  write(*store, {sample("m1", day + 2 * kS, 999), sample("m1", day + 3 * kS, 233)});
  const auto round = store::archive_old_samples(*store, objects, policy, kNow);
  EXPECT_EQ(round.samples, 2u);
  EXPECT_EQ(hot("m1"), 0u);
  const auto archived = store::read_archive(objects, "real", "m1", day, day + kDay);
  ASSERT_EQ(archived.size(), 3u);
  EXPECT_EQ(archived[1].values.v[0], 232);
  EXPECT_EQ(archived[2].values.v[0], 233);
}

TEST_F(ArchiveTest, SimulationRunsAreKeptUnlessConfiguredAndRoundsAreBounded) {
  std::vector<core::Sample> batch;
  for (int d = 0; d < 5; ++d) batch.push_back(sample("m2", kMidnight - (200 + d) * kDay));
  write(*store, batch, "sim:run-1");
  write(*store, batch);
  policy.max_days_per_round = 2;
  auto round = store::archive_old_samples(*store, objects, policy, kNow);
  EXPECT_EQ(round.days, 2u);
  EXPECT_TRUE(round.more);
  EXPECT_EQ(hot("m2", "sim:run-1"), 5u);  // sim_days = 0: kept
  policy.sim_days = 30;
  policy.max_days_per_round = 31;
  round = store::archive_old_samples(*store, objects, policy, kNow);
  EXPECT_EQ(round.days, 8u);
  EXPECT_EQ(hot("m2", "sim:run-1"), 0u);
  EXPECT_EQ(hot("m2"), 0u);
  EXPECT_EQ(store::read_archive(objects, "sim:run-1", "m2", 0, kNow).size(), 5u);
  EXPECT_EQ(objects.list("archive/sim/run-1/m2/").size(), 5u);
  EXPECT_EQ(store::archived_devices(objects, "sim:run-1"), std::vector<std::string>{"m2"});
  // The run deleted: its archive goes, the real data's stays.
  EXPECT_EQ(store::remove_archives(objects, "sim:run-1"), 5u);
  EXPECT_TRUE(store::read_archive(objects, "sim:run-1", "m2", 0, kNow).empty());
  EXPECT_EQ(store::read_archive(objects, "real", "m2", 0, kNow).size(), 5u);
}

TEST_F(ArchiveTest, ACorruptDayFileStopsTheRoundAndKeepsTheHotSamples) {
  const TimeUs day = kMidnight - 100 * kDay;
  write(*store, {sample("m1", day + kS)});
  const std::string garbage = "not a block";
  objects.put(store::archive_name("real", "m1", day),
              std::as_bytes(std::span(garbage.data(), garbage.size())));
  EXPECT_THROW(store::archive_old_samples(*store, objects, policy, kNow), std::runtime_error);
  EXPECT_EQ(hot("m1"), 1u);
  EXPECT_THROW(store::read_archive(objects, "real", "m1", 0, kNow), std::runtime_error);
}
