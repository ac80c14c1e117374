#pragma once
// Route table with path parameters (`/api/grid/devices/{id}`), declared permissions and the
// per-route request metrics.
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
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
  /// Largest request body in bytes; 0: Router::kDefaultBody; Router::kLargeBody: the server's
  /// configured limit (ingest).
  std::size_t body_limit = 0;
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

  /// Body limits: small by default (a client cannot make the server hold or parse megabytes
  /// where a few kilobytes do); routes that take data say so.
  static constexpr std::size_t kSmallBody = 16 * 1024;
  static constexpr std::size_t kDefaultBody = 1024 * 1024;
  static constexpr std::size_t kLargeBody = static_cast<std::size_t>(-1);

  void add(std::string method, std::string pattern, Permission permission, Handler handler,
           std::size_t body_limit = 0);

  /// Answers GET and HEAD requests that match no route, outside /api/ and /ws/ (the dashboard's
  /// files and its application routes); shown as route `label` in metrics and the audit.
  void set_fallback(std::string label, Permission permission, Handler handler);

  /// The body limit of the route `method` `path` would reach (`large` for kLargeBody routes).
  std::size_t body_limit(std::string_view method, std::string_view path, std::size_t large) const;

  /// Finds the route, fills path parameters, passes the guard, runs the handler; maps thrown
  /// errors to responses and answers 404 / 405 itself. Records request count and latency per
  /// route.
  void dispatch(HttpRequest& req, Reply reply) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  const Route* match(std::string_view method, std::string_view path,
                     std::map<std::string, std::string>* params, bool* path_matched) const;
  obs::Registry* metrics_;
  const Guard* guard_ = nullptr;
  std::vector<Route> routes_;
  std::optional<Route> fallback_;
};

}  // namespace remhart::api
