#include "api/security.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "api/errors.hpp"
#include "core/time.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace remhart::api {

using auth::Permission;
using auth::Principal;

namespace {

std::string bearer_token(const HttpRequest& req) {
  const std::string h = req.header("authorization");
  if (h.size() > 7 && (h.compare(0, 7, "Bearer ") == 0 || h.compare(0, 7, "bearer ") == 0)) {
    return h.substr(7);
  }
  return {};
}

// An audit entry naming `p` (actor, user id and role when a user).
auth::AuditEntry entry_for(const Principal& p, const char* kind, std::string event,
                           const std::string& ip) {
  auth::AuditEntry e;
  e.ts = core::now_us();
  e.kind = kind;
  e.event = std::move(event);
  e.actor = p.actor();
  if (p.is_user()) {
    e.user_id = p.user_id;
    e.role = std::string(auth::to_string(p.role));
  }
  e.ip = ip;
  return e;
}

// Who every caller is when authentication is switched off.
Principal unauthenticated_admin() {
  Principal p;
  p.kind = Principal::Kind::user;
  p.name = "auth-disabled";
  p.role = auth::Role::admin;
  return p;
}

std::string secs(double s) {
  return std::to_string(static_cast<long long>(std::ceil(std::max(0.0, s))));
}

}  // namespace

SecurityGate::SecurityGate(SecurityOptions options, auth::Authenticator* auth,
                           auth::AuditLog& audit, const store::Store& devices,
                           obs::Registry* metrics)
    : opt_(std::move(options)), auth_(auth), audit_(audit), devices_(devices) {
  if (opt_.auth_enabled && !auth_) throw std::invalid_argument("authentication needs a service");
  if (metrics) {
    denied_ = &metrics->counter("remhart_auth_denied_total",
                                "Requests refused with 401 or 403 by the security gate");
    limited_ = &metrics->counter("remhart_rate_limited_total", "Requests refused with 429");
    audit_skipped_ = &metrics->counter(
        "remhart_audit_anonymous_skipped_total",
        "Anonymous calls not written to the audit log (over its budget per minute)");
    metrics->gauge_fn("remhart_rate_limit_buckets", "Rate-limit buckets held in memory",
                      [this] { return static_cast<double>(limiter_.size()); });
    metrics->gauge_fn("remhart_ws_slots_used", "Live-stream connection slots taken", [this] {
      std::lock_guard lock(ws_mu_);
      return static_cast<double>(ws_total_);
    });
  }
}

bool SecurityGate::origin_allowed(const std::string& origin) const {
  return !origin.empty() && std::find(opt_.cors_origins.begin(), opt_.cors_origins.end(), origin) !=
                                opt_.cors_origins.end();
}

void SecurityGate::security_event(std::string event, const Principal& p, const std::string& ip,
                                  std::string detail) const {
  auto e = entry_for(p, "security", std::move(event), ip);
  e.detail = std::move(detail);
  audit_.record(std::move(e));
}

void SecurityGate::stream_call(const Principal& p, const std::string& ip, int status) const {
  auto e = entry_for(p, "request", "api_call", ip);
  e.method = "GET";
  e.route = "/ws/grid-data";
  e.status = status;
  audit_.record(std::move(e));
}

// The steps, in order: who is calling; the headers every answer carries (CORS, rate limit) and
// its audit record; the rate limit; a CORS preflight; the permission (deny by default).
bool SecurityGate::admit(HttpRequest& req, const Route* route, Reply& reply) const {
  const auto start = std::chrono::steady_clock::now();
  const std::string origin = req.header("origin");
  const bool cors = origin_allowed(origin);
  const std::string token = bearer_token(req);
  const std::string auth_error = identify(req, token);
  const bool probe = route && route->permission == Permission::probe;

  Headers extra = cors_headers(cors, origin);
  // Probes are exempt from the budget: health checks and scrapes must not be starved.
  const auto over_budget = probe ? std::nullopt : take_budget(req, extra);
  reply = answered_with(std::move(reply), std::move(extra), audit_record(req, route, probe), start);

  if (over_budget) {
    reply(error_response(*over_budget, req.request_id));
    return false;
  }
  if (req.method == "OPTIONS" && !req.header("access-control-request-method").empty()) {
    reply(preflight(cors, req.request_id));
    return false;
  }
  if (!route) return true;  // 404 / 405 follow, for everyone alike
  if (auto refusal = permission_refusal(req, *route, token, auth_error)) {
    reply(error_response(*refusal, req.request_id));
    return false;
  }
  return true;
}

std::string SecurityGate::identify(HttpRequest& req, const std::string& token) const {
  if (!opt_.auth_enabled) {
    req.principal = unauthenticated_admin();
    return {};
  }
  if (token.empty()) return {};
  auto r = auth_->authenticate(token);
  if (!r.principal) return std::move(r.error);
  req.principal = std::move(*r.principal);
  return {};
}

SecurityGate::Headers SecurityGate::cors_headers(bool allowed, const std::string& origin) const {
  Headers h;
  if (allowed) {
    h.emplace_back("Access-Control-Allow-Origin", origin);
    h.emplace_back("Access-Control-Expose-Headers",
                   "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, "
                   "RateLimit-Reset");
  }
  if (!opt_.cors_origins.empty()) h.emplace_back("Vary", "Origin");
  return h;
}

std::optional<core::Error> SecurityGate::take_budget(const HttpRequest& req, Headers& extra) const {
  const Principal& who = req.principal;
  std::string key;
  int budget = opt_.anonymous_per_min;
  switch (who.kind) {
    case Principal::Kind::user:
      key = "user:" + std::to_string(who.user_id);
      budget = who.role == auth::Role::admin ? opt_.admin_per_min : opt_.user_per_min;
      break;
    case Principal::Kind::device_key:
      key = "key:" + who.name;
      budget = who.rate_per_min > 0 ? static_cast<int>(who.rate_per_min) : opt_.device_key_per_min;
      break;
    case Principal::Kind::anonymous:
      key = "ip:" + req.remote_ip;
      break;
  }
  const auto now = auth::Clock::now();
  auto d = limiter_.take(key, budget, now);
  if (d.allowed && shared_ && !shared_->take(key, budget)) {
    d.allowed = false;  // the replicas together spent this minute's budget
    d.remaining = 0;
    d.retry_after_s = d.reset_s = shared_->reset_s();
  }
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
  if (now_s.count() - last_prune_.load() > 60) {
    last_prune_ = now_s.count();
    limiter_.prune(now);
  }
  extra.emplace_back("RateLimit-Limit", std::to_string(d.limit));
  extra.emplace_back("RateLimit-Remaining", std::to_string(d.remaining));
  extra.emplace_back("RateLimit-Reset", secs(d.reset_s));
  if (d.allowed) return std::nullopt;
  if (limited_) limited_->inc();
  return core::Error(core::ErrorKind::rate_limited,
                     "request budget of " + std::to_string(d.limit) + " per minute exhausted", "",
                     static_cast<int>(std::ceil(d.retry_after_s)));
}

// Probes are not audited row by row (the per-route metrics count them); anonymous calls are
// audited up to a global budget, so a flood from many addresses cannot grow the audit table
// without bound (the rest are counted).
std::optional<auth::AuditEntry> SecurityGate::audit_record(const HttpRequest& req,
                                                           const Route* route, bool probe) const {
  if (probe) return std::nullopt;
  if (req.principal.kind == Principal::Kind::anonymous &&
      !limiter_.take("audit:anonymous", kAnonymousAuditPerMin, auth::Clock::now()).allowed) {
    if (audit_skipped_) audit_skipped_->inc();
    return std::nullopt;
  }
  auto e = entry_for(req.principal, "request", "api_call", req.remote_ip);
  e.method = req.method;
  e.route = route ? route->pattern : req.path.substr(0, 256);
  e.request_id = req.request_id;
  return e;
}

// The reply every answer goes through: the extra headers added, the audit record written when
// the answer is sent (with its status and duration).
Reply SecurityGate::answered_with(Reply reply, Headers extra,
                                  std::optional<auth::AuditEntry> record,
                                  std::chrono::steady_clock::time_point start) const {
  return [reply = std::move(reply), extra = std::move(extra), record = std::move(record), start,
          audit = &audit_](HttpResponse r) mutable {
    for (auto& h : extra) r.headers.push_back(h);
    if (record) {
      record->status = r.status;
      record->ts = core::now_us();
      record->duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
      audit->record(std::move(*record));
    }
    reply(std::move(r));
  };
}

HttpResponse SecurityGate::preflight(bool allowed, const std::string& request_id) const {
  if (!allowed) {
    return error_response(core::Error(core::ErrorKind::forbidden, "origin not allowed", "Origin"),
                          request_id);
  }
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  r.headers = {{"Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"},
               {"Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id"},
               {"Access-Control-Max-Age", "600"}};
  return r;
}

// Deny by default: anonymous callers on a protected route, device keys anywhere but ingestion,
// users whose role lacks the route's permission. Refusals are audited as security events.
std::optional<core::Error> SecurityGate::permission_refusal(const HttpRequest& req,
                                                            const Route& route,
                                                            const std::string& token,
                                                            const std::string& auth_error) const {
  const Permission need = route.permission;
  if (need == Permission::probe || need == Permission::public_) return std::nullopt;
  const Principal& who = req.principal;
  auto unauthorized = [&](std::string message) {
    if (denied_) denied_->inc();
    if (!token.empty()) security_event("auth_failed", who, req.remote_ip, message);
    return core::Error(core::ErrorKind::unauthorized, std::move(message), "Authorization");
  };
  auto forbidden = [&](std::string message) {
    if (denied_) denied_->inc();
    security_event(
        "permission_denied", who, req.remote_ip,
        req.method + " " + route.pattern + " needs " + std::string(auth::to_string(need)));
    return core::Error(core::ErrorKind::forbidden, std::move(message));
  };
  switch (who.kind) {
    case Principal::Kind::anonymous:
      return unauthorized(auth_error.empty() ? "a bearer token is required" : auth_error);
    case Principal::Kind::device_key:
      if (need != Permission::ingest) return forbidden("device keys may only send measurements");
      return std::nullopt;
    case Principal::Kind::user:
      if (!auth::allows(who.role, need)) {
        return forbidden("the " + std::string(auth::to_string(who.role)) + " role lacks the " +
                         std::string(auth::to_string(need)) + " permission");
      }
      return std::nullopt;
  }
  return unauthorized("unauthenticated");
}

void SecurityGate::check_write_scope(const Principal& p,
                                     const std::vector<core::Sample>& samples) const {
  if (!p.is_device_key() || (p.device.empty() && p.site.empty())) return;
  const auto devices = p.site.empty() ? nullptr : devices_.devices();
  for (std::size_t k = 0; k < samples.size(); ++k) {
    const auto& id = samples[k].device;
    bool ok = p.device.empty() || id == p.device;
    if (ok && devices) {
      const auto it = devices->find(id);
      ok = it != devices->end() && it->second.site == p.site;
    }
    if (!ok) {
      throw core::Error(
          core::ErrorKind::forbidden,
          "item " + std::to_string(k) + ": this device key may not write device '" + id + "'",
          "device");
    }
  }
}

auth::AuthResult SecurityGate::authenticate_stream(std::string_view token) const {
  if (!opt_.auth_enabled) return {unauthenticated_admin(), {}};
  if (token.empty()) return {std::nullopt, "a token is required"};
  auto r = auth_->authenticate(token);
  if (r.principal && !r.principal->is_user()) {
    return {std::nullopt, "device keys may only send measurements"};
  }
  return r;
}

std::optional<core::Error> SecurityGate::acquire_stream(const std::string& ip, bool authenticated) {
  std::lock_guard lock(ws_mu_);
  if (ws_total_ >= opt_.ws_total) {
    return core::Error(core::ErrorKind::unavailable,
                       "the server has reached its limit of " + std::to_string(opt_.ws_total) +
                           " live connections",
                       "", kStreamRetryS);
  }
  if (!authenticated) {
    const int open_share =
        std::max(1, opt_.ws_total -
                        static_cast<int>(opt_.ws_total * SecurityOptions::kWsAuthenticatedShare));
    if (ws_unauthenticated_ >= open_share) {
      return core::Error(
          core::ErrorKind::unavailable,
          "too many live connections are waiting to authenticate; send the token in the URL", "",
          kStreamRetryS);
    }
    int& n = ws_unauthenticated_by_ip_[ip];
    if (n >= opt_.ws_unauthenticated_per_ip) {
      return core::Error(core::ErrorKind::rate_limited,
                         "at most " + std::to_string(opt_.ws_unauthenticated_per_ip) +
                             " unauthenticated live connections per address",
                         "", kStreamRetryS);
    }
    ++n;
    ++ws_unauthenticated_;
  }
  ++ws_total_;
  return std::nullopt;
}

void SecurityGate::stream_authenticated(const std::string& ip) {
  std::lock_guard lock(ws_mu_);
  --ws_unauthenticated_;
  if (auto it = ws_unauthenticated_by_ip_.find(ip);
      it != ws_unauthenticated_by_ip_.end() && --it->second <= 0) {
    ws_unauthenticated_by_ip_.erase(it);
  }
}

void SecurityGate::release_stream(const std::string& ip, bool authenticated) {
  if (!authenticated) stream_authenticated(ip);
  std::lock_guard lock(ws_mu_);
  --ws_total_;
}

std::optional<core::Error> SecurityGate::acquire_user_stream(std::int64_t user_id) {
  std::lock_guard lock(ws_mu_);
  int& n = ws_by_user_[user_id];
  if (n >= opt_.ws_per_user) {
    return core::Error(core::ErrorKind::rate_limited,
                       "at most " + std::to_string(opt_.ws_per_user) + " live connections per user",
                       "", kStreamRetryS);
  }
  ++n;
  return std::nullopt;
}

void SecurityGate::release_user_stream(std::int64_t user_id) {
  std::lock_guard lock(ws_mu_);
  if (auto it = ws_by_user_.find(user_id); it != ws_by_user_.end() && --it->second <= 0) {
    ws_by_user_.erase(it);
  }
}

}  // namespace remhart::api
