#include "api/live_fanout.hpp"

#include <memory>
#include <vector>

#include "api/live_hub.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

LiveFanout::LiveFanout(LiveHub& hub, std::size_t max_queued, obs::Registry* metrics,
                       core::ThreadPool::ErrorHandler on_error)
    : hub_(hub), max_queued_(max_queued), pool_(1, std::move(on_error)) {
  if (metrics) {
    dropped_counter_ =
        &metrics->counter("remhart_live_fanout_dropped_total",
                          "Stored samples not streamed live because the fan-out queue was full");
    metrics->gauge_fn("remhart_live_fanout_queued",
                      "Commits waiting to be fanned out to WebSockets",
                      [this] { return static_cast<double>(pool_.queued()); });
  }
}

void LiveFanout::on_commit(std::span<const store::CommittedSeries> committed) {
  if (hub_.clients() == 0) return;
  std::size_t n = 0;
  for (const auto& c : committed) n += c.records.size();
  if (pool_.queued() >= max_queued_) {
    dropped_ += n;
    if (dropped_counter_) dropped_counter_->inc(n);
    return;
  }
  std::vector<store::StoredSample> copy;
  copy.reserve(n);
  for (const auto& c : committed) {
    for (const auto& r : c.records) copy.push_back({c.device, c.origin, r});
  }
  post(std::move(copy));
}

void LiveFanout::post(std::vector<store::StoredSample> samples) {
  auto shared = std::make_shared<std::vector<store::StoredSample>>(std::move(samples));
  pool_.post([this, shared] { hub_.publish(*shared); });
}

void LiveFanout::on_remote(std::vector<store::StoredSample> samples) {
  if (hub_.clients() == 0 || samples.empty()) return;
  if (pool_.queued() >= max_queued_) {
    if (dropped_counter_) dropped_counter_->inc(samples.size());
    return;
  }
  post(std::move(samples));
}

}  // namespace remhart::api
