#include "obs/self_check.hpp"

#include <sys/statvfs.h>

#include "obs/metrics.hpp"

namespace remhart::obs {

std::optional<DiskUsage> disk_usage(const std::string& path) {
  struct statvfs s {};
  if (::statvfs(path.c_str(), &s) != 0 || s.f_blocks == 0) return std::nullopt;
  // As df computes it: used / (used + available to non-root).
  const double used = static_cast<double>(s.f_blocks - s.f_bfree);
  const double usable = used + static_cast<double>(s.f_bavail);
  return DiskUsage{usable > 0 ? used / usable : 1.0,
                   static_cast<std::uint64_t>(s.f_bavail) * s.f_frsize};
}

void register_self_checks(Registry& metrics, const std::string& data_dir) {
  const char* help = "The threshold of a shipped alert (deploy/prometheus/alerts.yaml)";
  const std::pair<const char*, double> thresholds[] = {
      {"http_5xx_ratio", Thresholds::http_5xx_ratio},
      {"http_p95_seconds", Thresholds::http_p95_seconds},
      {"db_pool_ratio", Thresholds::db_pool_ratio},
      {"model_failures_per_min", Thresholds::model_failures_per_min},
      {"disk_used_ratio", Thresholds::disk_used_ratio},
      {"ingest_lag_seconds", Thresholds::ingest_lag_seconds},
  };
  for (const auto& [name, value] : thresholds) {
    metrics.gauge("remhart_alert_threshold", help, std::string("alert=\"") + name + "\"")
        .set(value);
  }
  metrics.gauge_fn("remhart_disk_used_ratio", "Used share of the data directory's file system",
                   [data_dir] {
                     const auto d = disk_usage(data_dir);
                     return d ? d->used_ratio : -1.0;
                   });
  metrics.gauge_fn("remhart_disk_free_bytes", "Free bytes on the data directory's file system",
                   [data_dir] {
                     const auto d = disk_usage(data_dir);
                     return d ? static_cast<double>(d->free_bytes) : -1.0;
                   });
}

}  // namespace remhart::obs
