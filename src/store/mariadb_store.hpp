#pragma once
// The scale-out store on MariaDB/MySQL.
//
// Layout: `measurements` holds one row per sample keyed (series_id, ts), range-partitioned by
// month on ts (a partition per month, created ahead of time by the writer; older data can be
// dropped a partition at a time). A writer thread takes queued batches in groups, skips samples
// already stored (same device, origin and time: the first write wins), inserts the rest with
// array-bound prepared statements in one transaction, and acknowledges only after COMMIT. Reads
// run on a bounded connection pool. Several replicas can share one database: schema migrations
// and partition maintenance take a named lock (GET_LOCK), duplicate checks read what any
// replica committed, and INSERT IGNORE guards the rest (a group that raced another writer is
// rolled back and checked again).
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "core/periodic.hpp"
#include "store/store.hpp"
#include "store/write_queue.hpp"

namespace remhart::obs {
class Registry;
class Counter;
}  // namespace remhart::obs

namespace remhart::store {

namespace maria {
class Connection;
class Pool;
struct ConnectionOptions;
}  // namespace maria

struct StoreMetrics;

struct MariadbOptions {
  std::string url;  ///< mariadb://user:password@host:port/database[?socket=/path]
  std::size_t pool_min = 2;
  std::size_t pool_max = 16;
  std::size_t max_queued_samples = 400'000;
  std::size_t group_samples = 100'000;    ///< most samples per group commit
  std::size_t insert_rows = 10'000;       ///< rows per array-bound INSERT (one round trip)
  std::chrono::seconds startup_wait{60};  ///< how long the start waits for the server to answer
  int partition_months_ahead = 2;         ///< months of partitions kept ready beyond this one
  /// How often devices other replicas changed, and the newest sample of every series (on a
  /// thread of its own), are read again.
  std::chrono::milliseconds device_reload{5000};
};

class MariadbStore final : public Store {
 public:
  /// Connects (waiting up to `startup_wait`), migrates the schema under a lock shared with
  /// other replicas, makes sure this month's partitions exist and starts the writer. Throws
  /// std::runtime_error naming what failed.
  MariadbStore(MariadbOptions options, obs::Registry* metrics = nullptr);
  ~MariadbStore() override;

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
  void note_remote_commit(const std::vector<StoredSample>& samples) override;
  DataPage query(const DataQuery& q) const override;
  std::vector<SeriesPoint> series(const SeriesQuery& q) const override;

  void flush() override;
  StoreStats stats() const override;
  std::string check_database() const override;

  /// Creates the month partitions from this month to `months_ahead` beyond it that do not exist
  /// yet (under a lock shared by the replicas); returns how many it created. The writer runs it
  /// at start and every hour.
  int maintain_partitions(core::TimeUs now);
  /// Names of the measurement table's partitions, oldest first.
  std::vector<std::string> partitions() const;

 private:
  struct SeriesInfo {
    std::int64_t id;
    core::TimeUs known_max;  ///< newest stored time this replica knows of (min: not known yet)
  };

  void writer_loop();
  void process_group(std::deque<WriteQueue::Job>& jobs);
  bool write_group(std::deque<WriteQueue::Job>& jobs, std::vector<WriteResult>& results,
                   bool check_all);
  void run_on_writer(std::function<void()> fn);
  maria::Connection& writer_connection();
  SeriesInfo& series_for(const std::string& device, const std::string& origin);
  std::optional<std::int64_t> find_series_id(std::string_view device,
                                             std::string_view origin) const;
  void load_devices(maria::Connection& c);
  /// Reads the newest sample of every series into the latest-value cache.
  void load_newest(maria::Connection& c);
  /// Keeps `r` as the newest of (origin, device) when it is newer than what the cache has.
  void keep_newest(const std::string& origin, const std::string& device, const core::Record& r);
  void save_device(const core::Device& d, bool create);
  void set_health(std::string error, bool full, bool unreachable);

  MariadbOptions opt_;
  std::unique_ptr<StoreMetrics> metrics_;
  std::unique_ptr<maria::ConnectionOptions> conn_opt_;
  std::unique_ptr<maria::Pool> pool_;
  std::unique_ptr<maria::Connection> writer_db_;  // writer thread only
  std::chrono::steady_clock::time_point next_connect_{};
  std::chrono::milliseconds connect_backoff_{250};
  std::chrono::steady_clock::time_point next_maintenance_{};
  std::chrono::steady_clock::time_point last_devices_load_{};  // writer thread only

  // Series ids by (origin, device), filled as series are met; writer updates known_max.
  mutable std::mutex series_mu_;
  std::map<std::pair<std::string, std::string>, SeriesInfo, std::less<>> series_;

  // The latest-value cache: the newest sample of every series by (origin, device). Fed by this
  // replica's commits, the other replicas' (note_remote_commit) and a reload from the database
  // every `device_reload` (refresher_), so `latest` never waits for the database.
  mutable std::mutex newest_mu_;
  std::map<std::pair<std::string, std::string>, core::Record, std::less<>> newest_;
  bool refreshing_ = false;  // a reload is reading the database: keep_newest notes into touched_
  std::set<std::pair<std::string, std::string>> touched_;

  mutable std::mutex devices_mu_;
  std::shared_ptr<const DeviceMap> devices_;

  WriteQueue queue_;

  CommitListener listener_;  // writer thread only
  obs::Counter* races_ = nullptr;
  std::chrono::steady_clock::time_point last_race_log_{};  // writer thread only

  mutable std::mutex health_mu_;
  std::string write_error_;  // under health_mu_
  bool full_ = false;
  bool unreachable_ = false;

  std::thread writer_;
  // Every `device_reload`: load_newest on a reader connection, never holding the writer up.
  std::unique_ptr<core::Periodic> refresher_;
};

}  // namespace remhart::store
