#pragma once
// Self-monitoring: what the replica can measure about its own fitness, and the thresholds the
// shipped Prometheus alerts (deploy/prometheus/alerts.yaml) use — exported as metrics so an
// alert and the replica's own /ready agree on them.
#include <cstdint>
#include <optional>
#include <string>

namespace remhart::obs {

class Registry;

struct DiskUsage {
  double used_ratio = 0;         ///< of the blocks an unprivileged writer may use
  std::uint64_t free_bytes = 0;  ///< available to an unprivileged writer
};
/// The file system holding `path` (statvfs); nullopt when it cannot be read.
std::optional<DiskUsage> disk_usage(const std::string& path);

/// The alert thresholds (deploy/prometheus/alerts.yaml says the same numbers).
struct Thresholds {
  static constexpr double http_5xx_ratio = 0.05;  ///< of requests, over 5 minutes
  static constexpr double http_p95_seconds = 1.0;
  static constexpr double db_pool_ratio = 0.9;  ///< reader connections in use
  static constexpr double model_failures_per_min = 10;
  static constexpr double disk_used_ratio = 0.85;
  static constexpr double ingest_lag_seconds = 30;  ///< for 5 minutes
  /// Below this much free space the replica is not ready: its next commit would fail.
  static constexpr std::uint64_t disk_min_free_bytes = 1ull << 20;
};

/// Registers `remhart_alert_threshold{alert="…"}` gauges with the values above, and
/// `remhart_disk_used_ratio` / `remhart_disk_free_bytes` for the file system of `data_dir`.
void register_self_checks(Registry& metrics, const std::string& data_dir);

}  // namespace remhart::obs
