#pragma once
// A fixed pool of worker threads running posted jobs in FIFO order.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace remhart::core {

class ThreadPool {
 public:
  /// Called (on the worker) with what a job threw; a job's exception never ends the process.
  using ErrorHandler = std::function<void(const std::string& what)>;

  explicit ThreadPool(std::size_t threads, ErrorHandler on_error = {})
      : on_error_(std::move(on_error)) {
    for (std::size_t k = 0; k < threads; ++k) workers_.emplace_back([this] { work(); });
  }
  ~ThreadPool() { drain(); }

  /// Runs the jobs still queued, then stops the threads; later posts are dropped. Shutdown
  /// calls it before the objects the jobs use go away.
  void drain() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) {
      if (t.joinable()) t.join();
    }
    std::lock_guard lock(mu_);
    drained_ = true;
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Queues a job; jobs still queued at destruction run before the threads exit.
  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mu_);
      if (drained_) return;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  std::size_t queued() const {
    std::lock_guard lock(mu_);
    return jobs_.size();
  }

  /// Jobs that threw.
  std::size_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        job();
      } catch (const std::exception& e) {
        failed(e.what());
      } catch (...) {
        failed("unknown exception");
      }
    }
  }

  void failed(const std::string& what) noexcept {
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (!on_error_) return;
    try {
      on_error_(what);
    } catch (...) {  // a failing handler must not end the worker either
    }
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  bool drained_ = false;
  ErrorHandler on_error_;
  std::atomic<std::size_t> failures_{0};
  std::vector<std::thread> workers_;
};

}  // namespace remhart::core
