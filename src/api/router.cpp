#include "api/router.hpp"

#include <algorithm>
#include <chrono>

#include "api/errors.hpp"
#include "core/error.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

namespace {
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}
}  // namespace

namespace {
Route make_route(obs::Registry* metrics, std::string method, std::string pattern,
                 Permission permission, Handler handler, std::size_t body_limit) {
  Route r{std::move(method),   pattern, permission, std::move(handler),
          split_path(pattern), nullptr, nullptr,    body_limit};
  if (metrics) {
    r.latency = &metrics->histogram("remhart_http_request_duration_seconds",
                                    "HTTP request latency by route",
                                    "route=\"" + obs::label_value(r.pattern) + "\"");
    r.by_status = std::make_shared<std::array<std::atomic<obs::Counter*>, 600>>();
  }
  return r;
}
}  // namespace

void Router::add(std::string method, std::string pattern, Permission permission, Handler handler,
                 std::size_t body_limit) {
  routes_.push_back(make_route(metrics_, std::move(method), std::move(pattern), permission,
                               std::move(handler), body_limit));
}

void Router::set_fallback(std::string label, Permission permission, Handler handler) {
  fallback_ =
      make_route(metrics_, "GET", std::move(label), permission, std::move(handler), kSmallBody);
}

const Route* Router::match(std::string_view method, std::string_view path,
                           std::map<std::string, std::string>* params, bool* path_matched) const {
  const auto segments = split_path(path);
  for (const Route& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> found;
    bool ok = true;
    for (std::size_t k = 0; k < segments.size() && ok; ++k) {
      const std::string& s = r.segments[k];
      if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
        if (segments[k].empty()) ok = false;
        found[s.substr(1, s.size() - 2)] = segments[k];
      } else {
        ok = s == segments[k];
      }
    }
    if (!ok) continue;
    if (path_matched) *path_matched = true;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      if (params) *params = std::move(found);
      return &r;
    }
  }
  return nullptr;
}

std::size_t Router::body_limit(std::string_view method, std::string_view path,
                               std::size_t large) const {
  const Route* r = match(method, path, nullptr, nullptr);
  if (!r) return kSmallBody;  // answered 404 / 405 anyway
  if (r->body_limit == kLargeBody) return large;
  return r->body_limit ? r->body_limit : kDefaultBody;
}

void Router::dispatch(HttpRequest& req, Reply reply) const {
  bool path_matched = false;
  const Route* found = match(req.method, req.path, &req.params, &path_matched);
  if (!found && !path_matched && fallback_ && (req.method == "GET" || req.method == "HEAD") &&
      !req.path.starts_with("/api/") && !req.path.starts_with("/ws/")) {
    found = &*fallback_;
  }
  if (found && metrics_) {
    const auto start = std::chrono::steady_clock::now();
    reply = [reply = std::move(reply), start, route = found,
             metrics = metrics_](HttpResponse r) mutable {
      route->latency->observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      auto& slot = (*route->by_status)[static_cast<std::size_t>(std::clamp(r.status, 0, 599))];
      obs::Counter* counter = slot.load(std::memory_order_acquire);
      if (!counter) {
        counter = &metrics->counter(
            "remhart_http_requests_total", "HTTP requests by route, method and status",
            "route=\"" + obs::label_value(route->pattern) + "\",method=\"" + route->method +
                "\",status=\"" + std::to_string(r.status) + "\"");
        slot.store(counter, std::memory_order_release);
      }
      counter->inc();
      reply(std::move(r));
    };
  }
  try {
    if (guard_ && !guard_->admit(req, found, reply)) return;
  } catch (...) {
    reply(error_from_exception(std::current_exception(), req.request_id));
    return;
  }
  if (!found) {
    reply(error_response(path_matched
                             ? core::Error(core::ErrorKind::method_not_allowed,
                                           "method " + req.method + " is not allowed here")
                             : core::Error(core::ErrorKind::not_found, "no route for " + req.path),
                         req.request_id));
    return;
  }
  try {
    found->handler(req, reply);
  } catch (...) {
    reply(error_from_exception(std::current_exception(), req.request_id));
  }
}

}  // namespace remhart::api
