#pragma once
// The measurement archive: samples older than their origin's retention move from the hot store
// into compressed files in the object store, one per series and UTC day
// (`archive/<origin>/<device>/<YYYY-MM-DD>.rhb`, the block codec's format), and stay readable by
// export. A day archived twice (late data arrived after the first time) is merged, the archived
// sample winning — the first write wins, as in the hot store.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/measurement.hpp"
#include "core/object_store.hpp"

namespace remhart::store {

class Store;

struct RetentionPolicy {
  std::int64_t real_days = 90;  ///< real measurements archived after this many days; 0: never
  std::int64_t sim_days = 0;    ///< simulation runs' samples likewise; 0: kept until deleted
  std::size_t max_days_per_round = 31;  ///< per series, so one round stays bounded
};

struct ArchiveRound {
  std::size_t series = 0;   ///< series that had something to archive
  std::size_t days = 0;     ///< day files written
  std::size_t samples = 0;  ///< samples moved out of the hot store
  bool more = false;        ///< a series reached max_days_per_round: run again soon
};

/// Moves what is older than the policy allows (whole UTC days before now − retention) from
/// `store` into `objects`. Each day is written (and synced) before it is deleted from the store,
/// so a crash between the two leaves it in both — never in neither.
ArchiveRound archive_old_samples(Store& store, core::ObjectStore& objects,
                                 const RetentionPolicy& policy, core::TimeUs now);

/// Where a series' day goes: `archive/real/<device>/…` or `archive/sim/<run>/<device>/…`.
std::string archive_prefix(std::string_view origin, std::string_view device);
std::string archive_name(std::string_view origin, std::string_view device, core::TimeUs day);

/// The archived samples of one series in [from, to), in time order.
std::vector<core::Record> read_archive(const core::ObjectStore& objects, std::string_view origin,
                                       std::string_view device, core::TimeUs from, core::TimeUs to);
/// Removes every archive file of `origin` (a deleted simulation run's); returns how many went.
std::size_t remove_archives(core::ObjectStore& objects, std::string_view origin);

/// Devices with archived samples of `origin`.
std::vector<std::string> archived_devices(const core::ObjectStore& objects,
                                          std::string_view origin);

}  // namespace remhart::store
