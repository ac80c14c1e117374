#include "store/series.hpp"

#include <algorithm>
#include <cstring>

namespace remhart::store {

std::optional<Agg> parse_agg(std::string_view s) {
  if (s == "avg") return Agg::avg;
  if (s == "min") return Agg::min;
  if (s == "max") return Agg::max;
  if (s == "last") return Agg::last;
  return std::nullopt;
}

void FieldStats::add(double x, core::TimeUs ts) {
  if (!core::is_present(x)) return;
  n += 1;
  sum += x;
  min = std::min(min, x);
  max = std::max(max, x);
  if (ts >= last_ts) {
    last_ts = ts;
    last = x;
  }
}

void FieldStats::merge(const FieldStats& o) {
  if (o.n == 0) return;
  n += o.n;
  sum += o.sum;
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  if (o.last_ts >= last_ts) {
    last_ts = o.last_ts;
    last = o.last;
  }
}

double FieldStats::value(Agg agg) const {
  if (n == 0) return core::kAbsent;
  switch (agg) {
    case Agg::avg:
      return sum / n;
    case Agg::min:
      return min;
    case Agg::max:
      return max;
    case Agg::last:
      return last;
  }
  return core::kAbsent;
}

void BlockStats::add(const core::Record& r) {
  const auto all = core::all_fields(r.values);
  for (std::size_t k = 0; k < core::kFieldCount; ++k) fields[k].add(all[k], r.ts);
}

std::vector<double> encode_stats(const BlockStats& s) {
  std::vector<double> out;
  out.reserve(core::kFieldCount * 6);
  for (const auto& f : s.fields) {
    out.insert(out.end(), {f.n, f.sum, f.min, f.max, f.last, static_cast<double>(f.last_ts)});
  }
  return out;
}

std::optional<BlockStats> decode_stats(std::span<const std::byte> bytes) {
  if (bytes.size() != core::kFieldCount * 6 * sizeof(double)) return std::nullopt;
  std::vector<double> v(core::kFieldCount * 6);
  std::memcpy(v.data(), bytes.data(), bytes.size());
  BlockStats s;
  for (std::size_t k = 0; k < core::kFieldCount; ++k) {
    const double* p = &v[k * 6];
    s.fields[k] = FieldStats{p[0], p[1], p[2], p[3], p[4], static_cast<core::TimeUs>(p[5])};
  }
  return s;
}

}  // namespace remhart::store
