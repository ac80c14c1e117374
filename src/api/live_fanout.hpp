#pragma once
// Carries committed samples from the storage thread to the live hub on a thread of its own, in
// commit order. The queue between them is bounded: when fan-out falls `max_queued` commits
// behind, a commit's live messages are dropped and counted — never the stored data, and never
// a wait on the storage thread.
#include <cstddef>
#include <span>
#include <vector>

#include "core/thread_pool.hpp"
#include "store/store.hpp"

namespace remhart::obs {
class Counter;
class Registry;
}  // namespace remhart::obs

namespace remhart::api {

class LiveHub;

class LiveFanout {
 public:
  LiveFanout(LiveHub& hub, std::size_t max_queued, obs::Registry* metrics = nullptr,
             core::ThreadPool::ErrorHandler on_error = {});

  /// The store's commit listener (runs on the storage thread; copies and queues).
  void on_commit(std::span<const store::CommittedSeries> committed);
  /// Samples another replica stored (through Redis): streamed like local ones, in arrival order,
  /// dropped and counted when the queue is full.
  void on_remote(std::vector<store::StoredSample> samples);
  /// Streams what is queued, then stops (shutdown).
  void drain() { pool_.drain(); }
  /// Samples not streamed because the queue was full.
  std::size_t dropped() const { return dropped_; }

 private:
  void post(std::vector<store::StoredSample> samples);
  LiveHub& hub_;
  std::size_t max_queued_;
  std::size_t dropped_ = 0;  // storage thread only
  obs::Counter* dropped_counter_ = nullptr;
  core::ThreadPool pool_;
};

}  // namespace remhart::api
