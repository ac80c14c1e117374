#include "api/study_runner.hpp"

#include <spdlog/spdlog.h>

#include "core/error.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

std::optional<std::string> StudyControl::stop_reason() const {
  if (disconnected_ && disconnected_->load(std::memory_order_relaxed)) {
    return "the client disconnected";
  }
  if (std::chrono::steady_clock::now() >= deadline_) return "the time budget was spent";
  return std::nullopt;
}

StudyRunner::StudyRunner(std::function<void(std::function<void()>)> run,
                         std::function<std::size_t()> waiting, StudyLimits limits,
                         obs::Registry* metrics)
    : run_(std::move(run)), waiting_(std::move(waiting)), limits_(limits) {
  if (metrics) {
    metrics->gauge_fn("remhart_studies_waiting", "Grid studies waiting for a study thread",
                      [this] { return static_cast<double>(waiting_()); });
  }
}

void StudyRunner::submit(const std::string& caller,
                         std::shared_ptr<const std::atomic<bool>> disconnected,
                         std::function<void(const StudyControl&)> job) {
  {
    std::lock_guard lock(mu_);
    unsigned& n = going_[caller];
    if (n >= limits_.per_user) {
      if (n == 0) going_.erase(caller);
      throw core::Error(core::ErrorKind::rate_limited,
                        "at most " + std::to_string(limits_.per_user) +
                            " grid studies at a time per user; wait for the last to finish",
                        "", 5);
    }
    if (waiting_() >= limits_.max_waiting) {
      if (n == 0) going_.erase(caller);
      throw core::Error(core::ErrorKind::unavailable, "the study threads are busy; retry shortly",
                        "", 5);
    }
    ++n;
  }
  run_([this, caller, disconnected = std::move(disconnected), job = std::move(job)] {
    try {
      job(StudyControl(disconnected, std::chrono::steady_clock::now() + limits_.budget));
    } catch (const std::exception& e) {  // jobs answer their own errors; this is a last resort
      spdlog::error("grid study of {} failed: {}", caller, e.what());
    }
    release(caller);
  });
}

void StudyRunner::release(const std::string& caller) {
  std::lock_guard lock(mu_);
  if (const auto it = going_.find(caller); it != going_.end() && --it->second == 0) {
    going_.erase(it);
  }
}

}  // namespace remhart::api
