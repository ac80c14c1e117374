#pragma once
// Route table with path parameters (`/api/grid/devices/{id}`), declared permissions and the
// per-route request metrics.
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "api/http.hpp"

namespace remhart::obs {
class Registry;
class Histogram;
class Counter;
}  // namespace remhart::obs

namespace remhart::api {

struct Route {
  std::string method;
  std::string pattern;
  Permission permission;
  Handler handler;
  std::vector<std::string> segments;  // "{name}" segments capture
  // Metrics, resolved once so a request touches no registry lock: latency, and a request
  // counter per status code (filled on first use).
  obs::Histogram* latency = nullptr;
  std::shared_ptr<std::array<std::atomic<obs::Counter*>, 600>> by_status;
};

/// Runs before every handler (the security gate). It may answer by itself (401, 403, 429, CORS
/// preflight) and may wrap the reply (audit, headers). `route` is null when nothing matched.
class Guard {
 public:
  virtual ~Guard() = default;
  /// Returns false when it has answered.
  virtual bool admit(HttpRequest& req, const Route* route, Reply& reply) const = 0;
};

class Router {
 public:
  explicit Router(obs::Registry* metrics = nullptr) : metrics_(metrics) {}

  void set_guard(const Guard* guard) { guard_ = guard; }

  void add(std::string method, std::string pattern, Permission permission, Handler handler);

  /// Finds the route, fills path parameters, passes the guard, runs the handler; maps thrown
  /// errors to responses and answers 404 / 405 itself. Records request count and latency per
  /// route.
  void dispatch(HttpRequest& req, Reply reply) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  obs::Registry* metrics_;
  const Guard* guard_ = nullptr;
  std::vector<Route> routes_;
};

}  // namespace remhart::api
