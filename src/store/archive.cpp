#include "store/archive.hpp"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <stdexcept>

#include "store/block_codec.hpp"
#include "store/object_store.hpp"
#include "store/series.hpp"
#include "store/store.hpp"

namespace remhart::store {

using core::Record;
using core::TimeUs;

namespace {

constexpr TimeUs kDay = 86'400 * core::kUsPerSecond;
constexpr std::string_view kSuffix = ".rhb";

std::string day_text(TimeUs day) {
  using namespace std::chrono;
  const year_month_day d{floor<days>(sys_time<microseconds>(microseconds(day)))};
  return fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(d.year()),
                     static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
}

std::optional<TimeUs> parse_day(std::string_view file) {
  if (file.size() != 10 + kSuffix.size() || file.substr(10) != kSuffix) return std::nullopt;
  int y = 0;
  unsigned m = 0, d = 0;
  if (std::sscanf(std::string(file.substr(0, 10)).c_str(), "%4d-%2u-%2u", &y, &m, &d) != 3) {
    return std::nullopt;
  }
  using namespace std::chrono;
  const year_month_day ymd{year{y}, month{m}, day{d}};
  if (!ymd.ok()) return std::nullopt;
  return duration_cast<microseconds>(sys_days{ymd}.time_since_epoch()).count();
}

// "real" stays; "sim:<run>" becomes "sim/<run>" (object names have no ':').
std::string origin_path(std::string_view origin) {
  std::string out(origin);
  for (char& c : out) {
    if (c == ':') c = '/';
  }
  return out;
}

std::vector<Record> read_hot(const Store& store, std::string_view device, std::string_view origin,
                             TimeUs from, TimeUs to) {
  std::vector<Record> out;
  DataQuery q;
  q.device = std::string(device);
  q.origin = std::string(origin);
  q.from = from;
  q.to = to;
  q.ascending = true;
  q.limit = 100'000;
  for (;;) {
    auto page = store.query(q);
    out.insert(out.end(), page.records.begin(), page.records.end());
    if (!page.more || page.records.empty()) break;
    q.from = page.records.back().ts + 1;
  }
  return out;
}

}  // namespace

std::string archive_prefix(std::string_view origin, std::string_view device) {
  return "archive/" + origin_path(origin) + "/" + std::string(device) + "/";
}

std::string archive_name(std::string_view origin, std::string_view device, TimeUs day) {
  return archive_prefix(origin, device) + day_text(day) + std::string(kSuffix);
}

std::vector<Record> read_archive(const core::ObjectStore& objects, std::string_view origin,
                                 std::string_view device, TimeUs from, TimeUs to) {
  std::vector<Record> out;
  const auto prefix = archive_prefix(origin, device);
  for (const auto& info : objects.list(prefix)) {
    const auto day = parse_day(std::string_view(info.name).substr(prefix.size()));
    if (!day || *day + kDay <= from || *day >= to) continue;
    const auto bytes = objects.get(info.name);
    if (!bytes) continue;  // removed meanwhile
    auto records = decode_block(*bytes);
    if (!records) throw std::runtime_error("archive file " + info.name + " is corrupt");
    for (const auto& r : *records) {
      if (r.ts >= from && r.ts < to) out.push_back(r);
    }
  }
  std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) { return a.ts < b.ts; });
  return out;
}

std::size_t remove_archives(core::ObjectStore& objects, std::string_view origin) {
  std::size_t n = 0;
  for (const auto& info : objects.list("archive/" + origin_path(origin) + "/")) {
    n += objects.remove(info.name) ? 1 : 0;
  }
  return n;
}

std::vector<std::string> archived_devices(const core::ObjectStore& objects,
                                          std::string_view origin) {
  const auto prefix = "archive/" + origin_path(origin) + "/";
  std::vector<std::string> out;
  for (const auto& info : objects.list(prefix)) {
    const auto rest = std::string_view(info.name).substr(prefix.size());
    const auto slash = rest.find('/');
    // Only <device>/<day>.rhb: a sim run's prefix must not see another run's deeper names.
    if (slash == std::string_view::npos || rest.find('/', slash + 1) != std::string_view::npos) {
      continue;
    }
    const std::string device(rest.substr(0, slash));
    if (out.empty() || out.back() != device) out.push_back(device);
  }
  return out;
}

ArchiveRound archive_old_samples(Store& store, core::ObjectStore& objects,
                                 const RetentionPolicy& policy, TimeUs now) {
  ArchiveRound round;
  for (const auto& key : store.list_series()) {
    const bool real = key.origin == core::kOriginReal;
    const std::int64_t keep_days = real ? policy.real_days : policy.sim_days;
    if (keep_days <= 0) continue;
    const TimeUs cutoff = bucket_start(now - keep_days * kDay, kDay);
    bool touched = false;
    for (std::size_t n = 0;; ++n) {
      DataQuery oldest;
      oldest.device = key.device;
      oldest.origin = key.origin;
      oldest.to = cutoff;
      oldest.ascending = true;
      oldest.limit = 1;
      const auto first = store.query(oldest);
      if (first.records.empty()) break;
      if (n == policy.max_days_per_round) {
        round.more = true;
        break;
      }
      const TimeUs day = bucket_start(first.records.front().ts, kDay);
      const TimeUs end = day + kDay;
      // Retried when samples of the day arrive between reading and deleting them.
      for (int attempt = 0;; ++attempt) {
        const auto hot = read_hot(store, key.device, key.origin, day, end);
        const auto name = archive_name(key.origin, key.device, day);
        std::map<TimeUs, core::Values> merged;
        if (const auto old = objects.get(name)) {
          const auto before = decode_block(*old);
          if (!before) throw std::runtime_error("archive file " + name + " is corrupt");
          for (const auto& r : *before) merged.emplace(r.ts, r.values);
        }
        for (const auto& r : hot) merged.emplace(r.ts, r.values);  // the archived one wins
        std::vector<Record> records;
        records.reserve(merged.size());
        for (const auto& [ts, values] : merged) records.push_back({ts, values});
        objects.put(name, encode_block(records));
        if (store.delete_before(key.device, key.origin, end, hot.size())) {
          ++round.days;
          round.samples += hot.size();
          touched = true;
          break;
        }
        if (attempt == 3) throw std::runtime_error("samples of " + name + " keep arriving");
      }
    }
    if (touched) ++round.series;
  }
  return round;
}

}  // namespace remhart::store
