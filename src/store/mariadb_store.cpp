#include "store/mariadb_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <unordered_set>

#include "core/error.hpp"
#include "obs/metrics.hpp"
#include "store/mariadb.hpp"
#include "store/store_support.hpp"

namespace remhart::store {

using core::Record;
using core::TimeUs;

namespace {

constexpr const char* kComponent = "measurements";
constexpr const char* kPartitionLock = "remhart.partitions";

// The stored value columns, in core::Values order (the first 20 field names).
std::string value_columns(std::string_view prefix = "") {
  std::string out;
  for (std::size_t k = 0; k < core::kValueCount; ++k) {
    if (k) out += ", ";
    out += prefix;
    out += core::kFieldNames[k];
  }
  return out;
}

// Each step is a list of statements (the connection runs one statement per call). DDL commits
// on its own in MariaDB, so a step that fails half-way is finished by hand or rerun: every
// statement of a step may run again without harm (IF NOT EXISTS).
std::vector<std::vector<std::string>> migrations() {
  std::string measurements =
      "CREATE TABLE IF NOT EXISTS measurements(series_id BIGINT NOT NULL, ts BIGINT NOT NULL";
  for (std::size_t k = 0; k < core::kValueCount; ++k) {
    measurements += fmt::format(", {} DOUBLE NULL", core::kFieldNames[k]);
  }
  // One partition to begin with; maintain_partitions splits it into months at once.
  measurements +=
      ", PRIMARY KEY(series_id, ts)) ENGINE=InnoDB "
      "PARTITION BY RANGE (ts) (PARTITION p_future VALUES LESS THAN MAXVALUE)";
  return {{
      "CREATE TABLE IF NOT EXISTS devices(id VARCHAR(64) NOT NULL PRIMARY KEY, name TEXT NOT "
      "NULL, kind TEXT NOT NULL, nominal_voltage DOUBLE NOT NULL, rated_current DOUBLE NOT NULL, "
      "nominal_frequency DOUBLE NOT NULL, element TEXT NOT NULL, site TEXT NOT NULL, lat DOUBLE "
      "NULL, lon DOUBLE NULL, tags TEXT NOT NULL, accuracy_class DOUBLE NOT NULL DEFAULT 1) "
      "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
      "CREATE TABLE IF NOT EXISTS series(id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, device "
      "VARCHAR(64) NOT NULL, origin VARCHAR(255) NOT NULL, UNIQUE KEY series_key(device, "
      "origin)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
      measurements,
  }};
}

// Start of a month, UTC microseconds.
TimeUs month_start(std::chrono::year_month ym) {
  using namespace std::chrono;
  return duration_cast<microseconds>(sys_days{ym / 1}.time_since_epoch()).count();
}

std::chrono::year_month month_of(TimeUs t) {
  using namespace std::chrono;
  const year_month_day d{floor<days>(sys_time<microseconds>(microseconds(t)))};
  return d.year() / d.month();
}

Record record_of(const maria::Row& r, std::size_t first) {
  Record rec;
  rec.ts = r.int64(first);
  double* v = core::as_array(rec.values);
  for (std::size_t k = 0; k < core::kValueCount; ++k) {
    v[k] = r.is_null(first + 1 + k) ? core::kAbsent : r.real(first + 1 + k);
  }
  return rec;
}

std::string unreachable_message(const std::exception& e) {
  return std::string("the database is unreachable: ") + e.what();
}

}  // namespace

MariadbStore::MariadbStore(MariadbOptions options, obs::Registry* metrics)
    : opt_(std::move(options)),
      devices_(std::make_shared<DeviceMap>()),
      queue_(opt_.max_queued_samples, opt_.group_samples) {
  if (metrics) metrics_ = std::make_unique<StoreMetrics>(*metrics);
  conn_opt_ = std::make_unique<maria::ConnectionOptions>(maria::parse_url(opt_.url));
  const auto deadline = std::chrono::steady_clock::now() + opt_.startup_wait;
  for (int attempt = 0;; ++attempt) {
    try {
      writer_db_ = std::make_unique<maria::Connection>(*conn_opt_);
      break;
    } catch (const maria::Error& e) {
      if (!e.connection_lost() || std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error(fmt::format("cannot connect to the database at {}: {}",
                                             maria::redacted_url(opt_.url), e.what()));
      }
      if (attempt == 0) spdlog::warn("database not answering yet ({}); waiting", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  maria::apply_migrations(*writer_db_, kComponent, migrations());
  maintain_partitions(core::now_us());
  next_maintenance_ = std::chrono::steady_clock::now() + std::chrono::hours(1);
  load_devices(*writer_db_);
  load_newest(*writer_db_);
  maria::Pool::Options po;
  po.connection = *conn_opt_;
  po.min = opt_.pool_min;
  po.max = opt_.pool_max;
  pool_ = std::make_unique<maria::Pool>(po);
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rh-mdb-writer");
    writer_loop();
  });
  // The latest-value cache is read again on a reader connection, never holding the writer up.
  refresher_ = std::make_unique<core::Periodic>(
      "rh-mdb-latest", opt_.device_reload,
      [this] { pool_->with([this](maria::Connection& c) { load_newest(c); }); },
      [this](const std::string& what) {
        report_error(metrics_.get(), "latest values", std::runtime_error(what));
      });
  if (metrics) {
    races_ = &metrics->counter(
        "remhart_store_write_races_total",
        "Group commits rolled back because another replica stored some of the same samples");
    metrics->gauge_fn("remhart_store_queued_samples", "Samples waiting for a group commit",
                      [this] { return static_cast<double>(stats().queued_samples); });
    metrics->gauge_fn("remhart_db_pool_in_use", "Database connections in use by readers",
                      [this] { return static_cast<double>(pool_->in_use()); });
    metrics->gauge_fn("remhart_db_pool_max", "Most database connections readers may use",
                      [this] { return static_cast<double>(pool_->max()); });
    metrics->gauge_fn("remhart_db_up", "1 while the database answers, 0 while it is unreachable",
                      [this] { return stats().unreachable ? 0.0 : 1.0; });
  }
}

MariadbStore::~MariadbStore() {
  refresher_.reset();
  queue_.stop();
  if (writer_.joinable()) writer_.join();
}

// ---- partitions ----

std::vector<std::string> MariadbStore::partitions() const {
  return pool_->with([](maria::Connection& c) {
    std::vector<std::string> out;
    for (const auto& r : c.query(
             "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = "
             "DATABASE() AND TABLE_NAME = 'measurements' ORDER BY PARTITION_ORDINAL_POSITION")) {
      out.push_back(r.text(0));
    }
    return out;
  });
}

int MariadbStore::maintain_partitions(TimeUs now) {
  auto& c = writer_connection();
  maria::NamedLock lock(c, kPartitionLock, 60);
  // The upper bound of the newest month partition (p_future, the catch-all, has none).
  TimeUs covered = std::numeric_limits<TimeUs>::min();
  for (const auto& r : c.query(
           "SELECT PARTITION_DESCRIPTION FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = "
           "DATABASE() AND TABLE_NAME = 'measurements' AND PARTITION_NAME <> 'p_future'")) {
    covered = std::max<TimeUs>(covered, std::stoll(r.text(0)));
  }
  const auto first = month_of(now);
  std::string parts;
  int created = 0;
  if (covered == std::numeric_limits<TimeUs>::min()) {
    // Everything before this month (late data, imports, simulated history) in one partition.
    parts += fmt::format("PARTITION p_old VALUES LESS THAN ({}), ", month_start(first));
    covered = month_start(first);
  }
  for (int k = 0; k <= opt_.partition_months_ahead; ++k) {
    const auto ym = first + std::chrono::months(k);
    const auto end = month_start(ym + std::chrono::months(1));
    if (end <= covered) continue;
    parts += fmt::format("PARTITION p{:04d}{:02d} VALUES LESS THAN ({}), ",
                         static_cast<int>(ym.year()), static_cast<unsigned>(ym.month()), end);
    covered = end;
    ++created;
  }
  if (parts.empty()) return 0;
  c.exec("ALTER TABLE measurements REORGANIZE PARTITION p_future INTO (" + parts +
         "PARTITION p_future VALUES LESS THAN MAXVALUE)");
  spdlog::info("database: {} month partition(s) added to measurements", created);
  return created;
}

// ---- devices ----

void MariadbStore::load_devices(maria::Connection& c) {
  auto devices = std::make_shared<DeviceMap>();
  last_devices_load_ = std::chrono::steady_clock::now();
  maria::Statement st(c,
                      "SELECT id, name, kind, nominal_voltage, rated_current, nominal_frequency, "
                      "element, site, lat, lon, tags, accuracy_class FROM devices");
  st.query({}, [&](const maria::Row& r) {
    core::Device d;
    d.id = r.text(0);
    d.name = r.text(1);
    d.kind = r.text(2);
    d.nominal_voltage = r.real(3);
    d.rated_current = r.real(4);
    d.nominal_frequency = r.real(5);
    d.element = r.text(6);
    d.site = r.text(7);
    if (!r.is_null(8)) d.lat = r.real(8);
    if (!r.is_null(9)) d.lon = r.real(9);
    d.tags = split_tags(r.text(10));
    d.accuracy_class = r.real(11);
    (*devices)[d.id] = std::move(d);
  });
  // A device another replica deleted took its series rows along: forget their ids, or this
  // replica's next samples of a re-created device would go to an id no series has any more.
  {
    std::lock_guard lock(series_mu_);
    std::erase_if(series_, [&](const auto& e) { return !devices->count(e.first.second); });
  }
  std::lock_guard lock(devices_mu_);
  if (*devices != *devices_) devices_ = std::move(devices);  // readers keep an unchanged snapshot
}

std::shared_ptr<const DeviceMap> MariadbStore::devices() const {
  std::lock_guard lock(devices_mu_);
  return devices_;
}

void MariadbStore::save_device(const core::Device& d, bool create) {
  run_on_writer([&] {
    auto& c = writer_connection();
    load_devices(c);  // another replica may have changed them
    const bool exists = devices()->count(d.id) > 0;
    if (create && exists) {
      throw core::Error(core::ErrorKind::conflict, "device '" + d.id + "' already exists", "id");
    }
    if (!create && !exists) {
      throw core::Error(core::ErrorKind::not_found, "device '" + d.id + "' not found");
    }
    maria::Statement st(c,
                        "REPLACE INTO devices(id, name, kind, nominal_voltage, rated_current, "
                        "nominal_frequency, element, site, lat, lon, tags, accuracy_class) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
    st.execute({d.id, d.name, d.kind, d.nominal_voltage, d.rated_current, d.nominal_frequency,
                d.element, d.site, d.lat ? maria::Value(*d.lat) : maria::Value(),
                d.lon ? maria::Value(*d.lon) : maria::Value(), join_tags(d.tags),
                d.accuracy_class});
    auto next = std::make_shared<DeviceMap>(*devices());
    (*next)[d.id] = d;
    std::lock_guard lock(devices_mu_);
    devices_ = std::move(next);
  });
}

void MariadbStore::create_device(const core::Device& d) {
  save_device(d, true);
}
void MariadbStore::update_device(const core::Device& d) {
  save_device(d, false);
}

namespace {
// Deletes a series' samples in bounded transactions (a big series never holds one huge lock
// set), then the series row.
void delete_series(maria::Connection& c, std::int64_t id) {
  maria::Statement del(c, "DELETE FROM measurements WHERE series_id = ? LIMIT 50000");
  while (del.execute({id}) > 0) {
  }
  maria::Statement(c, "DELETE FROM series WHERE id = ?").execute({id});
}
}  // namespace

void MariadbStore::delete_device(std::string_view id_view) {
  const std::string id(id_view);
  run_on_writer([&] {
    auto& c = writer_connection();
    load_devices(c);
    if (!devices()->count(id)) {
      throw core::Error(core::ErrorKind::not_found, "device '" + id + "' not found");
    }
    for (const auto& r : maria::Statement(c, "SELECT id FROM series WHERE device = ?").rows({id})) {
      delete_series(c, r.int64(0));
    }
    maria::Statement(c, "DELETE FROM devices WHERE id = ?").execute({id});
    {
      std::lock_guard lock(series_mu_);
      std::erase_if(series_, [&](const auto& e) { return e.first.second == id; });
    }
    {
      std::lock_guard lock(newest_mu_);
      std::erase_if(newest_, [&](const auto& e) { return e.first.second == id; });
    }
    auto next = std::make_shared<DeviceMap>(*devices());
    next->erase(id);
    std::lock_guard lock(devices_mu_);
    devices_ = std::move(next);
  });
}

std::size_t MariadbStore::delete_origin(std::string_view origin_view) {
  const std::string origin(origin_view);
  std::size_t n = 0;
  run_on_writer([&] {
    auto& c = writer_connection();
    for (const auto& r :
         maria::Statement(c, "SELECT id FROM series WHERE origin = ?").rows({origin})) {
      delete_series(c, r.int64(0));
      ++n;
    }
    {
      std::lock_guard lock(series_mu_);
      std::erase_if(series_, [&](const auto& e) { return e.first.first == origin; });
    }
    std::lock_guard lock(newest_mu_);
    std::erase_if(newest_, [&](const auto& e) { return e.first.first == origin; });
  });
  return n;
}

std::vector<SeriesKey> MariadbStore::list_series() const {
  return pool_->with([](maria::Connection& c) {
    std::vector<SeriesKey> out;
    for (const auto& r : c.query("SELECT device, origin FROM series ORDER BY origin, device")) {
      out.push_back({r.text(0), r.text(1)});
    }
    return out;
  });
}

bool MariadbStore::delete_before(std::string_view device, std::string_view origin, TimeUs before,
                                 std::size_t expected) {
  const auto id = find_series_id(device, origin);
  if (!id) return expected == 0;
  bool done = false;
  run_on_writer([&] {
    auto& c = writer_connection();
    maria::Transaction tx(c);
    const auto removed =
        maria::Statement(c, "DELETE FROM measurements WHERE series_id = ? AND ts < ?")
            .execute({*id, before});
    if (removed != expected) return;  // rolled back
    tx.commit();
    done = true;
    std::lock_guard lock(newest_mu_);
    const auto it = newest_.find(std::pair{std::string(origin), std::string(device)});
    if (it != newest_.end() && it->second.ts < before) newest_.erase(it);
  });
  return done;
}

// ---- writing ----

bool MariadbStore::submit(std::string origin, std::vector<core::Sample> samples,
                          WriteCallback done) {
  return queue_.submit(std::move(origin), std::move(samples), std::move(done));
}

void MariadbStore::run_on_writer(std::function<void()> fn) {
  queue_.run_on_writer([&] {
    try {
      fn();
    } catch (const maria::Error& e) {
      if (!e.connection_lost()) throw;
      throw core::Error(core::ErrorKind::unavailable, unreachable_message(e), "", 5);
    }
  });
}

void MariadbStore::set_commit_listener(CommitListener listener) {
  run_on_writer([&] { listener_ = std::move(listener); });
}

void MariadbStore::flush() {
  run_on_writer([] {});
}

maria::Connection& MariadbStore::writer_connection() {
  if (writer_db_ && !writer_db_->broken()) return *writer_db_;
  writer_db_.reset();
  const auto now = std::chrono::steady_clock::now();
  if (now < next_connect_) {
    throw maria::Error(2003, "mariadb: not reconnected yet (waiting after a failed attempt)");
  }
  try {
    writer_db_ = std::make_unique<maria::Connection>(*conn_opt_);
  } catch (const maria::Error&) {
    next_connect_ = now + connect_backoff_;
    connect_backoff_ =
        std::min<std::chrono::milliseconds>(connect_backoff_ * 2, std::chrono::seconds(5));
    throw;
  }
  connect_backoff_ = std::chrono::milliseconds(250);
  spdlog::info("database: the writer is connected again");
  return *writer_db_;
}

void MariadbStore::set_health(std::string error, bool full, bool unreachable) {
  std::lock_guard lock(health_mu_);
  write_error_ = std::move(error);
  full_ = full;
  unreachable_ = unreachable;
}

void MariadbStore::writer_loop() {
  auto last_activity = std::chrono::steady_clock::now();
  while (auto next = queue_.next_group(std::chrono::seconds(1))) {
    auto& group = *next;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_devices_load_ >= opt_.device_reload) {
      // Devices another replica registered or changed (this one's own changes are at once).
      try {
        load_devices(writer_connection());
      } catch (const std::exception& e) {
        last_devices_load_ = now;
        report_error(metrics_.get(), "devices", e);
      }
    }
    if (!group.empty()) {
      last_activity = now;
      if (group.front().control) {
        group.front().control();
      } else {
        process_group(group);
      }
      continue;
    }
    // Idle: check the server answers (what /health and /ready report), keep partitions ready.
    if (now - last_activity < std::chrono::seconds(2)) continue;
    last_activity = now;
    try {
      auto& c = writer_connection();
      if (!c.alive()) throw maria::Error(2013, "mariadb: the server stopped answering");
      if (now >= next_maintenance_) {
        next_maintenance_ = now + std::chrono::hours(1);
        maintain_partitions(core::now_us());
      }
      bool was_unreachable;
      {
        std::lock_guard lock(health_mu_);
        was_unreachable = unreachable_;
      }
      if (was_unreachable) set_health({}, false, false);
    } catch (const maria::Error& e) {
      if (e.connection_lost()) set_health(unreachable_message(e), false, true);
      report_error(metrics_.get(), "maintenance", e);
    } catch (const std::exception& e) {
      report_error(metrics_.get(), "maintenance", e);
    }
  }
}

MariadbStore::SeriesInfo& MariadbStore::series_for(const std::string& device,
                                                   const std::string& origin) {
  {
    std::lock_guard lock(series_mu_);
    if (auto it = series_.find(std::pair{origin, device}); it != series_.end()) return it->second;
  }
  auto& c = writer_connection();
  // Autocommitted: a series row is only a name for an id, harmless if the samples fail.
  maria::Statement(c, "INSERT IGNORE INTO series(device, origin) VALUES(?, ?)")
      .execute({device, origin});
  const auto rows = maria::Statement(c, "SELECT id FROM series WHERE device = ? AND origin = ?")
                        .rows({device, origin});
  if (rows.empty()) throw std::runtime_error("series row vanished: " + device + "/" + origin);
  SeriesInfo info{rows[0].int64(0), std::numeric_limits<TimeUs>::min()};
  const auto newest =
      maria::Statement(c, "SELECT MAX(ts) FROM measurements WHERE series_id = ?").rows({info.id});
  if (!newest.empty() && !newest[0].is_null(0)) info.known_max = newest[0].int64(0);
  std::lock_guard lock(series_mu_);
  return series_.emplace(std::pair{origin, device}, info).first->second;
}

void MariadbStore::process_group(std::deque<WriteQueue::Job>& jobs) {
  std::vector<WriteResult> results(jobs.size());
  auto fail_all = [&](const std::string& error, bool full, bool unavailable) {
    set_health(error, full, unavailable);
    for (auto& r : results) {
      r = WriteResult{};
      r.ok = false;
      r.error = error;
      r.full = full;
      r.unavailable = unavailable;
    }
  };
  // A group that raced another writer (or a deadlock) is rolled back and tried again, checked
  // against the database.
  for (int attempt = 0;; ++attempt) {
    std::fill(results.begin(), results.end(), WriteResult{});
    try {
      if (write_group(jobs, results, attempt > 0)) {
        set_health({}, false, false);
        break;
      }
      if (attempt == 2) {
        fail_all("another writer kept storing the same samples; retry", false, true);
        break;
      }
    } catch (const maria::Error& e) {
      report_error(metrics_.get(), "commit", e);
      if (e.transient() && attempt < 2) continue;
      fail_all(e.connection_lost() ? unreachable_message(e) : e.what(), e.disk_full(),
               e.connection_lost());
      break;
    } catch (const std::exception& e) {
      report_error(metrics_.get(), "commit", e);
      fail_all(e.what(), false, false);
      break;
    }
  }
  queue_.finished(jobs);
  for (std::size_t j = 0; j < jobs.size(); ++j) jobs[j].done(results[j]);
}

// One attempt at storing a group in one transaction; false when another writer stored some of
// the same samples meanwhile (rolled back: nothing of the group is stored).
bool MariadbStore::write_group(std::deque<WriteQueue::Job>& jobs, std::vector<WriteResult>& results,
                               bool check_all) {
  auto& c = writer_connection();
  struct Staged {
    SeriesInfo* info;
    const std::string* device;
    const std::string* origin;
    std::vector<Record> records;
    TimeUs staged_max = std::numeric_limits<TimeUs>::min();
    std::unordered_set<TimeUs> seen;  // built when a sample arrives out of order
    TimeUs lo = std::numeric_limits<TimeUs>::max(), hi = std::numeric_limits<TimeUs>::min();
  };
  std::map<std::int64_t, Staged> staged;
  std::vector<Staged*> targets;  // per sample, in order
  for (const WriteQueue::Job& job : jobs) {
    for (const auto& s : job.samples) {
      auto& info = series_for(s.device, job.origin);
      auto& st = staged[info.id];
      if (!st.info) {
        st.info = &info;
        st.device = &s.device;
        st.origin = &job.origin;
      }
      // Only samples not newer than what this replica knows is stored need the database check.
      if (check_all || s.ts <= info.known_max) {
        st.lo = std::min(st.lo, s.ts);
        st.hi = std::max(st.hi, s.ts);
      }
      targets.push_back(&st);
    }
  }
  // Times already stored in the checked ranges (one query for up to 500 series).
  std::unordered_map<std::int64_t, std::unordered_set<TimeUs>> stored;
  {
    std::string where;
    int n = 0;
    auto run = [&] {
      if (where.empty()) return;
      for (const auto& r : c.query("SELECT series_id, ts FROM measurements WHERE " + where)) {
        stored[r.int64(0)].insert(r.int64(1));
      }
      where.clear();
      n = 0;
    };
    for (auto& [id, st] : staged) {
      if (st.lo > st.hi) continue;
      if (!where.empty()) where += " OR ";
      where += fmt::format("(series_id = {} AND ts BETWEEN {} AND {})", id, st.lo, st.hi);
      if (++n == 500) run();
    }
    run();
  }
  std::unique_ptr<obs::ScopedTimer> timer;
  if (metrics_) timer = std::make_unique<obs::ScopedTimer>(metrics_->commit);
  std::size_t k = 0;
  std::size_t fresh = 0;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    for (const auto& s : jobs[j].samples) {
      Staged& st = *targets[k++];
      bool dup = false;
      if (const auto it = stored.find(st.info->id); it != stored.end() && it->second.count(s.ts)) {
        dup = true;
      } else if (!st.records.empty() && s.ts <= st.staged_max) {
        if (st.seen.empty()) {
          for (const auto& r : st.records) st.seen.insert(r.ts);
        }
        dup = st.seen.count(s.ts) > 0;
      }
      if (dup) {
        ++results[j].duplicates;
        continue;
      }
      st.records.push_back(Record{s.ts, s.values});
      st.staged_max = std::max(st.staged_max, s.ts);
      if (!st.seen.empty()) st.seen.insert(s.ts);
      ++results[j].accepted;
      ++fresh;
    }
  }
  maria::Transaction tx(c);
  std::uint64_t inserted = 0;
  if (fresh > 0) {
    const std::size_t chunk = std::max<std::size_t>(1, opt_.insert_rows);
    std::vector<maria::Statement::Column> cols(2 + core::kValueCount);
    std::string placeholders;
    for (std::size_t v = 0; v < core::kValueCount; ++v) placeholders += ", ?";
    maria::Statement ins(c, "INSERT IGNORE INTO measurements(series_id, ts, " + value_columns() +
                                ") VALUES(?, ?" + placeholders + ")");
    std::size_t rows = 0;
    auto send = [&] {
      if (rows == 0) return;
      inserted += ins.execute_array(cols, rows);
      for (auto& col : cols) {
        col.ints.clear();
        col.reals.clear();
      }
      rows = 0;
    };
    for (auto& [id, st] : staged) {
      for (const auto& r : st.records) {
        cols[0].ints.push_back(id);
        cols[1].ints.push_back(r.ts);
        const double* v = core::as_array(r.values);
        for (std::size_t f = 0; f < core::kValueCount; ++f) cols[2 + f].reals.push_back(v[f]);
        if (++rows == chunk) send();
      }
    }
    send();
  }
  if (inserted != fresh) {
    if (races_) races_->inc();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_race_log_ >= std::chrono::seconds(10)) {
      last_race_log_ = now;
      spdlog::warn(
          "database: another writer stored {} of this group's samples meanwhile; checking again "
          "(logged at most every 10 s, counted in remhart_store_write_races_total)",
          fresh - inserted);
    }
    return false;  // the transaction rolls back
  }
  tx.commit();
  timer.reset();
  if (metrics_) metrics_->samples_written.inc(fresh);
  std::vector<CommittedSeries> committed;
  {
    std::lock_guard lock(series_mu_);
    for (auto& [id, st] : staged) {
      if (st.records.empty()) continue;
      st.info->known_max = std::max(st.info->known_max, st.staged_max);
    }
  }
  for (auto& [id, st] : staged) {
    if (st.records.empty()) continue;
    keep_newest(*st.origin, *st.device,
                *std::max_element(st.records.begin(), st.records.end(),
                                  [](const Record& a, const Record& b) { return a.ts < b.ts; }));
  }
  if (!listener_) return true;
  for (auto& [id, st] : staged) {
    if (st.records.empty()) continue;
    std::sort(st.records.begin(), st.records.end(),
              [](const Record& a, const Record& b) { return a.ts < b.ts; });
    committed.push_back({*st.device, *st.origin, st.records});
  }
  // Before the writers' callbacks run (they follow in process_group).
  if (!committed.empty()) listener_(committed);
  return true;
}

// ---- reading ----

std::optional<std::int64_t> MariadbStore::find_series_id(std::string_view device,
                                                         std::string_view origin) const {
  {
    std::lock_guard lock(series_mu_);
    if (auto it = series_.find(std::pair{std::string(origin), std::string(device)});
        it != series_.end()) {
      return it->second.id;
    }
  }
  // Written by another replica, or not yet by this one.
  return pool_->with([&](maria::Connection& c) -> std::optional<std::int64_t> {
    const auto rows = maria::Statement(c, "SELECT id FROM series WHERE device = ? AND origin = ?")
                          .rows({std::string(device), std::string(origin)});
    if (rows.empty()) return std::nullopt;
    return rows[0].int64(0);
  });
}

std::optional<StoredSample> MariadbStore::latest(std::string_view device,
                                                 std::string_view origin) const {
  std::lock_guard lock(newest_mu_);
  const auto it = newest_.find(std::pair{std::string(origin), std::string(device)});
  if (it == newest_.end()) return std::nullopt;
  return StoredSample{std::string(device), std::string(origin), it->second};
}

std::vector<StoredSample> MariadbStore::latest_all(std::string_view origin) const {
  std::vector<StoredSample> out;
  std::lock_guard lock(newest_mu_);
  for (auto it = newest_.lower_bound(std::pair{std::string(origin), std::string()});
       it != newest_.end() && it->first.first == origin; ++it) {
    out.push_back(StoredSample{it->first.second, it->first.first, it->second});
  }
  return out;
}

void MariadbStore::note_remote_commit(const std::vector<StoredSample>& samples) {
  for (const auto& s : samples) keep_newest(s.origin, s.device, s.record);
}

void MariadbStore::keep_newest(const std::string& origin, const std::string& device,
                               const Record& r) {
  std::lock_guard lock(newest_mu_);
  auto [it, fresh] = newest_.try_emplace(std::pair{origin, device}, r);
  if (!fresh && it->second.ts < r.ts) it->second = r;
  if (refreshing_) touched_.insert(it->first);
}

void MariadbStore::load_newest(maria::Connection& c) {
  // The newest time of every series: one index dive per series and partition. (A GROUP BY over
  // the partitioned table reads its whole primary key instead — 1 s for 3 million rows.)
  struct Head {
    std::pair<std::string, std::string> key;  // (origin, device)
    std::int64_t id;
    TimeUs ts;
  };
  {
    std::lock_guard lock(newest_mu_);
    refreshing_ = true;  // from here on, keep_newest notes what it changes
    touched_.clear();
  }
  std::vector<Head> heads;
  for (const auto& r : c.query("SELECT s.id, s.origin, s.device, (SELECT MAX(m.ts) FROM "
                               "measurements m WHERE m.series_id = s.id) FROM series s")) {
    if (!r.is_null(3)) heads.push_back({{r.text(1), r.text(2)}, r.int64(0), r.int64(3)});
  }
  // Only the series whose newest sample the cache does not have yet are read (a point look-up
  // each): with the other replicas' commits arriving through Redis, hardly any.
  std::map<std::pair<std::string, std::string>, Record, std::less<>> loaded;
  std::vector<const Head*> missing;
  {
    std::lock_guard lock(newest_mu_);
    for (const auto& h : heads) {
      const auto it = newest_.find(h.key);
      if (it != newest_.end() && it->second.ts >= h.ts) {
        loaded.emplace(h.key, it->second);
      } else {
        missing.push_back(&h);
      }
    }
  }
  if (!missing.empty()) {
    maria::Statement st(
        c, "SELECT ts, " + value_columns() + " FROM measurements WHERE series_id = ? AND ts = ?");
    for (const auto* h : missing) {
      const auto rows = st.rows({h->id, h->ts});
      if (!rows.empty()) loaded.emplace(h->key, record_of(rows[0], 0));
    }
  }
  std::lock_guard lock(newest_mu_);
  // What arrived meanwhile (a commit after the read — of a series perhaps new) is newer than the
  // database's answer: kept. Any other series the database no longer has was deleted by
  // another replica: dropped.
  for (auto& [key, rec] : loaded) {
    const auto old = newest_.find(key);
    if (old != newest_.end() && old->second.ts > rec.ts) rec = old->second;
  }
  for (const auto& key : touched_) {
    const auto old = newest_.find(key);
    if (old == newest_.end()) continue;
    auto [it, fresh] = loaded.try_emplace(key, old->second);
    if (!fresh && it->second.ts < old->second.ts) it->second = old->second;
  }
  newest_ = std::move(loaded);
  refreshing_ = false;
  touched_.clear();
}

DataPage MariadbStore::query(const DataQuery& q) const {
  DataPage page;
  const auto id = find_series_id(q.device, q.origin);
  if (!id || q.limit == 0) return page;
  pool_->with([&](maria::Connection& c) {
    page.records.clear();
    maria::Statement st(c, "SELECT ts, " + value_columns() +
                               " FROM measurements WHERE series_id = ? AND ts >= ? AND ts < ? "
                               "ORDER BY ts " +
                               (q.ascending ? "ASC" : "DESC") + " LIMIT ?");
    st.query({*id, q.from, q.to, static_cast<std::int64_t>(q.limit + 1)},
             [&](const maria::Row& r) { page.records.push_back(record_of(r, 0)); });
  });
  if (page.records.size() > q.limit) {
    page.records.resize(q.limit);
    page.more = true;
  }
  return page;
}

std::vector<SeriesPoint> MariadbStore::series(const SeriesQuery& q) const {
  std::vector<SeriesPoint> out;
  const auto id = find_series_id(q.device, q.origin);
  if (!id || q.step <= 0 || q.from >= q.to) return out;
  // Rows stream in time order into one bucket at a time; derived fields come from each row, so
  // every aggregate (pf included) means the same as on the embedded store.
  pool_->with([&](maria::Connection& c) {
    out.clear();
    std::vector<FieldStats> bucket(q.fields.size());
    TimeUs current = 0;
    bool open = false;
    auto close = [&] {
      if (!open) return;
      SeriesPoint p{current, {}};
      bool any = false;
      for (const auto& f : bucket) {
        p.values.push_back(f.value(q.agg));
        any = any || f.n > 0;
      }
      if (any) out.push_back(std::move(p));
      std::fill(bucket.begin(), bucket.end(), FieldStats{});
    };
    maria::Statement st(c, "SELECT ts, " + value_columns() +
                               " FROM measurements WHERE series_id = ? AND ts >= ? AND ts < ? "
                               "ORDER BY ts");
    st.query({*id, q.from, q.to}, [&](const maria::Row& r) {
      const Record rec = record_of(r, 0);
      const TimeUs b = bucket_start(rec.ts, q.step);
      if (!open || b != current) {
        close();
        current = b;
        open = true;
      }
      const auto all = core::all_fields(rec.values);
      for (std::size_t k = 0; k < q.fields.size(); ++k) bucket[k].add(all[q.fields[k]], rec.ts);
    });
    close();
  });
  return out;
}

StoreStats MariadbStore::stats() const {
  StoreStats s;
  s.queued_samples = queue_.queued_samples();
  s.queue_wait_s = queue_.wait_s();
  {
    std::lock_guard lock(health_mu_);
    s.write_error = write_error_;
    s.full = full_;
    s.unreachable = unreachable_;
  }
  std::lock_guard lock(series_mu_);
  s.series = series_.size();
  return s;
}

std::string MariadbStore::check_database() const {
  // The writer checks the server every few seconds while idle and on every commit; asking it
  // here would make /health wait for a connect timeout while the server is away.
  std::lock_guard lock(health_mu_);
  return unreachable_ ? write_error_ : "ok";
}

}  // namespace remhart::store
