#include "store/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "core/error.hpp"
#include "obs/metrics.hpp"
#include "store/block_codec.hpp"
#include "store/sqlite.hpp"
#include "store/store_support.hpp"

namespace remhart::store {

using core::Record;
using core::TimeUs;

namespace {

// The measurement tables' migrations (component "measurements" of schema_versions, like every
// other table of the file; see store::apply_migrations).
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE devices(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
  nominal_voltage REAL NOT NULL, rated_current REAL NOT NULL, nominal_frequency REAL NOT NULL,
  element TEXT NOT NULL, site TEXT NOT NULL, lat REAL, lon REAL, tags TEXT NOT NULL);
CREATE TABLE series(id INTEGER PRIMARY KEY, device TEXT NOT NULL, origin TEXT NOT NULL,
  UNIQUE(device, origin));
CREATE TABLE log(id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE blocks(id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL, t0 INTEGER NOT NULL,
  t1 INTEGER NOT NULL, n INTEGER NOT NULL, stats BLOB NOT NULL);
CREATE INDEX blocks_by_series ON blocks(series_id, t1);
CREATE TABLE block_data(id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
)sql",
    R"sql(
ALTER TABLE devices ADD COLUMN accuracy_class REAL NOT NULL DEFAULT 1;
)sql",
};

constexpr const char* kComponent = "measurements";
constexpr int kWalRestartFrames = 4096;  // 64 MiB of 16 KiB pages

bool by_ts(const Record& a, const Record& b) {
  return a.ts < b.ts;
}

}  // namespace

struct SqliteStore::Series {
  std::int64_t id;
  std::string device;
  std::string origin;
  std::vector<Record> tail;                                 // sorted, not yet in blocks
  TimeUs flushed_max = std::numeric_limits<TimeUs>::min();  // newest ts in blocks
  std::optional<Record> latest;
  // Timestamps the last checkpoint moved into blocks that are newer than `recent_after`, so
  // duplicate checks of slightly late data need no block reads.
  std::vector<TimeUs> recent_flushed;
  TimeUs recent_after = std::numeric_limits<TimeUs>::max();
  // Writer thread only, during one group commit.
  std::vector<Record> staged;
  TimeUs staged_max = std::numeric_limits<TimeUs>::min();
  // Out-of-order samples of the group check against this (built on first need) instead of
  // scanning `staged`; and against `in_blocks`: which of the group's timestamps older than the
  // recent window are already in blocks (one pass over those blocks for the whole group).
  std::unordered_set<TimeUs> staged_index;
  bool staged_indexed = false;
  std::vector<TimeUs> in_blocks;
  // Every block timestamp within [known_lo, known_hi] (whole aligned windows, which blocks never
  // cross), kept from the last lookup: a replay walking forward in time decodes each block once.
  TimeUs known_lo = 0, known_hi = -1;
  std::vector<TimeUs> known_ts;

  void clear_staged() {
    staged.clear();
    staged_max = std::numeric_limits<TimeUs>::min();
    staged_index.clear();
    staged_indexed = false;
    in_blocks.clear();
  }

  TimeUs max_ts() const {
    TimeUs m = std::max(flushed_max, staged_max);
    return tail.empty() ? m : std::max(m, tail.back().ts);
  }
};

struct SqliteStore::Metrics : StoreMetrics {
  explicit Metrics(obs::Registry& r)
      : StoreMetrics(r),
        checkpoint(r.histogram("remhart_store_checkpoint_seconds", "Tail compaction latency")) {}
  obs::Histogram& checkpoint;
};

namespace {
bool is_disk_full(const std::exception& e) {
  const auto* se = dynamic_cast<const SqliteError*>(&e);
  return se && se->disk_full();
}
}  // namespace

void SqliteStore::note_error(const char* op, const std::exception& e) {
  report_error(metrics_.get(), op, e);
}

// A read connection borrowed from the pool for one query.
class SqliteStore::ReaderLease {
 public:
  ReaderLease(const SqliteStore& s, std::unique_ptr<Database> db) : s_(s), db_(std::move(db)) {}
  ReaderLease(ReaderLease&&) = default;
  ~ReaderLease() {
    if (!db_) return;
    std::lock_guard lock(s_.readers_mu_);
    s_.readers_.push_back(std::move(db_));
  }
  Database& db() { return *db_; }

 private:
  const SqliteStore& s_;
  std::unique_ptr<Database> db_;
};

SqliteStore::SqliteStore(SqliteOptions options, obs::Registry* metrics)
    : opt_(std::move(options)),
      devices_(std::make_shared<DeviceMap>()),
      queue_(opt_.max_queued_samples, opt_.group_samples) {
  if (metrics) metrics_ = std::make_unique<Metrics>(*metrics);
  db_ = std::make_unique<Database>(opt_.path);
  // 16 KiB pages (for new databases): a 1,000-sample log row spans 12 pages instead of 47, which
  // measured ~40% more ingest throughput than the 4 KiB default.
  db_->exec("PRAGMA page_size=16384");
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec(opt_.fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  db_->exec("PRAGMA cache_size=-16000");
  db_->exec("PRAGMA foreign_keys=ON");
  // WAL checkpoints (copying the WAL into the database file) run on their own thread, so the
  // writer thread only appends to the WAL. (Database installs a WAL hook, which also turns off
  // SQLite's automatic checkpoints on this connection.)
  db_->exec("PRAGMA journal_size_limit=67108864");
  migrate();
  load();
  last_checkpoint_ = std::chrono::steady_clock::now();
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rh-writer");
    writer_loop();
  });
  wal_checkpointer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rh-walckpt");
    wal_checkpoint_loop();
  });
  if (metrics) {
    metrics->gauge_fn("remhart_store_queued_samples", "Samples waiting for a group commit",
                      [this] { return static_cast<double>(stats().queued_samples); });
    metrics->gauge_fn("remhart_store_tail_samples", "Committed samples not yet compacted",
                      [this] { return static_cast<double>(stats().tail_samples); });
  }
}

SqliteStore::~SqliteStore() {
  queue_.stop();
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (wal_checkpointer_.joinable()) wal_checkpointer_.join();
  try {
    db_->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const std::exception&) {
    // The WAL stays and is checkpointed at the next start.
  }
}

void SqliteStore::wal_checkpoint_loop() {
  Database db(opt_.path);
  db.exec(opt_.fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  std::unique_lock lock(stop_mu_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(250));
    if (stopping_) break;
    lock.unlock();
    try {
      // PASSIVE never blocks the writer; it copies what it can.
      db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (const std::exception& e) {
      // The next round tries again; the WAL keeps every commit meanwhile.
      note_error("wal_checkpoint", e);
    }
    lock.lock();
  }
}

void SqliteStore::migrate() {
  // Databases written before every table used schema_versions kept this component's version in
  // PRAGMA user_version: adopted once, then cleared.
  auto st = db_->prepare("PRAGMA user_version");
  st.step();
  const std::int64_t legacy = st.int64(0);
  st = Statement();
  apply_migrations(*db_, kComponent, kMigrations, legacy);
  if (legacy > 0) db_->exec("PRAGMA user_version=0");
}

void SqliteStore::load() {
  auto devices = std::make_shared<DeviceMap>();
  auto st = db_->prepare(
      "SELECT id, name, kind, nominal_voltage, rated_current, nominal_frequency, element, site, "
      "lat, lon, tags, accuracy_class FROM devices");
  while (st.step()) {
    core::Device d;
    d.id = st.text(0);
    d.name = st.text(1);
    d.kind = st.text(2);
    d.nominal_voltage = st.real(3);
    d.rated_current = st.real(4);
    d.nominal_frequency = st.real(5);
    d.element = st.text(6);
    d.site = st.text(7);
    if (!st.is_null(8)) d.lat = st.real(8);
    if (!st.is_null(9)) d.lon = st.real(9);
    d.tags = split_tags(st.text(10));
    d.accuracy_class = st.real(11);
    (*devices)[d.id] = std::move(d);
  }
  devices_ = std::move(devices);

  std::unordered_map<std::int64_t, Series*> by_id;
  auto ss = db_->prepare("SELECT id, device, origin FROM series");
  auto newest = db_->prepare(
      "SELECT b.t1, d.payload FROM blocks b JOIN block_data d ON d.id = b.id "
      "WHERE b.series_id = ? ORDER BY b.t1 DESC LIMIT 1");
  while (ss.step()) {
    auto s = std::make_unique<Series>();
    s->id = ss.int64(0);
    s->device = ss.text(1);
    s->origin = ss.text(2);
    newest.bind(1, s->id);
    if (newest.step()) {
      s->flushed_max = newest.int64(0);
      if (auto recs = decode_block(newest.blob(1)); recs && !recs->empty()) {
        s->latest = *std::max_element(recs->begin(), recs->end(), by_ts);
      }
    }
    newest.reset();
    by_id[s->id] = s.get();
    auto& slot = series_[s->origin][s->device];
    slot = std::move(s);
  }

  auto lg = db_->prepare("SELECT id, payload FROM log ORDER BY id");
  while (lg.step()) {
    last_log_id_ = lg.int64(0);
    const auto bytes = lg.blob(1);
    for (std::size_t off = 0; off + sizeof(LogEntry) <= bytes.size(); off += sizeof(LogEntry)) {
      LogEntry e;
      std::memcpy(&e, bytes.data() + off, sizeof e);
      const auto it = by_id.find(e.series_id);
      if (it == by_id.end()) continue;  // its device was deleted
      it->second->tail.push_back(Record{e.ts, e.values});
      ++tail_samples_;
    }
  }
  for_each_series([this](Series& s) {
    std::sort(s.tail.begin(), s.tail.end(), by_ts);
    if (!s.tail.empty() && (!s.latest || s.tail.back().ts > s.latest->ts)) s.latest = s.tail.back();
    if (s.latest) latest_[s.origin][s.device] = *s.latest;
  });
}

// ---- devices --------------------------------------------------------------------------------

std::shared_ptr<const DeviceMap> SqliteStore::devices() const {
  std::lock_guard lock(devices_mu_);
  return devices_;
}

void SqliteStore::run_on_writer(std::function<void()> fn) {
  queue_.run_on_writer(std::move(fn));
}

void SqliteStore::save_device(const core::Device& d, bool create) {
  run_on_writer([&] {
    const auto current = devices();
    const bool exists = current->count(d.id) > 0;
    if (create && exists) {
      throw core::Error(core::ErrorKind::conflict, "device '" + d.id + "' already exists", "id");
    }
    if (!create && !exists) {
      throw core::Error(core::ErrorKind::not_found, "device '" + d.id + "' not found");
    }
    auto st = db_->prepare(
        "INSERT OR REPLACE INTO devices(id, name, kind, nominal_voltage, rated_current, "
        "nominal_frequency, element, site, lat, lon, tags, accuracy_class) "
        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
    st.bind(1, d.id).bind(2, d.name).bind(3, d.kind).bind(4, d.nominal_voltage);
    st.bind(5, d.rated_current).bind(6, d.nominal_frequency).bind(7, d.element).bind(8, d.site);
    d.lat ? st.bind(9, *d.lat) : st.bind_null(9);
    d.lon ? st.bind(10, *d.lon) : st.bind_null(10);
    st.bind(11, join_tags(d.tags)).bind(12, d.accuracy_class);
    st.run();
    auto next = std::make_shared<DeviceMap>(*current);
    (*next)[d.id] = d;
    std::lock_guard lock(devices_mu_);
    devices_ = std::move(next);
  });
}

void SqliteStore::create_device(const core::Device& d) {
  save_device(d, true);
}
void SqliteStore::update_device(const core::Device& d) {
  save_device(d, false);
}

void SqliteStore::delete_device(std::string_view id_view) {
  const std::string id(id_view);
  run_on_writer([&] {
    const auto current = devices();
    if (!current->count(id)) {
      throw core::Error(core::ErrorKind::not_found, "device '" + id + "' not found");
    }
    // Compact first: the log then holds nothing of this device's series, whose ids SQLite may
    // hand to a new series later (a replayed log row would land in the wrong one).
    checkpoint();
    Transaction tx(*db_, true);
    db_->prepare(
           "DELETE FROM block_data WHERE id IN (SELECT b.id FROM blocks b JOIN series s ON "
           "s.id = b.series_id WHERE s.device = ?)")
        .bind(1, id)
        .run();
    db_->prepare("DELETE FROM blocks WHERE series_id IN (SELECT id FROM series WHERE device = ?)")
        .bind(1, id)
        .run();
    db_->prepare("DELETE FROM series WHERE device = ?").bind(1, id).run();
    db_->prepare("DELETE FROM devices WHERE id = ?").bind(1, id).run();
    auto next = std::make_shared<DeviceMap>(*current);
    next->erase(id);
    std::unique_lock lock(mu_);
    tx.commit();
    for (auto& [origin, by_device] : series_) {
      if (const auto it = by_device.find(id); it != by_device.end()) {
        tail_samples_ -= it->second->tail.size();
        forget_known(*it->second);
        by_device.erase(it);
        std::lock_guard ll(latest_mu_);
        if (const auto o = latest_.find(origin); o != latest_.end()) o->second.erase(id);
      }
    }
    std::lock_guard dl(devices_mu_);
    devices_ = std::move(next);
  });
}

std::size_t SqliteStore::delete_origin(std::string_view origin_view) {
  const std::string origin(origin_view);
  std::size_t removed = 0;
  run_on_writer([&] {
    checkpoint();  // as in delete_device: no log row may outlive its series
    Transaction tx(*db_, true);
    db_->prepare(
           "DELETE FROM block_data WHERE id IN (SELECT b.id FROM blocks b JOIN series s ON "
           "s.id = b.series_id WHERE s.origin = ?)")
        .bind(1, origin)
        .run();
    db_->prepare("DELETE FROM blocks WHERE series_id IN (SELECT id FROM series WHERE origin = ?)")
        .bind(1, origin)
        .run();
    db_->prepare("DELETE FROM series WHERE origin = ?").bind(1, origin).run();
    std::unique_lock lock(mu_);
    tx.commit();
    if (const auto it = series_.find(origin); it != series_.end()) {
      removed = it->second.size();
      for (const auto& [device, s] : it->second) {
        tail_samples_ -= s->tail.size();
        forget_known(*s);
      }
      series_.erase(it);
      std::lock_guard ll(latest_mu_);
      latest_.erase(origin);
    }
  });
  return removed;
}

// ---- writes ---------------------------------------------------------------------------------

std::vector<SeriesKey> SqliteStore::list_series() const {
  std::vector<SeriesKey> out;
  std::shared_lock lock(mu_);
  for_each_series([&](const Series& s) { out.push_back({s.device, s.origin}); });
  return out;
}

bool SqliteStore::delete_before(std::string_view device, std::string_view origin, TimeUs before,
                                std::size_t expected) {
  bool done = false;
  run_on_writer([&] {
    Series* s = find_series(device, origin);
    if (!s) {
      done = expected == 0;
      return;
    }
    checkpoint();  // every record in blocks: the log holds nothing of the series
    Transaction tx(*db_, true);
    std::size_t removed = 0;
    auto whole =
        db_->prepare("SELECT coalesce(sum(n), 0) FROM blocks WHERE series_id = ? AND t1 < ?");
    whole.bind(1, s->id).bind(2, before);
    whole.step();
    removed += static_cast<std::size_t>(whole.int64(0));
    whole = Statement();
    db_->prepare(
           "DELETE FROM block_data WHERE id IN (SELECT id FROM blocks WHERE series_id = ? AND t1 "
           "< ?)")
        .bind(1, s->id)
        .bind(2, before)
        .run();
    db_->prepare("DELETE FROM blocks WHERE series_id = ? AND t1 < ?")
        .bind(1, s->id)
        .bind(2, before)
        .run();
    // A block holding both sides of `before` keeps its newer records.
    struct Cut {
      std::int64_t id;
      std::vector<Record> keep;
    };
    std::vector<Cut> cuts;
    auto straddling = db_->prepare(
        "SELECT b.id, d.payload FROM blocks b JOIN block_data d ON d.id = b.id "
        "WHERE b.series_id = ? AND b.t0 < ? AND b.t1 >= ?");
    straddling.bind(1, s->id).bind(2, before).bind(3, before);
    while (straddling.step()) {
      auto recs = decode_block(straddling.blob(1));
      if (!recs) throw std::runtime_error("corrupt block");
      Cut cut{straddling.int64(0), {}};
      for (const Record& r : *recs) {
        if (r.ts >= before) cut.keep.push_back(r);
      }
      removed += recs->size() - cut.keep.size();
      cuts.push_back(std::move(cut));
    }
    straddling = Statement();
    if (removed != expected) return;  // rolled back
    for (const auto& cut : cuts) {
      BlockStats stats;
      for (const Record& r : cut.keep) stats.add(r);
      const auto encoded_stats = encode_stats(stats);
      db_->prepare("UPDATE blocks SET t0 = ?, n = ?, stats = ? WHERE id = ?")
          .bind(1, std::min_element(cut.keep.begin(), cut.keep.end(), by_ts)->ts)
          .bind(2, static_cast<std::int64_t>(cut.keep.size()))
          .bind_blob(3, std::as_bytes(std::span(encoded_stats)))
          .bind(4, cut.id)
          .run();
      const auto payload = encode_block(cut.keep);
      db_->prepare("UPDATE block_data SET payload = ? WHERE id = ?")
          .bind_blob(1, payload)
          .bind(2, cut.id)
          .run();
    }
    std::unique_lock lock(mu_);
    tx.commit();
    forget_known(*s);
    std::erase_if(s->recent_flushed, [before](TimeUs t) { return t < before; });
    if (s->latest && s->latest->ts < before) {
      // Nothing newer is stored: the series is empty until its next sample.
      s->latest.reset();
      std::lock_guard ll(latest_mu_);
      if (const auto o = latest_.find(s->origin); o != latest_.end()) o->second.erase(s->device);
    }
    done = true;
  });
  return done;
}

bool SqliteStore::submit(std::string origin, std::vector<core::Sample> samples,
                         WriteCallback done) {
  return queue_.submit(std::move(origin), std::move(samples), std::move(done));
}

void SqliteStore::set_commit_listener(CommitListener listener) {
  run_on_writer([&] { listener_ = std::move(listener); });
}

void SqliteStore::flush() {
  run_on_writer([this] { checkpoint(); });
}

void SqliteStore::writer_loop() {
  while (auto group = queue_.next_group(std::chrono::seconds(1))) {
    if (!group->empty() && group->front().control) {
      group->front().control();
      continue;
    }
    if (!group->empty()) process_group(*group);
    if (db_->wal_frames() > kWalRestartFrames) {
      // The background checkpointer has copied most of the WAL; copying the rest here, between
      // writes, lets the next commit restart the WAL from its beginning so it stays bounded.
      try {
        db_->exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch (const std::exception& e) {
        note_error("wal_checkpoint", e);  // retried after the next group
      }
    }
    const bool due = std::chrono::steady_clock::now() - last_checkpoint_ > opt_.checkpoint_interval;
    if (tail_samples_ >= opt_.checkpoint_samples || (due && tail_samples_ > 0)) {
      try {
        checkpoint();
      } catch (const std::exception& e) {
        // The log still holds every record; the next checkpoint retries.
        note_error("checkpoint", e);
        last_checkpoint_ = std::chrono::steady_clock::now();
      }
    }
  }
  try {
    checkpoint();
  } catch (const std::exception& e) {
    // Shutting down: the log keeps the tails and is replayed at the next start.
    note_error("checkpoint", e);
  }
}

SqliteStore::Series* SqliteStore::find_series(std::string_view device,
                                              std::string_view origin) const {
  const auto o = series_.find(origin);
  if (o == series_.end()) return nullptr;
  const auto it = o->second.find(device);
  return it == o->second.end() ? nullptr : it->second.get();
}

std::unique_ptr<SqliteStore::Series> SqliteStore::insert_series(const std::string& device,
                                                                const std::string& origin) {
  auto st = db_->prepare("INSERT INTO series(device, origin) VALUES(?, ?)");
  st.bind(1, device).bind(2, origin).run();
  auto s = std::make_unique<Series>();
  s->id = db_->last_insert_rowid();
  s->device = device;
  s->origin = origin;
  return s;
}

bool SqliteStore::is_duplicate(Series& s, TimeUs ts) {
  if (ts > s.max_ts()) return false;  // the common case: data arrives in time order
  if (std::binary_search(s.tail.begin(), s.tail.end(), Record{ts, {}}, by_ts)) return true;
  if (!s.staged.empty() && ts <= s.staged_max) {
    if (!s.staged_indexed) {
      for (const Record& r : s.staged) s.staged_index.insert(r.ts);
      s.staged_indexed = true;
    }
    if (s.staged_index.count(ts)) return true;
  }
  if (ts > s.flushed_max) return false;
  if (ts > s.recent_after) {
    return std::binary_search(s.recent_flushed.begin(), s.recent_flushed.end(), ts);
  }
  return std::binary_search(s.in_blocks.begin(), s.in_blocks.end(), ts);
}

void SqliteStore::forget_known(Series& s) {
  known_total_ -= s.known_ts.size();
  s.known_ts.clear();
  s.known_ts.shrink_to_fit();
  s.known_lo = 0;
  s.known_hi = -1;
}

std::vector<SqliteStore::Series*> SqliteStore::find_in_blocks(
    const std::deque<WriteQueue::Job>& jobs, const std::vector<Series*>& targets) {
  std::unordered_map<Series*, std::vector<TimeUs>> wanted;
  std::size_t k = 0;
  for (const WriteQueue::Job& job : jobs) {
    for (const auto& sample : job.samples) {
      Series* s = targets[k++];
      if (sample.ts <= s->flushed_max && sample.ts <= s->recent_after) {
        wanted[s].push_back(sample.ts);
      }
    }
  }
  Statement st;  // prepared on first need, reused for every series
  for (auto& [s, ts] : wanted) {
    std::sort(ts.begin(), ts.end());
    ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
    if (ts.front() < s->known_lo || ts.back() > s->known_hi) {
      // Read every block of the aligned windows the timestamps fall in (blocks never cross a
      // window, so that is every block timestamp there).
      const TimeUs lo = bucket_start(ts.front(), opt_.block_window);
      const TimeUs hi = bucket_start(ts.back(), opt_.block_window) + opt_.block_window - 1;
      forget_known(*s);
      if (!st) {
        st = db_->prepare(
            "SELECT d.payload FROM blocks b JOIN block_data d ON d.id = b.id "
            "WHERE b.series_id = ? AND b.t1 >= ? AND b.t0 <= ?");
      }
      st.reset();
      st.bind(1, s->id).bind(2, lo).bind(3, hi);
      while (st.step()) {
        const auto times = decode_block_times(st.blob(0));
        if (!times) throw std::runtime_error("corrupt block");
        s->known_ts.insert(s->known_ts.end(), times->begin(), times->end());
      }
      std::sort(s->known_ts.begin(), s->known_ts.end());
      s->known_lo = lo;
      s->known_hi = hi;
      known_total_ += s->known_ts.size();
    }
    std::set_intersection(ts.begin(), ts.end(), s->known_ts.begin(), s->known_ts.end(),
                          std::back_inserter(s->in_blocks));
    // Kept for the next group while the store-wide budget allows.
    if (s->known_ts.size() > kMaxKnownPerSeries || known_total_ > kMaxKnownTotal) forget_known(*s);
  }
  std::vector<Series*> probed;
  for (const auto& [s, ts] : wanted) probed.push_back(s);
  return probed;
}

void SqliteStore::process_group(std::deque<WriteQueue::Job>& jobs) {
  std::vector<WriteResult> results(jobs.size());
  std::vector<Series*> touched, probed;
  // Reused across groups: large per-group allocations would page-fault on every commit.
  std::vector<LogEntry>& entries = log_buffer_;
  std::vector<Series*>& targets = target_buffer_;  // the series of every sample, in order
  entries.clear();
  targets.clear();
  std::size_t total = 0;
  for (const WriteQueue::Job& job : jobs) total += job.samples.size();
  targets.reserve(total);
  try {
    bool missing = false;
    for (const WriteQueue::Job& job : jobs) {
      for (const auto& sample : job.samples) {
        targets.push_back(find_series(sample.device, job.origin));
        missing = missing || !targets.back();
      }
    }
    if (missing) {
      // New series get their ids in their own small transaction and enter the in-memory map
      // only once it is committed: a failed commit (a full disk) rolls the ids back, and a
      // series published before would share its id with the next new one.
      std::map<std::pair<std::string, std::string>, std::unique_ptr<Series>> fresh;
      Transaction tx(*db_, true);
      std::size_t k = 0;
      for (const WriteQueue::Job& job : jobs) {
        for (const auto& sample : job.samples) {
          if (!targets[k]) {
            auto& slot = fresh[{job.origin, sample.device}];
            if (!slot) slot = insert_series(sample.device, job.origin);
            targets[k] = slot.get();
          }
          ++k;
        }
      }
      tx.commit();
      std::unique_lock lock(mu_);
      for (auto& [key, series] : fresh) series_[key.first][key.second] = std::move(series);
    }
    probed = find_in_blocks(jobs, targets);
    std::unique_ptr<obs::ScopedTimer> timer;
    if (metrics_) timer = std::make_unique<obs::ScopedTimer>(metrics_->commit);
    Transaction tx(*db_, true);
    entries.reserve(total);
    std::size_t k = 0;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      for (const auto& sample : jobs[j].samples) {
        Series& s = *targets[k++];
        if (is_duplicate(s, sample.ts)) {
          ++results[j].duplicates;
          continue;
        }
        if (s.staged.empty()) touched.push_back(&s);
        s.staged.push_back(Record{sample.ts, sample.values});
        s.staged_max = std::max(s.staged_max, sample.ts);
        if (s.staged_indexed) s.staged_index.insert(sample.ts);
        entries.push_back(LogEntry{s.id, sample.ts, sample.values});
        ++results[j].accepted;
      }
    }
    std::int64_t log_id = last_log_id_;
    if (!entries.empty()) {
      auto st = db_->prepare("INSERT INTO log(payload) VALUES(?)");
      st.bind_blob(1, std::as_bytes(std::span(entries))).run();
      log_id = db_->last_insert_rowid();
    }
    tx.commit();
    last_log_id_ = log_id;
    std::lock_guard lock(health_mu_);
    write_error_.clear();
    full_ = false;
  } catch (const std::exception& e) {
    for (Series* s : touched) s->clear_staged();
    for (Series* s : probed) s->in_blocks.clear();
    const bool full = is_disk_full(e);
    note_error("commit", e);
    {
      std::lock_guard lock(health_mu_);
      write_error_ = full ? "the disk is full" : e.what();
      full_ = full;
    }
    for (auto& r : results) r = WriteResult{false, e.what(), full, 0, 0};
    queue_.finished(jobs);
    for (std::size_t j = 0; j < jobs.size(); ++j) jobs[j].done(results[j]);
    return;
  }

  for (Series* s : touched) std::sort(s->staged.begin(), s->staged.end(), by_ts);
  {
    std::unique_lock lock(mu_);
    for (Series* s : touched) {
      const auto old_size = static_cast<std::ptrdiff_t>(s->tail.size());
      const bool in_order = s->tail.empty() || s->staged.front().ts > s->tail.back().ts;
      s->tail.insert(s->tail.end(), s->staged.begin(), s->staged.end());
      if (!in_order)
        std::inplace_merge(s->tail.begin(), s->tail.begin() + old_size, s->tail.end(), by_ts);
      tail_samples_ += s->staged.size();
      if (!s->latest || s->tail.back().ts > s->latest->ts) s->latest = s->tail.back();
    }
  }
  {
    // Readers of the newest values (the live snapshot, /api/grid/latest) take only this lock,
    // never held across a COMMIT or a checkpoint.
    std::lock_guard lock(latest_mu_);
    for (Series* s : touched) latest_[s->origin][s->device] = *s->latest;
  }
  if (metrics_) metrics_->samples_written.inc(entries.size());
  queue_.finished(jobs);
  for (std::size_t j = 0; j < jobs.size(); ++j) jobs[j].done(results[j]);
  if (listener_ && !touched.empty()) {
    std::vector<CommittedSeries> committed;
    committed.reserve(touched.size());
    for (Series* s : touched) committed.push_back({s->device, s->origin, s->staged});
    listener_(committed);
  }
  for (Series* s : touched) s->clear_staged();
  for (Series* s : probed) s->in_blocks.clear();
}

std::vector<Record> SqliteStore::load_blocks(Database& db, std::int64_t series_id, TimeUs from,
                                             TimeUs to) {
  std::vector<Record> out;
  auto st = db.prepare(
      "SELECT d.payload FROM blocks b JOIN block_data d ON d.id = b.id "
      "WHERE b.series_id = ? AND b.t1 >= ? AND b.t0 < ?");
  st.bind(1, series_id).bind(2, from).bind(3, to);
  while (st.step()) {
    auto recs = decode_block(st.blob(0));
    if (!recs) throw std::runtime_error("corrupt block");
    for (const Record& r : *recs) {
      if (r.ts >= from && r.ts < to) out.push_back(r);
    }
  }
  return out;
}

void SqliteStore::checkpoint() {
  last_checkpoint_ = std::chrono::steady_clock::now();
  std::unique_ptr<obs::ScopedTimer> timer;
  if (metrics_) timer = std::make_unique<obs::ScopedTimer>(metrics_->checkpoint);
  Transaction tx(*db_, true);
  auto ins_block =
      db_->prepare("INSERT INTO blocks(series_id, t0, t1, n, stats) VALUES(?,?,?,?,?)");
  auto ins_data = db_->prepare("INSERT INTO block_data(id, payload) VALUES(?, ?)");
  std::vector<Series*> flushed;
  for_each_series([&](Series& s) {
    if (s.tail.empty()) return;
    std::size_t begin = 0;
    while (begin < s.tail.size()) {
      // Blocks never cross an aligned window. Late data makes a block that overlaps older ones
      // in time; queries allow for that, so compaction never rewrites stored blocks.
      const TimeUs window = bucket_start(s.tail[begin].ts, opt_.block_window);
      std::size_t end = begin + 1;
      while (end < s.tail.size() && bucket_start(s.tail[end].ts, opt_.block_window) == window) {
        ++end;
      }
      const std::span<const Record> group(s.tail.data() + begin, end - begin);
      for (std::size_t c = 0; c < group.size(); c += opt_.max_block_records) {
        const auto chunk = group.subspan(c, std::min(opt_.max_block_records, group.size() - c));
        BlockStats stats;
        for (const Record& r : chunk) stats.add(r);
        const auto encoded_stats = encode_stats(stats);
        ins_block.bind(1, s.id).bind(2, chunk.front().ts).bind(3, chunk.back().ts);
        ins_block.bind(4, static_cast<std::int64_t>(chunk.size()));
        ins_block.bind_blob(5, std::as_bytes(std::span(encoded_stats))).run();
        const auto payload = encode_block(chunk);
        ins_data.bind(1, db_->last_insert_rowid()).bind_blob(2, payload).run();
      }
      begin = end;
    }
    flushed.push_back(&s);
  });
  db_->prepare("DELETE FROM log WHERE id <= ?").bind(1, last_log_id_).run();
  std::unique_lock lock(mu_);
  tx.commit();
  for (Series* s : flushed) {
    forget_known(*s);  // its new blocks may fall in the known windows
    s->recent_after = s->flushed_max;
    s->recent_flushed.clear();
    for (const Record& r : s->tail) {
      if (r.ts > s->recent_after) s->recent_flushed.push_back(r.ts);
    }
    s->flushed_max = std::max(s->flushed_max, s->tail.back().ts);
    s->tail.clear();
    s->tail.shrink_to_fit();
  }
  tail_samples_ = 0;
}

// ---- reads ----------------------------------------------------------------------------------

SqliteStore::ReaderLease SqliteStore::reader() const {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      auto db = std::move(readers_.back());
      readers_.pop_back();
      return ReaderLease(*this, std::move(db));
    }
  }
  auto db = std::make_unique<Database>(opt_.path);
  db->exec("PRAGMA cache_size=-8000");
  return ReaderLease(*this, std::move(db));
}

std::optional<StoredSample> SqliteStore::latest(std::string_view device,
                                                std::string_view origin) const {
  std::lock_guard lock(latest_mu_);
  const auto o = latest_.find(origin);
  if (o == latest_.end()) return std::nullopt;
  const auto it = o->second.find(device);
  if (it == o->second.end()) return std::nullopt;
  return StoredSample{it->first, o->first, it->second};
}

std::vector<StoredSample> SqliteStore::latest_all(std::string_view origin) const {
  std::vector<StoredSample> out;
  std::lock_guard lock(latest_mu_);
  if (const auto o = latest_.find(origin); o != latest_.end()) {
    for (const auto& [device, r] : o->second) out.push_back({device, o->first, r});
  }
  std::sort(out.begin(), out.end(),
            [](const StoredSample& a, const StoredSample& b) { return a.device < b.device; });
  return out;
}

std::optional<std::int64_t> SqliteStore::begin_read(
    Database& db, std::string_view device, std::string_view origin,
    const std::function<void(const Series&)>& copy) const {
  // The snapshot opens (on the first read) and the tail is copied under one shared lock; a
  // checkpoint commits under the exclusive lock, so a reader sees it wholly or not at all.
  std::shared_lock lock(mu_);
  db.prepare("SELECT id FROM blocks LIMIT 1").step();
  const Series* s = find_series(device, origin);
  if (!s) return std::nullopt;
  copy(*s);
  return s->id;
}

DataPage SqliteStore::query(const DataQuery& q) const {
  auto lease = reader();
  Database& db = lease.db();
  Transaction tx(db);
  std::vector<Record> tail;
  const auto series_id = begin_read(db, q.device, q.origin, [&](const Series& s) {
    auto lo = std::lower_bound(s.tail.begin(), s.tail.end(), Record{q.from, {}}, by_ts);
    auto hi = std::lower_bound(s.tail.begin(), s.tail.end(), Record{q.to, {}}, by_ts);
    // Only the first limit+1 in the requested order can be part of the answer.
    const auto keep = static_cast<std::ptrdiff_t>(q.limit + 1);
    if (hi - lo > keep) (q.ascending ? hi = lo + keep : lo = hi - keep);
    tail.assign(lo, hi);
  });
  if (!series_id) return {};
  // Blocks may overlap in time (late data), so read them in order of their bound in the query's
  // direction and stop once no further block can hold one of the first limit+1 records.
  auto st = db.prepare(q.ascending ? "SELECT id, t0, t1 FROM blocks WHERE series_id = ? AND "
                                     "t1 >= ? AND t0 < ? ORDER BY t0 ASC"
                                   : "SELECT id, t0, t1 FROM blocks WHERE series_id = ? AND "
                                     "t1 >= ? AND t0 < ? ORDER BY t1 DESC");
  auto payload = db.prepare("SELECT payload FROM block_data WHERE id = ?");
  st.bind(1, *series_id).bind(2, q.from).bind(3, q.to);
  const auto before = [&q](const Record& a, const Record& b) {
    return q.ascending ? a.ts < b.ts : a.ts > b.ts;
  };
  std::vector<Record> out;
  while (st.step()) {
    if (out.size() > q.limit) {
      std::nth_element(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(q.limit), out.end(),
                       before);
      out.resize(q.limit + 1);
      const TimeUs cutoff = out.back().ts;
      const TimeUs edge = q.ascending ? st.int64(1) : st.int64(2);
      if (q.ascending ? edge > cutoff : edge < cutoff) break;
    }
    payload.bind(1, st.int64(0));
    if (payload.step()) {
      auto recs = decode_block(payload.blob(0));
      if (!recs) throw std::runtime_error("corrupt block");
      for (const Record& r : *recs) {
        if (r.ts >= q.from && r.ts < q.to) out.push_back(r);
      }
    }
    payload.reset();
  }
  out.insert(out.end(), tail.begin(), tail.end());
  if (q.ascending) {
    std::sort(out.begin(), out.end(), by_ts);
  } else {
    std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) { return a.ts > b.ts; });
  }
  DataPage page;
  page.more = out.size() > q.limit;
  if (page.more) out.resize(q.limit);
  page.records = std::move(out);
  return page;
}

std::vector<SeriesPoint> SqliteStore::series(const SeriesQuery& q) const {
  auto lease = reader();
  Database& db = lease.db();
  Transaction tx(db);
  std::map<TimeUs, std::vector<FieldStats>> buckets;
  auto add_record = [&](const Record& r) {
    if (r.ts < q.from || r.ts >= q.to) return;
    auto& b = buckets[bucket_start(r.ts, q.step)];
    if (b.empty()) b.resize(q.fields.size());
    const auto all = core::all_fields(r.values);
    for (std::size_t k = 0; k < q.fields.size(); ++k) b[k].add(all[q.fields[k]], r.ts);
  };
  const auto series_id = begin_read(db, q.device, q.origin, [&](const Series& s) {
    for (const Record& r : s.tail) add_record(r);
  });
  if (!series_id) return {};
  auto st = db.prepare(
      "SELECT id, t0, t1, stats FROM blocks WHERE series_id = ? AND t1 >= ? AND t0 < ? "
      "ORDER BY t1");
  auto payload = db.prepare("SELECT payload FROM block_data WHERE id = ?");
  st.bind(1, *series_id).bind(2, q.from).bind(3, q.to);
  while (st.step()) {
    const TimeUs t0 = st.int64(1), t1 = st.int64(2);
    const TimeUs b0 = bucket_start(t0, q.step);
    if (t0 >= q.from && t1 < q.to && b0 == bucket_start(t1, q.step)) {
      auto stats = decode_stats(st.blob(3));
      if (!stats) throw std::runtime_error("corrupt block statistics");
      auto& b = buckets[b0];
      if (b.empty()) b.resize(q.fields.size());
      for (std::size_t k = 0; k < q.fields.size(); ++k) b[k].merge(stats->fields[q.fields[k]]);
      continue;
    }
    payload.bind(1, st.int64(0));
    if (payload.step()) {
      auto recs = decode_block(payload.blob(0));
      if (!recs) throw std::runtime_error("corrupt block");
      for (const Record& r : *recs) add_record(r);
    }
    payload.reset();
  }
  std::vector<SeriesPoint> out;
  out.reserve(buckets.size());
  for (const auto& [ts, stats] : buckets) {
    SeriesPoint p{ts, std::vector<double>(stats.size())};
    bool any = false;
    for (std::size_t k = 0; k < stats.size(); ++k) {
      p.values[k] = stats[k].value(q.agg);
      any = any || stats[k].n > 0;
    }
    if (any) out.push_back(std::move(p));
  }
  return out;
}

StoreStats SqliteStore::stats() const {
  StoreStats s;
  s.queued_samples = queue_.queued_samples();
  s.queue_wait_s = queue_.wait_s();
  {
    std::lock_guard lock(health_mu_);
    s.write_error = write_error_;
    s.full = full_;
  }
  s.tail_samples = tail_samples_.load(std::memory_order_relaxed);
  std::lock_guard lock(latest_mu_);
  for (const auto& [origin, by_device] : latest_) s.series += by_device.size();
  return s;
}

std::string SqliteStore::check_database() const {
  try {
    auto lease = reader();
    auto st = lease.db().prepare("SELECT count(*) FROM (SELECT 1 FROM series LIMIT 1)");
    st.step();
    return "ok";
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace remhart::store
