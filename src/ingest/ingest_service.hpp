#pragma once
// The ingestion pipeline entry: validated samples go to the store, the reply comes once durable.
#include <functional>
#include <string>

#include "core/error.hpp"
#include "core/measurement.hpp"
#include "ingest/parse.hpp"
#include "ingest/validate.hpp"
#include "store/store.hpp"

namespace remhart::obs {
class Registry;
class Counter;
}  // namespace remhart::obs

namespace remhart::ingest {

struct IngestOptions {
  ValidationLimits limits;
  bool auto_register = false;
  core::Device new_device_defaults;  ///< ratings given to auto-registered devices
  std::size_t max_batch = 10'000;
};

struct IngestReply {
  std::size_t accepted = 0;
  std::size_t duplicates = 0;
  std::vector<ItemError> rejected;
};

enum class IngestStatus {
  ok,                    ///< processed (possibly with rejected items)
  unprocessable,         ///< atomic batch with invalid items: nothing stored
  unavailable,           ///< back-pressure: retry later
  storage_full,          ///< the disk is full: retry once space is freed
  database_unreachable,  ///< the database server cannot be reached: retry shortly
  failed,                ///< storage failed
};

struct IngestOutcome {
  IngestStatus status = IngestStatus::ok;
  IngestReply reply;
  std::string error;
};

/// What a caller hears when the store did not take a batch (unavailable, storage_full, failed):
/// unavailable with Retry-After under back-pressure or on a full disk (nothing of the batch was
/// stored: send it again), else internal — never the storage engine's text (the store logged it).
core::Error storage_failure(const IngestOutcome& outcome);

class IngestService {
 public:
  IngestService(store::Store& store, IngestOptions options, obs::Registry* metrics = nullptr);
  /// The registered devices (a snapshot).
  std::shared_ptr<const store::DeviceMap> devices() const { return store_.devices(); }

  /// Validates a parsed batch and submits its valid samples. `done` runs exactly once, on the
  /// storage thread after commit or on the calling thread when nothing needs storing.
  void ingest(ParsedBatch batch, std::string origin, bool atomic,
              std::function<void(IngestOutcome)> done);

  const IngestOptions& options() const { return opt_; }

 private:
  store::Store& store_;
  IngestOptions opt_;
  obs::Counter* accepted_ = nullptr;
  obs::Counter* duplicates_ = nullptr;
  obs::Counter* rejected_ = nullptr;
  obs::Counter* refused_ = nullptr;
};

}  // namespace remhart::ingest
