#pragma once
// The embedded store on SQLite.
//
// Layout: every commit appends one row to `log` holding the batch's new records (cheap, durable,
// unindexed); the same records live in an in-memory per-series tail. A checkpoint compacts the
// tails into per-series `blocks` (columnar, compressed; never crossing an aligned time window)
// with per-block statistics, then deletes the log rows — one transaction. Range reads use the
// (series, t1) index; long chart queries read block statistics only. On start the log is
// replayed into the tails, so a crash loses nothing that was acknowledged.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "store/store.hpp"
#include "store/write_queue.hpp"

namespace remhart::obs {
class Registry;
}

namespace remhart::store {

class Database;

struct SqliteOptions {
  std::string path;    ///< database file
  bool fsync = false;  ///< synchronous=FULL (survives power loss) vs NORMAL
  std::size_t max_queued_samples = 400'000;
  std::size_t group_samples = 100'000;       ///< most samples per group commit
  std::size_t checkpoint_samples = 131'072;  ///< compact when the tails hold this many
  std::chrono::seconds checkpoint_interval{300};
  core::TimeUs block_window = 900 * core::kUsPerSecond;  ///< blocks never cross these boundaries
  std::size_t max_block_records = 4096;
};

/// A log row is a sequence of fixed-size entries: series id, timestamp, the 20 values.
struct LogEntry {
  std::int64_t series_id;
  core::TimeUs ts;
  core::Values values;
};
static_assert(sizeof(LogEntry) == 16 + sizeof(core::Values));

class SqliteStore final : public Store {
 public:
  SqliteStore(SqliteOptions options, obs::Registry* metrics = nullptr);
  ~SqliteStore() override;

  std::shared_ptr<const DeviceMap> devices() const override;
  void create_device(const core::Device& d) override;
  void update_device(const core::Device& d) override;
  void delete_device(std::string_view id) override;
  std::size_t delete_origin(std::string_view origin) override;
  std::vector<SeriesKey> list_series() const override;
  bool delete_before(std::string_view device, std::string_view origin, core::TimeUs before,
                     std::size_t expected) override;

  bool submit(std::string origin, std::vector<core::Sample> samples, WriteCallback done) override;
  void set_commit_listener(CommitListener listener) override;

  std::optional<StoredSample> latest(std::string_view device,
                                     std::string_view origin) const override;
  std::vector<StoredSample> latest_all(std::string_view origin) const override;
  DataPage query(const DataQuery& q) const override;
  std::vector<SeriesPoint> series(const SeriesQuery& q) const override;

  void flush() override;
  StoreStats stats() const override;
  std::string check_database() const override;

 private:
  struct Series;
  struct Metrics;
  class ReaderLease;

  void migrate();
  void load();
  void writer_loop();
  void wal_checkpoint_loop();
  void process_group(std::deque<WriteQueue::Job>& jobs);
  void checkpoint();
  void run_on_writer(std::function<void()> fn);
  Series* find_series(std::string_view device, std::string_view origin) const;
  template <class Fn>
  void for_each_series(Fn&& fn) const {
    for (const auto& [origin, by_device] : series_) {
      for (const auto& [device, s] : by_device) fn(*s);
    }
  }
  /// Marks, per series of the group, which of its timestamps older than the recent window are
  /// already in blocks (Series::in_blocks); returns the series it marked.
  std::vector<Series*> find_in_blocks(const std::deque<WriteQueue::Job>& jobs,
                                      const std::vector<Series*>& targets);
  void forget_known(Series& s);
  /// Inserts a series row (inside the caller's transaction); the caller publishes it.
  std::unique_ptr<Series> insert_series(const std::string& device, const std::string& origin);
  bool is_duplicate(Series& s, core::TimeUs ts);
  /// Records of a series in [from, to) that are stored in blocks.
  std::vector<core::Record> load_blocks(Database& db, std::int64_t series_id, core::TimeUs from,
                                        core::TimeUs to);
  void save_device(const core::Device& d, bool create);
  ReaderLease reader() const;
  /// Opens `db`'s read snapshot and lets `copy` read the series' in-memory state consistently
  /// with it. Returns the series id, or nullopt when the series does not exist.
  std::optional<std::int64_t> begin_read(Database& db, std::string_view device,
                                         std::string_view origin,
                                         const std::function<void(const Series&)>& copy) const;

  SqliteOptions opt_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Database> db_;  // writer connection, used on the writer thread only

  // Series state. Structure, tails and latest values change under an exclusive lock; readers
  // take it shared while they copy tails and open their database snapshot.
  mutable std::shared_mutex mu_;
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class T>
  using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;
  using SeriesByDevice = StringMap<std::unique_ptr<Series>>;
  StringMap<SeriesByDevice> series_;  // origin → device → series
  std::atomic<std::size_t> tail_samples_{0};
  // The newest record of every series (origin → device), under its own short lock.
  mutable std::mutex latest_mu_;
  StringMap<StringMap<core::Record>> latest_;
  std::int64_t last_log_id_ = 0;

  mutable std::mutex devices_mu_;
  std::shared_ptr<const DeviceMap> devices_;

  mutable std::mutex readers_mu_;
  mutable std::vector<std::unique_ptr<Database>> readers_;

  /// Logs (at most every few seconds per operation) and counts a failed operation.
  void note_error(const char* op, const std::exception& e);
  // Block timestamps kept for duplicate checks (Series::known_ts), bounded store-wide.
  static constexpr std::size_t kMaxKnownPerSeries = 1 << 16;
  static constexpr std::size_t kMaxKnownTotal = 1 << 22;  // 32 MiB of timestamps
  std::size_t known_total_ = 0;                           // writer thread only
  mutable std::mutex health_mu_;
  std::string write_error_;  // under health_mu_
  bool full_ = false;        // under health_mu_

  WriteQueue queue_;
  // The WAL copier's stop signal.
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  CommitListener listener_;
  std::vector<LogEntry> log_buffer_;  // writer thread only
  std::vector<Series*> target_buffer_;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::thread writer_;
  std::thread wal_checkpointer_;
};

}  // namespace remhart::store
