#include "app/retention.hpp"

#include <spdlog/spdlog.h>

#include "obs/metrics.hpp"
#include "store/object_store.hpp"

namespace remhart::app {

RetentionJob::RetentionJob(store::Store& store, core::ObjectStore& objects,
                           store::RetentionPolicy policy, std::chrono::seconds interval,
                           obs::Registry& metrics, std::function<bool()> leads)
    : store_(store),
      objects_(objects),
      policy_(policy),
      interval_(interval),
      leads_(std::move(leads)),
      samples_(metrics.counter("remhart_archive_samples_total",
                               "Samples moved from the hot store into archive files")),
      days_(metrics.counter("remhart_archive_days_total", "Archive day files written")),
      failures_(metrics.counter("remhart_background_failures_total", "Background jobs that failed",
                                "pool=\"retention\"")),
      thread_([this] { loop(); }) {}

RetentionJob::~RetentionJob() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RetentionJob::loop() {
  // A first round shortly after start, then every interval.
  std::chrono::seconds wait = std::min(interval_, std::chrono::seconds(30));
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
    }
    wait = interval_;
    try {
      if (!leads_()) continue;
      const auto round = store::archive_old_samples(store_, objects_, policy_, core::now_us());
      samples_.inc(round.samples);
      days_.inc(round.days);
      if (round.days > 0) {
        spdlog::info("retention: {} samples of {} series archived into {} day files in {}",
                     round.samples, round.series, round.days, objects_.where());
      }
      if (round.more) wait = std::chrono::seconds(10);
    } catch (const std::exception& e) {
      failures_.inc();
      spdlog::error("retention job failed: {} (tried again in {} s)", e.what(), wait.count());
    } catch (...) {
      failures_.inc();
      spdlog::error("retention job failed (tried again in {} s)", wait.count());
    }
  }
}

}  // namespace remhart::app
