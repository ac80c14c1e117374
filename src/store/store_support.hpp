#pragma once
// What the store implementations share: their metrics, rate-limited error reports and the
// devices' tag column.
#include <exception>
#include <string>
#include <vector>

namespace remhart::obs {
class Registry;
class Histogram;
class Counter;
}  // namespace remhart::obs

namespace remhart::store {

/// Metrics every store reports (the same names whichever database is behind it).
struct StoreMetrics {
  explicit StoreMetrics(obs::Registry& r);
  obs::Counter& errors(const char* op);
  obs::Histogram& commit;
  obs::Counter& samples_written;
  obs::Registry& registry;
};

/// Counts a failed storage operation and logs it, one line per operation every 10 s at most (a
/// full disk or a stopped database fails every group commit).
void report_error(StoreMetrics* metrics, const char* op, const std::exception& e);

/// Device tags as stored: one line each.
std::string join_tags(const std::vector<std::string>& tags);
std::vector<std::string> split_tags(const std::string& s);

}  // namespace remhart::store
