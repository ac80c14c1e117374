#pragma once
// A task repeated on a thread of its own until destruction (watchers of state other replicas
// change: the active network model, the active analytics models).
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace remhart::core {

class Periodic {
 public:
  /// Called (on the task's thread) with what a round threw; the next round comes all the same.
  using ErrorHandler = std::function<void(const std::string& what)>;

  /// Runs `task` every `every`, first after one interval, on a thread named `name` (at most 15
  /// characters shown).
  Periodic(std::string name, std::chrono::milliseconds every, std::function<void()> task,
           ErrorHandler on_error)
      : thread_([this, name = std::move(name), every, task = std::move(task),
                 on_error = std::move(on_error)] {
          pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, every, [this] { return stopping_; })) {
            lock.unlock();
            try {
              task();
            } catch (const std::exception& e) {
              on_error(e.what());
            } catch (...) {
              on_error("unknown error");
            }
            lock.lock();
          }
        }) {}
  /// Waits for a round in progress, then stops.
  ~Periodic() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the members above exist
};

}  // namespace remhart::core
