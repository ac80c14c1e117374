#pragma once
// Aggregation over time buckets: the statistics a block keeps and a series query merges.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/measurement.hpp"

namespace remhart::store {

enum class Agg { avg, min, max, last };
std::optional<Agg> parse_agg(std::string_view s);

/// Count, sum, min, max and newest value of one field; absent (NaN) inputs are skipped.
struct FieldStats {
  double n = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double last = core::kAbsent;
  core::TimeUs last_ts = std::numeric_limits<core::TimeUs>::min();

  void add(double x, core::TimeUs ts);
  void merge(const FieldStats& o);
  /// The aggregate, or NaN when the bucket holds no value of this field.
  double value(Agg agg) const;
};

/// Statistics of every field over a set of records (one per block).
struct BlockStats {
  std::array<FieldStats, core::kFieldCount> fields;
  void add(const core::Record& r);
};

/// Serialises stats as a flat array of doubles (6 per field).
std::vector<double> encode_stats(const BlockStats& s);
/// Parses encode_stats output; nullopt when the size is wrong.
std::optional<BlockStats> decode_stats(std::span<const std::byte> bytes);

/// Start of the bucket holding `ts` for buckets of `step` aligned to the Unix epoch.
inline core::TimeUs bucket_start(core::TimeUs ts, core::TimeUs step) {
  core::TimeUs b = ts / step * step;
  if (b > ts) b -= step;  // floor for negative times
  return b;
}

}  // namespace remhart::store
