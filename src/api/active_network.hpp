#pragma once
// The network model grid studies run on: the active version of the stored models, swapped whole
// when a new one is uploaded (readers keep the version they took).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/periodic.hpp"
#include "grid/network.hpp"
#include "store/network_repo.hpp"

namespace remhart::obs {
class Counter;
}

namespace remhart::api {

class ActiveNetwork {
 public:
  /// Loads the stored active version, if any (an unreadable one is logged and skipped).
  explicit ActiveNetwork(store::NetworkRepository& repository);

  struct Version {
    std::int64_t id = 0;
    std::shared_ptr<const grid::Network> network;
  };
  /// The active model; throws core::Error(not_found) when none has been uploaded.
  Version current() const;

  /// Held while an upload is parsed: one at a time, since parsing a large model takes a while
  /// and ~50× its size in memory.
  class UploadTicket {
   public:
    explicit UploadTicket(std::atomic<bool>& busy) : busy_(busy) {}
    ~UploadTicket() { busy_ = false; }
    UploadTicket(const UploadTicket&) = delete;
    UploadTicket& operator=(const UploadTicket&) = delete;

   private:
    std::atomic<bool>& busy_;
  };
  /// Throws core::Error(unavailable, Retry-After 5) while another upload is being processed.
  std::shared_ptr<UploadTicket> begin_upload();

  struct Uploaded {
    std::int64_t id = 0;
    std::shared_ptr<const grid::Network> network;
  };
  /// Parses `body` (`format` "json" or "matpower"), checks that it can be solved (islands,
  /// references), stores it as a new version and makes it the active one. Throws
  /// grid::NetworkError naming `body` when it is not a usable model.
  Uploaded upload(const UploadTicket& ticket, const std::string& format, const std::string& body,
                  const std::optional<std::string>& name, const std::string& uploaded_by);

  /// Stores `network` (already checked) as a new version and makes it the active one.
  Uploaded install(std::shared_ptr<grid::Network> network, const std::string& uploaded_by);
  /// install(), but only while no version exists (a fresh install; of several replicas starting
  /// together, one installs it and the others take it from the database).
  std::optional<Uploaded> install_first(std::shared_ptr<grid::Network> network,
                                        const std::string& uploaded_by);

  /// Takes the stored active version when another process (a replica on the shared database)
  /// made another one active; returns whether it changed. A version that cannot be read is
  /// logged and skipped (the current one stays).
  bool refresh();
  /// Refreshes every `every` on a thread of its own (several replicas), until destruction; a
  /// failed check is logged and counted in `failures`.
  void watch(std::chrono::milliseconds every, obs::Counter* failures = nullptr);

  /// Whether no model has ever been stored (a fresh install).
  bool empty() { return repository_.list().empty(); }

  std::vector<store::NetworkVersion> versions() { return repository_.list(); }

 private:
  store::NetworkRepository& repository_;
  mutable std::mutex mu_;
  Version current_;
  std::int64_t unreadable_id_ = 0;  // under mu_: the active version that failed to parse
  std::atomic<bool> uploading_{false};
  std::unique_ptr<core::Periodic> watcher_;  // last: it stops before the rest goes
};

}  // namespace remhart::api
