#pragma once
// Grid studies (power flow, state estimation, N-1) can take seconds to minutes on large models.
// They run on their own bounded pool, so reads, ingestion and logins never queue behind them; a
// caller has at most `per_user` going or waiting; each study has a time budget and stops early
// when its client goes away.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace remhart::obs {
class Registry;
}

namespace remhart::api {

struct StudyLimits {
  unsigned per_user = 1;            ///< studies going or waiting per caller
  std::size_t max_waiting = 8;      ///< studies waiting for a thread, all callers
  std::chrono::seconds budget{60};  ///< a study's time budget from its admission
};

/// What a running study checks between steps.
class StudyControl {
 public:
  StudyControl(std::shared_ptr<const std::atomic<bool>> disconnected,
               std::chrono::steady_clock::time_point deadline)
      : disconnected_(std::move(disconnected)), deadline_(deadline) {}
  /// Why the study should stop now (the client left, or the time budget is spent), or nullopt.
  std::optional<std::string> stop_reason() const;

 private:
  std::shared_ptr<const std::atomic<bool>> disconnected_;
  std::chrono::steady_clock::time_point deadline_;
};

class StudyRunner {
 public:
  /// `run` queues a job on the study pool; `waiting` says how many wait there.
  StudyRunner(std::function<void(std::function<void()>)> run, std::function<std::size_t()> waiting,
              StudyLimits limits, obs::Registry* metrics = nullptr);

  /// Admits a study of `caller` and queues `job` (which must answer its client itself, also when
  /// its control says stop before it began), or throws core::Error: rate_limited when the caller
  /// has `per_user` studies already, unavailable when `max_waiting` wait. `disconnected` (may be
  /// null) turns true when the client goes away.
  void submit(const std::string& caller, std::shared_ptr<const std::atomic<bool>> disconnected,
              std::function<void(const StudyControl&)> job);

 private:
  void release(const std::string& caller);
  std::function<void(std::function<void()>)> run_;
  std::function<std::size_t()> waiting_;
  StudyLimits limits_;
  std::mutex mu_;
  std::unordered_map<std::string, unsigned> going_;  // by caller
};

}  // namespace remhart::api
