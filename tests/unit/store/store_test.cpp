#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <future>
#include <map>
#include <random>

#include "core/error.hpp"
#include "shared_data.hpp"
#include "store/mariadb_store.hpp"
#include "store/sqlite_store.hpp"
#include "testkit.hpp"

using namespace remhart;
using core::TimeUs;

namespace {

constexpr TimeUs kS = core::kUsPerSecond;
constexpr TimeUs kT0 = 1'795'860'000 * kS;  // 2026-11-28T10:00:00Z

core::Sample sample(const std::string& device, TimeUs ts, double v = 230) {
  core::Sample s;
  s.device = device;
  s.ts = ts;
  s.values.v = {v, v + 1, v - 1};
  s.values.i = {10, 11, 12};
  s.values.p = {2000, 2100, 2200};
  s.values.q = {500, 600, 700};
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

struct StoreFixture : ::testing::Test {
  testkit::TempDir dir;
  store::SqliteOptions options() {
    store::SqliteOptions o;
    o.path = dir.path() + "/t.db";
    o.block_window = 60 * kS;  // small windows so tests cross block boundaries
    o.max_block_records = 25;
    return o;
  }
  std::unique_ptr<store::SqliteStore> open(store::SqliteOptions o) {
    auto s = std::make_unique<store::SqliteStore>(o);
    for (const char* id : {"m1", "m2"}) {
      if (!s->devices()->count(id)) {
        core::Device d;
        d.id = id;
        d.site = std::string("site-") + id;
        s->create_device(d);
      }
    }
    return s;
  }
};

// The same tests on every store: SQLite (embedded) and MariaDB (a private server started by the
// testkit; a fresh database per test).
struct StoreTest : ::testing::TestWithParam<std::string> {
  testkit::TempDir dir;
  std::string url;
  void SetUp() override {
    if (GetParam() == "mariadb") {
      if (!testkit::MariadbServer::available()) {
        if (testkit::running_in_ci()) FAIL() << "mariadb-server is missing (CI): scripts/bootstrap";
        GTEST_SKIP() << "mariadb-server not installed (scripts/bootstrap)";
      }
      url = testkit::MariadbServer::shared().create_database();
    }
  }
  std::unique_ptr<store::Store> open(std::size_t max_queued_samples = 400'000) {
    std::unique_ptr<store::Store> s;
    if (GetParam() == "mariadb") {
      store::MariadbOptions o;
      o.url = url;
      o.pool_min = 1;
      o.pool_max = 4;
      o.max_queued_samples = max_queued_samples;
      o.insert_rows = 97;  // several array inserts per group
      s = std::make_unique<store::MariadbStore>(o);
    } else {
      store::SqliteOptions o;
      o.path = dir.path() + "/t.db";
      o.block_window = 60 * kS;  // small windows so tests cross block boundaries
      o.max_block_records = 25;
      o.max_queued_samples = max_queued_samples;
      s = std::make_unique<store::SqliteStore>(o);
    }
    for (const char* id : {"m1", "m2"}) {
      if (!s->devices()->count(id)) {
        core::Device d;
        d.id = id;
        d.site = std::string("site-") + id;
        s->create_device(d);
      }
    }
    return s;
  }
};
INSTANTIATE_TEST_SUITE_P(Stores, StoreTest, ::testing::Values("sqlite", "mariadb"),
                         [](const auto& info) { return info.param; });

// Brute-force series aggregation: the reference the store's block-statistics path must match.
std::vector<store::SeriesPoint> reference_series(const std::vector<core::Record>& recs,
                                                 const store::SeriesQuery& q) {
  std::map<TimeUs, std::vector<std::vector<std::pair<TimeUs, double>>>> buckets;
  for (const auto& r : recs) {
    if (r.ts < q.from || r.ts >= q.to) continue;
    TimeUs b = r.ts - ((r.ts % q.step) + q.step) % q.step;
    auto& cols = buckets[b];
    cols.resize(q.fields.size());
    const auto all = core::all_fields(r.values);
    for (std::size_t k = 0; k < q.fields.size(); ++k) {
      if (!std::isnan(all[q.fields[k]])) cols[k].emplace_back(r.ts, all[q.fields[k]]);
    }
  }
  std::vector<store::SeriesPoint> out;
  for (auto& [ts, cols] : buckets) {
    store::SeriesPoint p{ts, {}};
    bool any = false;
    for (auto& c : cols) {
      if (c.empty()) {
        p.values.push_back(NAN);
        continue;
      }
      any = true;
      double v = 0;
      switch (q.agg) {
        case store::Agg::avg:
          for (auto& [t, x] : c) v += x;
          v /= static_cast<double>(c.size());
          break;
        case store::Agg::min:
          v = std::min_element(c.begin(), c.end(), [](auto& a, auto& b) {
                return a.second < b.second;
              })->second;
          break;
        case store::Agg::max:
          v = std::max_element(c.begin(), c.end(), [](auto& a, auto& b) {
                return a.second < b.second;
              })->second;
          break;
        case store::Agg::last:
          v = std::max_element(c.begin(), c.end())->second;
          break;
      }
      p.values.push_back(v);
    }
    if (any) out.push_back(p);
  }
  return out;
}

// A SQLite VFS over the default one whose writes fail with SQLITE_FULL while `full` is set: a
// disk that fills up and is freed again, at the moment the test chooses (STYLE.md: failing I/O).
class FullDisk {
 public:
  FullDisk() {
    base_ = sqlite3_vfs_find(nullptr);
    vfs_ = *base_;
    vfs_.zName = "remhart-full-disk";
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + base_->szOsFile;
    vfs_.pAppData = this;
    vfs_.xOpen = &FullDisk::open;
    methods_ = sqlite3_io_methods{};
    methods_.iVersion = 3;
    methods_.xClose = [](sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); };
    methods_.xRead = [](sqlite3_file* f, void* p, int n, sqlite3_int64 o) {
      return real(f)->pMethods->xRead(real(f), p, n, o);
    };
    methods_.xWrite = [](sqlite3_file* f, const void* p, int n, sqlite3_int64 o) {
      if (self(f)->full) return SQLITE_FULL;
      return real(f)->pMethods->xWrite(real(f), p, n, o);
    };
    methods_.xTruncate = [](sqlite3_file* f, sqlite3_int64 n) {
      return real(f)->pMethods->xTruncate(real(f), n);
    };
    methods_.xSync = [](sqlite3_file* f, int flags) {
      return real(f)->pMethods->xSync(real(f), flags);
    };
    methods_.xFileSize = [](sqlite3_file* f, sqlite3_int64* n) {
      return real(f)->pMethods->xFileSize(real(f), n);
    };
    methods_.xLock = [](sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); };
    methods_.xUnlock = [](sqlite3_file* f, int l) {
      return real(f)->pMethods->xUnlock(real(f), l);
    };
    methods_.xCheckReservedLock = [](sqlite3_file* f, int* r) {
      return real(f)->pMethods->xCheckReservedLock(real(f), r);
    };
    methods_.xFileControl = [](sqlite3_file* f, int op, void* a) {
      return real(f)->pMethods->xFileControl(real(f), op, a);
    };
    methods_.xSectorSize = [](sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); };
    methods_.xDeviceCharacteristics = [](sqlite3_file* f) {
      return real(f)->pMethods->xDeviceCharacteristics(real(f));
    };
    methods_.xShmMap = [](sqlite3_file* f, int pg, int sz, int extend, void volatile** p) {
      return real(f)->pMethods->xShmMap(real(f), pg, sz, extend, p);
    };
    methods_.xShmLock = [](sqlite3_file* f, int o, int n, int flags) {
      return real(f)->pMethods->xShmLock(real(f), o, n, flags);
    };
    methods_.xShmBarrier = [](sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); };
    methods_.xShmUnmap = [](sqlite3_file* f, int del) {
      return real(f)->pMethods->xShmUnmap(real(f), del);
    };
    methods_.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
      return real(f)->pMethods->xFetch(real(f), o, n, p);
    };
    methods_.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
      return real(f)->pMethods->xUnfetch(real(f), o, p);
    };
    sqlite3_vfs_register(&vfs_, 1);  // the default for every connection opened from now on
  }
  ~FullDisk() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(base_, 1);
  }
  FullDisk(const FullDisk&) = delete;
  FullDisk& operator=(const FullDisk&) = delete;
  std::atomic<bool> full{false};

 private:
  struct File {
    sqlite3_file base;
    FullDisk* owner;
  };
  static sqlite3_file* real(sqlite3_file* f) {
    return reinterpret_cast<sqlite3_file*>(reinterpret_cast<File*>(f) + 1);
  }
  static FullDisk* self(sqlite3_file* f) { return reinterpret_cast<File*>(f)->owner; }
  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* out) {
    auto* d = static_cast<FullDisk*>(vfs->pAppData);
    auto* file = reinterpret_cast<File*>(f);
    file->owner = d;
    const int rc = d->base_->xOpen(d->base_, name, real(f), flags, out);
    file->base.pMethods = rc == SQLITE_OK && real(f)->pMethods ? &d->methods_ : nullptr;
    return rc;
  }
  sqlite3_vfs* base_;
  sqlite3_vfs vfs_;
  sqlite3_io_methods methods_;
};

}  // namespace

// Found by attack: on a full disk device newA's first batch failed; once space was freed newB
// was stored, then newA's retry — and both devices returned the same mixed samples, and after
// a restart newA had none. A new series entered the in-memory map before its commit, and its
// rolled-back id was given again.
TEST_F(StoreFixture, AFullDiskLosesNothingAndMixesNothing) {
  FullDisk disk;
  auto batch = [](const std::string& device, double v) {
    std::vector<core::Sample> b;
    for (int k = 0; k < 50; ++k) b.push_back(sample(device, kT0 + k * kS, v));
    return b;
  };
  auto expect_own = [](store::Store& s, const std::string& device, double v) {
    store::DataQuery q;
    q.device = device;
    q.limit = 1000;
    const auto recs = s.query(q).records;
    EXPECT_EQ(recs.size(), 50u) << device;
    for (const auto& r : recs) ASSERT_EQ(r.values.v[0], v) << device;
  };
  {
    auto s = open(options());
    write(*s, {sample("m1", kT0 - kS)});  // an existing series: new ones get later ids
    disk.full = true;
    const auto failed = write(*s, batch("newA", 231));
    EXPECT_FALSE(failed.ok);
    EXPECT_TRUE(failed.full);
    EXPECT_TRUE(s->stats().full);
    EXPECT_FALSE(s->stats().write_error.empty());
    disk.full = false;
    EXPECT_TRUE(write(*s, batch("newB", 232)).ok);
    EXPECT_FALSE(s->stats().full);
    EXPECT_TRUE(write(*s, batch("newA", 231)).ok);
    expect_own(*s, "newA", 231);
    expect_own(*s, "newB", 232);
    s->flush();  // compacted into blocks
    expect_own(*s, "newA", 231);
    expect_own(*s, "newB", 232);
  }
  auto s = open(options());  // and after a restart
  expect_own(*s, "newA", 231);
  expect_own(*s, "newB", 232);
  EXPECT_EQ(s->check_database(), "ok");
}

TEST_P(StoreTest, DevicesCreateUpdateDeleteAndConflict) {
  auto s = open();
  EXPECT_EQ(s->devices()->size(), 2u);
  core::Device d;
  d.id = "m1";
  EXPECT_THROW(s->create_device(d), core::Error);
  d.name = "Umspannwerk Süd 变电站";  // any UTF-8, as sent
  d.tags = {"a", "b"};
  d.lat = 52.5;
  d.lon = 13.4;
  d.accuracy_class = 0.2;
  s->update_device(d);
  d.id = "ghost";
  EXPECT_THROW(s->update_device(d), core::Error);
  s.reset();
  s = open();
  const auto m1 = s->devices()->at("m1");
  EXPECT_EQ(m1.name, "Umspannwerk Süd 变电站");
  EXPECT_EQ(m1.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(*m1.lat, 52.5);
  EXPECT_DOUBLE_EQ(m1.accuracy_class, 0.2);
  s->delete_device("m2");
  EXPECT_FALSE(s->devices()->count("m2"));
  EXPECT_THROW(s->delete_device("m2"), core::Error);
}

TEST_P(StoreTest, WritesAreIdempotentPerDeviceOriginAndTime) {
  auto s = open();
  auto r = write(*s, {sample("m1", kT0), sample("m1", kT0 + kS), sample("m1", kT0)});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_EQ(r.duplicates, 1u);
  r = write(*s, {sample("m1", kT0), sample("m1", kT0 + kS)});
  EXPECT_EQ(r.accepted, 0u);
  EXPECT_EQ(r.duplicates, 2u);
  // Another origin is another series: no collision with real data.
  r = write(*s, {sample("m1", kT0)}, "sim:run-1");
  EXPECT_EQ(r.accepted, 1u);
  // Duplicates are still detected after the samples were compacted into blocks.
  s->flush();
  r = write(*s, {sample("m1", kT0 + kS), sample("m1", kT0 + 2 * kS)});
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(r.duplicates, 1u);
}

TEST_P(StoreTest, LatestIsTheNewestSampleNotTheLastArrived) {
  auto s = open();
  write(*s, {sample("m1", kT0 + 10 * kS, 231)});
  write(*s, {sample("m1", kT0, 229)});  // late data
  auto l = s->latest("m1", "real");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->record.ts, kT0 + 10 * kS);
  EXPECT_DOUBLE_EQ(l->record.values.v[0], 231);
  EXPECT_FALSE(s->latest("m2", "real"));
  EXPECT_FALSE(s->latest("m1", "sim:x"));
  write(*s, {sample("m2", kT0)});
  EXPECT_EQ(s->latest_all("real").size(), 2u);
}

TEST_P(StoreTest, QueriesMergeBlocksAndTailInOrderWithPaging) {
  auto s = open();
  std::vector<core::Sample> batch;
  for (int k = 0; k < 300; ++k) batch.push_back(sample("m1", kT0 + k * kS, 200 + k * 0.1));
  write(*s, batch);
  s->flush();  // into blocks
  batch.clear();
  for (int k = 300; k < 400; ++k) batch.push_back(sample("m1", kT0 + k * kS, 200 + k * 0.1));
  batch.push_back(sample("m1", kT0 + 150 * kS + 500'000));  // late, into an existing block
  write(*s, batch);

  store::DataQuery q;
  q.device = "m1";
  q.limit = 1000;
  q.ascending = true;
  auto page = s->query(q);
  ASSERT_EQ(page.records.size(), 401u);
  EXPECT_FALSE(page.more);
  EXPECT_TRUE(std::is_sorted(page.records.begin(), page.records.end(),
                             [](auto& a, auto& b) { return a.ts < b.ts; }));
  // Descending pages of 37 cover everything exactly once.
  q.ascending = false;
  q.limit = 37;
  std::vector<TimeUs> seen;
  for (;;) {
    page = s->query(q);
    for (auto& r : page.records) seen.push_back(r.ts);
    if (!page.more) break;
    q.to = page.records.back().ts;
  }
  ASSERT_EQ(seen.size(), 401u);
  EXPECT_TRUE(std::is_sorted(seen.rbegin(), seen.rend()));
  // A range.
  q = {};
  q.device = "m1";
  q.from = kT0 + 100 * kS;
  q.to = kT0 + 110 * kS;
  EXPECT_EQ(s->query(q).records.size(), 10u);
  // After another compaction (rewriting the block with the late sample) nothing changes.
  s->flush();
  q = {};
  q.device = "m1";
  q.limit = 1000;
  EXPECT_EQ(s->query(q).records.size(), 401u);
}

TEST_P(StoreTest, SeriesMatchesBruteForceForEveryAggregateAndStep) {
  auto s = open();
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0, 3);
  std::vector<core::Record> all;
  std::vector<core::Sample> batch;
  for (int k = 0; k < 2000; ++k) {
    auto smp = sample("m1", kT0 + k * 700'000 + (k % 3) * 1000, 230 + noise(rng));
    if (k % 5 == 0) smp.values.temp = 40 + noise(rng);
    batch.push_back(smp);
    all.push_back({smp.ts, smp.values});
    if (k == 1200) {
      write(*s, batch);
      s->flush();  // part in blocks, part in the tail
      batch.clear();
    }
  }
  write(*s, batch);
  for (auto agg : {store::Agg::avg, store::Agg::min, store::Agg::max, store::Agg::last}) {
    for (TimeUs step : {kS, 7 * kS, 60 * kS, 120 * kS, 3600 * kS}) {
      for (auto [from, to] :
           {std::pair{kT0, kT0 + 2000 * kS}, std::pair{kT0 + 33 * kS + 1, kT0 + 999 * kS}}) {
        store::SeriesQuery q;
        q.device = "m1";
        q.from = from;
        q.to = to;
        q.step = step;
        q.agg = agg;
        q.fields = {*core::field_index("va"), *core::field_index("temp"), *core::field_index("pf"),
                    *core::field_index("p_total")};
        const auto got = s->series(q);
        const auto want = reference_series(all, q);
        ASSERT_EQ(got.size(), want.size()) << "step " << step;
        for (std::size_t k = 0; k < got.size(); ++k) {
          ASSERT_EQ(got[k].ts, want[k].ts);
          for (std::size_t f = 0; f < q.fields.size(); ++f) {
            if (std::isnan(want[k].values[f])) {
              EXPECT_TRUE(std::isnan(got[k].values[f]));
            } else {
              EXPECT_NEAR(got[k].values[f], want[k].values[f],
                          1e-9 * std::fabs(want[k].values[f]) + 1e-12);
            }
          }
        }
      }
    }
  }
}

TEST_P(StoreTest, RestartReplaysTheLogAndKeepsBlocks) {
  std::vector<core::Sample> batch;
  for (int k = 0; k < 100; ++k) batch.push_back(sample("m1", kT0 + k * kS));
  {
    auto s = open();
    write(*s, std::vector<core::Sample>(batch.begin(), batch.begin() + 50));
    s->flush();
    write(*s, std::vector<core::Sample>(batch.begin() + 50, batch.end()));
    write(*s, {sample("m2", kT0)}, "sim:r1");
  }
  auto s = open();
  store::DataQuery q;
  q.device = "m1";
  q.limit = 1000;
  EXPECT_EQ(s->query(q).records.size(), 100u);
  EXPECT_EQ(s->latest("m1", "real")->record.ts, kT0 + 99 * kS);
  EXPECT_TRUE(s->latest("m2", "sim:r1"));
  auto r = write(*s, batch);
  EXPECT_EQ(r.duplicates, 100u);
}

TEST_P(StoreTest, DeletingADeviceRemovesItsSamples) {
  auto s = open();
  write(*s, {sample("m1", kT0), sample("m2", kT0)});
  s->flush();
  write(*s, {sample("m1", kT0 + kS)});
  s->delete_device("m1");
  EXPECT_FALSE(s->latest("m1", "real"));
  store::DataQuery q;
  q.device = "m1";
  EXPECT_TRUE(s->query(q).records.empty());
  EXPECT_TRUE(s->latest("m2", "real"));
  s.reset();
  s = open();  // re-creates m1; its old samples must not come back from the log
  EXPECT_FALSE(s->latest("m1", "real"));
}

// Deleting a simulation run's origin removes its samples (blocks and the not yet compacted
// tail), keeps every other origin, and nothing of it comes back from the log after a restart —
// not even when a new series takes over a deleted series' row id.
TEST_P(StoreTest, DeletingAnOriginRemovesOnlyItsSamples) {
  auto s = open();
  write(*s, {sample("m1", kT0), sample("m2", kT0)}, "sim:a");
  write(*s, {sample("m1", kT0)}, "sim:b");
  write(*s, {sample("m1", kT0)});
  s->flush();
  write(*s, {sample("m1", kT0 + kS), sample("m2", kT0 + kS)}, "sim:a");  // tail only
  EXPECT_EQ(s->delete_origin("sim:a"), 2u);
  EXPECT_EQ(s->delete_origin("sim:none"), 0u);
  store::DataQuery q;
  q.device = "m1";
  q.origin = "sim:a";
  EXPECT_TRUE(s->query(q).records.empty());
  EXPECT_TRUE(s->latest_all("sim:a").empty());
  EXPECT_TRUE(s->latest("m1", "sim:b"));
  EXPECT_TRUE(s->latest("m1", "real"));
  write(*s, {sample("m2", kT0 + 5 * kS)}, "sim:c");  // may reuse a deleted series id
  s.reset();
  s = open();
  EXPECT_TRUE(s->latest_all("sim:a").empty());
  q.origin = "sim:c";
  q.device = "m2";
  ASSERT_EQ(s->query(q).records.size(), 1u);
  EXPECT_EQ(s->query(q).records[0].ts, kT0 + 5 * kS);
  EXPECT_TRUE(s->latest("m1", "sim:b"));
}

// What the archiver relies on: the series are listed, and deleting what is older than a time
// happens only when the caller's count of it is right — also inside a compacted block.
TEST_P(StoreTest, DeleteBeforeRemovesOnlyOlderSamplesWhenTheCountIsRight) {
  auto s = open();
  std::vector<core::Sample> batch;
  for (int k = 0; k < 300; ++k) batch.push_back(sample("m1", kT0 + k * kS));
  write(*s, batch);
  write(*s, {sample("m2", kT0)}, "sim:r1");
  s->flush();
  const auto series = s->list_series();
  EXPECT_EQ(series.size(), 2u);
  const TimeUs cut = kT0 + 110 * kS + 1;  // inside a block on SQLite (windows of 60 s)
  EXPECT_FALSE(s->delete_before("m1", "real", cut, 110));  // wrong count: nothing removed
  store::DataQuery q;
  q.device = "m1";
  q.limit = 1000;
  EXPECT_EQ(s->query(q).records.size(), 300u);
  EXPECT_TRUE(s->delete_before("m1", "real", cut, 111));
  EXPECT_TRUE(s->delete_before("ghost", "real", cut, 0));
  auto check = [&](store::Store& st) {
    q.ascending = true;
    const auto left = st.query(q).records;
    ASSERT_EQ(left.size(), 189u);
    EXPECT_EQ(left.front().ts, kT0 + 111 * kS);
    EXPECT_EQ(st.latest("m1", "real")->record.ts, kT0 + 299 * kS);
    store::SeriesQuery sq;
    sq.device = "m1";
    sq.from = kT0;
    sq.to = kT0 + 300 * kS;
    sq.step = 3600 * kS;
    sq.agg = store::Agg::min;
    sq.fields = {*core::field_index("va")};
    ASSERT_EQ(st.series(sq).size(), 1u);  // block statistics follow the cut
  };
  check(*s);
  // Samples of the deleted span may arrive again and are stored as new.
  EXPECT_EQ(write(*s, {sample("m1", kT0)}).accepted, 1u);
  EXPECT_TRUE(s->delete_before("m1", "real", cut, 1));
  s.reset();
  s = open();
  check(*s);
  // Everything: the series is empty, its latest gone.
  EXPECT_TRUE(s->delete_before("m2", "sim:r1", kT0 + kS, 1));
  EXPECT_FALSE(s->latest("m2", "sim:r1"));
}

TEST_P(StoreTest, BackPressureRefusesWhenTheQueueIsFull) {
  auto s = open(10);
  std::vector<std::future<void>> waits;
  int refused = 0;
  std::atomic<int> done{0};
  for (int b = 0; b < 200; ++b) {
    std::vector<core::Sample> batch;
    for (int k = 0; k < 8; ++k) batch.push_back(sample("m1", kT0 + (b * 8 + k) * kS));
    if (!s->submit("real", batch, [&](const store::WriteResult&) { ++done; })) ++refused;
  }
  s->flush();
  EXPECT_GT(refused, 0);
  EXPECT_EQ(done.load() + refused, 200);
}

// Every table of the file migrates one way (schema_versions); a database whose measurement
// tables recorded their version in PRAGMA user_version (the scheme before) is adopted, not
// migrated again.
TEST_F(StoreFixture, OneMigrationSchemeAdoptsTheOldVersionRecord) {
  { auto s = open(options()); }
  auto version_of = [&](const char* component) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(options().path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT version FROM schema_versions WHERE component = ?", -1, &st,
                       nullptr);
    sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
    const int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  };
  EXPECT_EQ(version_of("measurements"), 2);  // the tables, then devices' accuracy_class
  // The old record: no row, user_version = 1 (and the tables as version 1 made them).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options().path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DELETE FROM schema_versions WHERE component = 'measurements'; "
                         "PRAGMA user_version = 1; "
                         "ALTER TABLE devices DROP COLUMN accuracy_class;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = open(options());  // would fail re-creating the tables if it migrated again
  core::Device d;
  d.id = "adopted-1";
  EXPECT_NO_THROW(s->create_device(d));
  EXPECT_EQ(version_of("measurements"), 2);                      // adopted at 1, then migrated to 2
  EXPECT_DOUBLE_EQ(s->devices()->at("m1").accuracy_class, 1.0);  // the column's default
}
