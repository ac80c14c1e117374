#pragma once
// The state estimator running on its own: every `interval` it estimates the active source (the
// pinned simulation run, else real meters) on the active model — its devices' newest samples
// completed by pseudo-measurements — keeps the answer, which GET /api/grid/state serves while it
// is fresh, and sends it to the live stream as a `network_state` message. One thread; an
// unobservable network is an outcome (counted, no estimate kept); any other failure is logged
// and counted, and the next round comes anyway.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/time.hpp"

namespace remhart::obs {
class Counter;
class Registry;
}  // namespace remhart::obs

namespace remhart::api {

struct ApiContext;

class StateService {
 public:
  /// Starts estimating at once, then every `interval`.
  StateService(ApiContext& ctx, std::chrono::milliseconds interval, obs::Registry* metrics);
  ~StateService();
  StateService(const StateService&) = delete;
  StateService& operator=(const StateService&) = delete;

  /// The latest estimate of `origin` on model version `network_id` (a GET /api/grid/state body),
  /// when it is at most two intervals old.
  std::optional<std::string> fresh(const std::string& origin, std::int64_t network_id) const;

 private:
  void run(std::stop_token stop);
  void round();

  ApiContext& ctx_;
  std::chrono::milliseconds interval_;
  obs::Counter* done_ = nullptr;
  obs::Counter* unobservable_ = nullptr;
  obs::Counter* failed_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  struct Kept {
    std::string origin;
    std::int64_t network_id = 0;
    std::chrono::steady_clock::time_point at;
    std::shared_ptr<const std::string> body;
  };
  std::optional<Kept> kept_;
  std::jthread thread_;  // last: stops (and joins) first
};

}  // namespace remhart::api
