#include "obs/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace remhart::obs {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(double v) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::uint64_t acc = 0;
  for (std::size_t k = 0; k <= bounds_.size(); ++k) {
    acc += counts_[k].load(std::memory_order_relaxed);
    s.cumulative.push_back(acc);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = acc;
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, Type type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help,
                           const std::string& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::counter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help,
                       const std::string& labels) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::gauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::string& labels, std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto& slot = family(name, help, Type::histogram).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return *slot;
}

void Registry::gauge_fn(const std::string& name, const std::string& help,
                        std::function<double()> fn) {
  std::lock_guard lock(mu_);
  family(name, help, Type::gauge).fn = std::move(fn);
}

namespace {
std::string braces(const std::string& labels) {
  return labels.empty() ? "" : "{" + labels + "}";
}
std::string num(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}
}  // namespace

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    const char* type = fam.type == Type::counter ? "counter"
                       : fam.type == Type::gauge ? "gauge"
                                                 : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, fam.help, name, type);
    for (const auto& [labels, c] : fam.counters) {
      out += fmt::format("{}{} {}\n", name, braces(labels), c->value());
    }
    for (const auto& [labels, g] : fam.gauges) {
      out += fmt::format("{}{} {}\n", name, braces(labels), num(g->value()));
    }
    if (fam.fn) out += fmt::format("{} {}\n", name, num(fam.fn()));
    for (const auto& [labels, h] : fam.histograms) {
      const auto snap = h->snapshot();
      const std::string sep = labels.empty() ? "" : labels + ",";
      for (std::size_t k = 0; k < h->bounds().size(); ++k) {
        out += fmt::format("{}_bucket{{{}le=\"{}\"}} {}\n", name, sep, num(h->bounds()[k]),
                           snap.cumulative[k]);
      }
      out += fmt::format("{}_bucket{{{}le=\"+Inf\"}} {}\n", name, sep, snap.count);
      out += fmt::format("{}_sum{} {}\n", name, braces(labels), num(snap.sum));
      out += fmt::format("{}_count{} {}\n", name, braces(labels), snap.count);
    }
  }
  return out;
}

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace remhart::obs
