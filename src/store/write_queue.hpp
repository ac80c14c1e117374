#pragma once
// The queue between the threads that submit batches and a store's one writer thread, shared by
// both stores: bounded by samples (a full queue refuses — the caller's back-pressure), control
// jobs that run on the writer in queue order, groups of up to `group_samples` samples for one
// commit, and how long the oldest batch not yet committed has waited (the ingest lag).
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace remhart::store {

class WriteQueue {
 public:
  using Clock = std::chrono::steady_clock;
  struct Job {
    std::string origin;
    std::vector<core::Sample> samples;
    WriteCallback done;
    std::function<void()> control;  ///< runs on the writer thread instead of a write
    Clock::time_point queued_at = Clock::now();
  };

  WriteQueue(std::size_t max_samples, std::size_t group_samples)
      : max_samples_(max_samples), group_samples_(group_samples) {}

  /// Queues a batch; false (nothing queued) when it does not fit or the queue is stopping.
  bool submit(std::string origin, std::vector<core::Sample> samples, WriteCallback done);
  /// Runs `fn` on the writer thread after everything queued before it; waits and rethrows.
  void run_on_writer(std::function<void()> fn);

  /// Writer thread: the next group — one control job, or batches of up to `group_samples` — after
  /// waiting up to `wait`; an empty group when there was none; nullopt once stopped and drained.
  std::optional<std::deque<Job>> next_group(std::chrono::milliseconds wait);
  /// Writer thread: `group` (from next_group) is done — its callbacks have run or are about to.
  void finished(const std::deque<Job>& group);

  /// No new batches; next_group drains what is queued, then returns nullopt.
  void stop();
  std::size_t queued_samples() const;
  /// How long the oldest batch not yet committed (queued or in the writer's hands) has waited.
  double wait_s() const;

 private:
  const std::size_t max_samples_, group_samples_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::size_t queued_samples_ = 0;
  std::optional<Clock::time_point> inflight_since_;
  bool stopping_ = false;
};

}  // namespace remhart::store
