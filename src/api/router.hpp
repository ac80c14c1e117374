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

class Router {
 public:
  explicit Router(obs::Registry* metrics = nullptr) : metrics_(metrics) {}

  void add(std::string method, std::string pattern, Permission permission, Handler handler);

  /// Finds the route, fills path parameters, runs the handler; maps thrown errors to responses
  /// and answers 404 / 405 itself. Records request count and latency per route.
  void dispatch(HttpRequest& req, Reply reply) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  obs::Registry* metrics_;
  std::vector<Route> routes_;
};

}  // namespace remhart::api
