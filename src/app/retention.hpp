#pragma once
// The retention job: every `interval`, archives what is older than the policy allows (sooner
// again while a round leaves more) — on one replica at a time, the retention lease's holder.
// Failures are logged and counted; the job keeps running.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "store/archive.hpp"

namespace remhart::obs {
class Registry;
class Counter;
}  // namespace remhart::obs

namespace remhart::app {

class RetentionJob {
 public:
  /// `leads`: whether this replica runs the rounds now (the retention lease); a round is
  /// skipped while it says no.
  RetentionJob(
      store::Store& store, core::ObjectStore& objects, store::RetentionPolicy policy,
      std::chrono::seconds interval, obs::Registry& metrics,
      std::function<bool()> leads = [] { return true; });
  ~RetentionJob();
  RetentionJob(const RetentionJob&) = delete;
  RetentionJob& operator=(const RetentionJob&) = delete;

 private:
  void loop();
  store::Store& store_;
  core::ObjectStore& objects_;
  store::RetentionPolicy policy_;
  std::chrono::seconds interval_;
  std::function<bool()> leads_;
  obs::Counter& samples_;
  obs::Counter& days_;
  obs::Counter& failures_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace remhart::app
