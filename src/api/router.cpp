#include "api/router.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "core/error.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

std::optional<std::string> HttpRequest::arg(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::string HttpRequest::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string client_address(const std::string& peer, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies) {
  auto trusted = [&](std::string_view a) {
    return std::find(trusted_proxies.begin(), trusted_proxies.end(), a) != trusted_proxies.end();
  };
  if (!trusted(peer)) return peer;
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    const std::size_t comma = rest.rfind(',');
    std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    while (!hop.empty() && (hop.front() == ' ' || hop.front() == '\t')) hop.remove_prefix(1);
    while (!hop.empty() && (hop.back() == ' ' || hop.back() == '\t')) hop.remove_suffix(1);
    if (hop.empty() || hop.size() > 64) break;
    if (!trusted(hop)) return std::string(hop);
  }
  return peer;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '%' && k + 2 < s.size()) {
      const int hi = hex(s[k + 1]);
      const int lo = hex(s[k + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        k += 2;
        continue;
      }
    }
    out.push_back(s[k] == '+' ? ' ' : s[k]);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view part = q.substr(0, amp);
    if (!part.empty()) {
      const std::size_t eq = part.find('=');
      out.emplace_back(
          percent_decode(part.substr(0, eq)),
          eq == std::string_view::npos ? std::string() : percent_decode(part.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse error_response(int status, std::string_view code, std::string_view message,
                            std::string_view field, std::string_view request_id) {
  nlohmann::json j = {{"error", code}, {"message", message}, {"request_id", request_id}};
  if (!field.empty()) j["field"] = field;
  return json_response(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpResponse error_from_exception(std::exception_ptr e, std::string_view request_id) {
  try {
    std::rethrow_exception(e);
  } catch (const core::Error& err) {
    using core::ErrorKind;
    switch (err.kind()) {
      case ErrorKind::bad_request:
        return error_response(400, "bad_request", err.what(), err.field(), request_id);
      case ErrorKind::unauthorized: {
        auto r = error_response(401, "unauthorized", err.what(), err.field(), request_id);
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return r;
      }
      case ErrorKind::forbidden:
        return error_response(403, "forbidden", err.what(), err.field(), request_id);
      case ErrorKind::rate_limited: {
        auto r = error_response(429, "rate_limited", err.what(), err.field(), request_id);
        r.headers.emplace_back("Retry-After", std::to_string(std::max(1, err.retry_after_s())));
        return r;
      }
      case ErrorKind::not_found:
        return error_response(404, "not_found", err.what(), err.field(), request_id);
      case ErrorKind::conflict:
        return error_response(409, "conflict", err.what(), err.field(), request_id);
      case ErrorKind::too_large:
        return error_response(413, "too_large", err.what(), err.field(), request_id);
      case ErrorKind::unprocessable:
        return error_response(422, "unprocessable", err.what(), err.field(), request_id);
      case ErrorKind::unavailable: {
        auto r = error_response(503, "unavailable", err.what(), err.field(), request_id);
        r.headers.emplace_back("Retry-After", std::to_string(std::max(1, err.retry_after_s())));
        return r;
      }
      case ErrorKind::internal:
        break;
    }
    return error_response(500, "internal", err.what(), err.field(), request_id);
  } catch (const nlohmann::json::exception& err) {
    return error_response(400, "bad_request", err.what(), "", request_id);
  } catch (const std::exception& err) {
    // Not an error of the request: the details (storage text, paths) go to the log, the client
    // gets the request id to quote.
    spdlog::error("request {} failed: {}", request_id, err.what());
    return error_response(500, "internal", "internal error; the server log has the details", "",
                          request_id);
  } catch (...) {
    spdlog::error("request {} failed with an unknown exception", request_id);
    return error_response(500, "internal", "internal error; the server log has the details", "",
                          request_id);
  }
}

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

void Router::add(std::string method, std::string pattern, Permission permission, Handler handler,
                 std::size_t body_limit) {
  Route r{std::move(method),   pattern, permission, std::move(handler),
          split_path(pattern), nullptr, nullptr,    body_limit};
  if (metrics_) {
    r.latency = &metrics_->histogram("remhart_http_request_duration_seconds",
                                     "HTTP request latency by route",
                                     "route=\"" + obs::label_value(r.pattern) + "\"");
    r.by_status = std::make_shared<std::array<std::atomic<obs::Counter*>, 600>>();
  }
  routes_.push_back(std::move(r));
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
    reply(path_matched
              ? error_response(405, "method_not_allowed",
                               "method " + req.method + " is not allowed here", "", req.request_id)
              : error_response(404, "not_found", "no route for " + req.path, "", req.request_id));
    return;
  }
  try {
    found->handler(req, reply);
  } catch (...) {
    reply(error_from_exception(std::current_exception(), req.request_id));
  }
}

}  // namespace remhart::api
