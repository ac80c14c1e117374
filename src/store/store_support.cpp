#include "store/store_support.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>

#include "obs/metrics.hpp"

namespace remhart::store {

StoreMetrics::StoreMetrics(obs::Registry& r)
    : commit(r.histogram("remhart_store_commit_seconds", "Group commit latency")),
      samples_written(r.counter("remhart_store_samples_written_total", "Samples stored")),
      registry(r) {}

obs::Counter& StoreMetrics::errors(const char* op) {
  return registry.counter("remhart_store_errors_total", "Failed storage operations",
                          std::string("op=\"") + op + "\"");
}

void report_error(StoreMetrics* metrics, const char* op, const std::exception& e) {
  if (metrics) metrics->errors(op).inc();
  static std::mutex mu;
  static std::map<std::string, std::pair<std::chrono::steady_clock::time_point, int>> last;
  std::lock_guard lock(mu);
  auto& [at, suppressed] = last[op];
  const auto now = std::chrono::steady_clock::now();
  if (at != std::chrono::steady_clock::time_point{} && now - at < std::chrono::seconds(10)) {
    ++suppressed;
    return;
  }
  spdlog::error("storage {} failed: {}{}", op, e.what(),
                suppressed ? fmt::format(" ({} more since the last report)", suppressed) : "");
  at = now;
  suppressed = 0;
}

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& t : tags) {
    if (!out.empty()) out.push_back('\n');
    out += t;
  }
  return out;
}

std::vector<std::string> split_tags(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const std::size_t end = std::min(s.find('\n', start), s.size());
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace remhart::store
