#pragma once
// The storage interface: devices and measurements. SQLite (embedded) and MariaDB (scale-out)
// implement it, and the same tests run against both.
#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/measurement.hpp"
#include "store/series.hpp"

namespace remhart::store {

using DeviceMap = std::unordered_map<std::string, core::Device>;

/// A stored sample with the series it belongs to.
struct StoredSample {
  std::string device;
  std::string origin;
  core::Record record;
};

/// Outcome of one submitted batch, known once it is durable (or failed).
struct WriteResult {
  bool ok = true;
  std::string error;
  bool full = false;           ///< failed because the disk is full: retry once space is freed
  std::size_t accepted = 0;    ///< newly stored
  std::size_t duplicates = 0;  ///< already stored with the same (device, origin, ts)
  bool unavailable = false;    ///< the database could not be reached: nothing stored, retry
};
using WriteCallback = std::function<void(const WriteResult&)>;

/// The records one commit added to one series (sorted by time). Valid during the callback only.
struct CommittedSeries {
  const std::string& device;
  const std::string& origin;
  std::span<const core::Record> records;
};
using CommitListener = std::function<void(std::span<const CommittedSeries>)>;

/// A series: the samples of one device from one origin.
struct SeriesKey {
  std::string device;
  std::string origin;
};

struct DataQuery {
  std::string device;
  std::string origin{core::kOriginReal};
  core::TimeUs from = std::numeric_limits<core::TimeUs>::min();  ///< inclusive
  core::TimeUs to = std::numeric_limits<core::TimeUs>::max();    ///< exclusive
  std::size_t limit = 1000;
  bool ascending = false;
};

struct DataPage {
  std::vector<core::Record> records;
  bool more = false;  ///< further records exist beyond the last one returned
};

struct SeriesQuery {
  std::string device;
  std::string origin{core::kOriginReal};
  core::TimeUs from = 0;  ///< inclusive
  core::TimeUs to = 0;    ///< exclusive
  core::TimeUs step = core::kUsPerSecond;
  Agg agg = Agg::avg;
  std::vector<std::size_t> fields;  ///< indexes into core::kFieldNames
};

struct SeriesPoint {
  core::TimeUs ts;  ///< bucket start
  std::vector<double> values;
};

struct StoreStats {
  std::size_t queued_samples = 0;  ///< submitted, not yet committed
  double queue_wait_s = 0;  ///< how long the oldest batch not yet committed has waited (ingest lag)
  std::size_t tail_samples = 0;  ///< committed to the log, not yet compacted into blocks
  std::size_t series = 0;
  /// Why the last group commit failed; empty once one succeeds.
  std::string write_error;
  bool full = false;         ///< the last group commit failed on a full disk
  bool unreachable = false;  ///< the database server cannot be reached
};

class Store {
 public:
  virtual ~Store() = default;

  // Devices. Writes throw core::Error (conflict, not_found).
  virtual std::shared_ptr<const DeviceMap> devices() const = 0;
  virtual void create_device(const core::Device& d) = 0;
  virtual void update_device(const core::Device& d) = 0;
  /// Removes the device and every sample stored for it.
  virtual void delete_device(std::string_view id) = 0;

  /// Removes every sample of `origin` (a simulation run's data); returns how many series went.
  virtual std::size_t delete_origin(std::string_view origin) = 0;

  /// Every series the store holds.
  virtual std::vector<SeriesKey> list_series() const = 0;
  /// Removes the series' samples older than `before` — if exactly `expected` of them are stored
  /// (the caller archived those): the count and the removal are one step with respect to writes.
  /// Returns false, removing nothing, when the count differs (samples arrived meanwhile).
  virtual bool delete_before(std::string_view device, std::string_view origin, core::TimeUs before,
                             std::size_t expected) = 0;

  /// Queues samples of one origin for durable storage. `done` runs on the storage thread once
  /// the batch is committed (or failed); it must be quick. Returns false, without queuing and
  /// without calling `done`, when the queue is full (back-pressure).
  virtual bool submit(std::string origin, std::vector<core::Sample> samples,
                      WriteCallback done) = 0;
  /// Called on the storage thread with the newly stored samples of every commit.
  virtual void set_commit_listener(CommitListener listener) = 0;

  /// The newest sample of a series, and of every series of an origin (by device). Answered from
  /// memory — callers may be I/O threads.
  virtual std::optional<StoredSample> latest(std::string_view device,
                                             std::string_view origin) const = 0;
  virtual std::vector<StoredSample> latest_all(std::string_view origin) const = 0;
  /// Samples another replica stored in the shared database (handed over through Redis): a
  /// store that keeps the newest sample of each series in memory takes them in. Default: nothing
  /// (a store of one process sees all its writes).
  virtual void note_remote_commit(const std::vector<StoredSample>& samples) { (void)samples; }
  virtual DataPage query(const DataQuery& q) const = 0;
  virtual std::vector<SeriesPoint> series(const SeriesQuery& q) const = 0;

  /// Blocks until everything submitted so far is committed and compacted.
  virtual void flush() = 0;
  virtual StoreStats stats() const = 0;
  /// Runs a cheap query on the database: "ok", or what failed.
  virtual std::string check_database() const = 0;
};

}  // namespace remhart::store
