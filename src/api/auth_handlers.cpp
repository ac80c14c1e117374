// Identity routes: login, token refresh, logout, the caller's profile, user administration with
// GDPR export and erase, device keys and the audit log. Blocking work (Argon2id, database) runs
// on the job pool.
#include <charconv>
#include <set>

#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/query_params.hpp"
#include "api/router.hpp"
#include "api/session_cookie.hpp"
#include "auth/authenticator.hpp"
#include "auth/user_export.hpp"
#include "core/error.hpp"
#include "core/measurement.hpp"
#include "core/time.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

json time_or_null(std::optional<std::int64_t> t) {
  return t ? json(core::format_rfc3339(*t)) : json(nullptr);
}

json user_json(const auth::User& u) {
  return {{"id", u.id},
          {"username", u.username},
          {"email", u.email},
          {"full_name", u.full_name},
          {"role", u.role},
          {"disabled", u.disabled},
          {"created_at", core::format_rfc3339(u.created_at)},
          {"updated_at", core::format_rfc3339(u.updated_at)},
          {"last_login_at", time_or_null(u.last_login_at)}};
}

json key_json(const auth::DeviceKey& k) {
  return {{"id", k.id},
          {"name", k.name},
          {"device", k.device.empty() ? json(nullptr) : json(k.device)},
          {"site", k.site.empty() ? json(nullptr) : json(k.site)},
          {"rate_per_min", k.rate_per_min},
          {"created_at", core::format_rfc3339(k.created_at)},
          {"created_by", k.created_by},
          {"revoked_at", time_or_null(k.revoked_at)}};
}

json audit_json(const auth::AuditEntry& e) {
  return {{"id", e.id},
          {"ts", core::format_rfc3339(e.ts)},
          {"kind", e.kind},
          {"event", e.event},
          {"actor", e.actor},
          {"user_id", e.user_id ? json(*e.user_id) : json(nullptr)},
          {"role", e.role},
          {"method", e.method},
          {"route", e.route},
          {"status", e.status},
          {"duration_ms", static_cast<double>(e.duration_us) / 1000.0},
          {"ip", e.ip},
          {"request_id", e.request_id},
          {"detail", e.detail}};
}

auth::Actor actor_of(const HttpRequest& req) {
  auth::Actor a;
  a.name = req.principal.actor();
  if (req.principal.is_user()) a.user_id = req.principal.user_id;
  a.ip = req.remote_ip;
  a.request_id = req.request_id;
  return a;
}

/// Rejects keys outside `allowed` (so a typo or an attempt to set a hidden field is visible).
void only_keys(const json& j, const std::set<std::string>& allowed) {
  for (const auto& [k, v] : j.items()) {
    if (!allowed.count(k)) throw Error(ErrorKind::unprocessable, "is not a known field", k);
  }
}

std::optional<std::string> opt_string(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw Error(ErrorKind::unprocessable, "must be a string", key);
  return it->get<std::string>();
}

std::string req_string(const json& j, const char* key) {
  auto v = opt_string(j, key);
  if (!v) throw Error(ErrorKind::unprocessable, "is required", key);
  return *v;
}

/// Fields of a login or refresh: a JSON object or an OAuth2 form
/// (application/x-www-form-urlencoded). A JSON object sent under the form type (what
/// `curl -d '{…}'` does) is read as JSON: a form body never starts with '{'.
std::map<std::string, std::string> credentials(const HttpRequest& req) {
  std::map<std::string, std::string> out;
  const std::string ct = req.header("content-type");
  if (ct.starts_with("application/x-www-form-urlencoded") && !req.body.starts_with("{")) {
    for (auto& [k, v] : parse_query(req.body)) out.emplace(k, v);
    return out;
  }
  const json j = json_object_body(req.body);
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) throw Error(ErrorKind::unprocessable, "must be a string", k);
    out[k] = v.get<std::string>();
  }
  return out;
}

std::string field(const std::map<std::string, std::string>& m, const char* key) {
  const auto it = m.find(key);
  if (it == m.end() || it->second.empty())
    throw Error(ErrorKind::unprocessable, "is required", key);
  return it->second;
}

/// The login reply; a browser session keeps the refresh token out of it (it is in the cookie).
std::string session_json(const auth::Session& s, bool with_refresh_token = true) {
  const auto& u = s.user;
  json out = {{"access_token", s.access_token},
              {"token_type", "bearer"},
              {"expires_in", s.expires_in},
              {"user",
               {{"id", u.id},
                {"username", u.username},
                {"email", u.email},
                {"full_name", u.full_name},
                {"role", u.role}}}};
  if (with_refresh_token) out["refresh_token"] = s.refresh_token;
  return dump_json(out);
}

// A browser session's answer: the access token in the body, the refresh token in the cookie.
HttpResponse browser_session(const auth::Session& s, const CookiePolicy& policy) {
  auto r = json_response(200, session_json(s, false));
  r.headers.emplace_back("Set-Cookie", session_cookie_header(s.refresh_token, policy));
  return r;
}

std::int64_t id_param(const HttpRequest& req) {
  const auto& s = req.params.at("id");
  std::int64_t id = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || p != s.data() + s.size() || id <= 0) {
    throw Error(ErrorKind::not_found, "no such user");
  }
  return id;
}

json export_json(const auth::UserExport& e) {
  json sessions = json::array();
  for (const auto& t : e.sessions) {
    sessions.push_back({{"family", t.family},
                        {"issued_at", core::format_rfc3339(t.issued_at)},
                        {"expires_at", core::format_rfc3339(t.expires_at)},
                        {"used_at", time_or_null(t.used_at)},
                        {"revoked_at", time_or_null(t.revoked_at)}});
  }
  json keys = json::array(), rows = json::array();
  for (const auto& k : e.device_keys_created) keys.push_back(key_json(k));
  for (const auto& row : e.audit) rows.push_back(audit_json(row));
  return {{"exported_at", core::format_rfc3339(core::now_us())},
          {"user", user_json(e.user)},
          {"password", "stored only as an Argon2id hash, not exported"},
          {"sessions", sessions},
          {"device_keys_created", keys},
          {"audit", rows}};
}

// ---- sessions ----

void login(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto f = credentials(req);
  if (const auto g = f.find("grant_type"); g != f.end() && g->second != "password") {
    throw Error(ErrorKind::bad_request, "must be \"password\"", "grant_type");
  }
  offload(ctx, req, std::move(reply),
          [&ctx, username = field(f, "username"), password = field(f, "password"),
           who = actor_of(req)] {
            return json_response(200, session_json(ctx.auth.login(username, password, who)));
          });
}

void refresh(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto f = credentials(req);
  if (const auto g = f.find("grant_type"); g != f.end() && g->second != "refresh_token") {
    throw Error(ErrorKind::bad_request, "must be \"refresh_token\"", "grant_type");
  }
  offload(ctx, req, std::move(reply),
          [&ctx, token = field(f, "refresh_token"), who = actor_of(req)] {
            return json_response(200, session_json(ctx.auth.refresh(token, who)));
          });
}

// A browser session's cookie stands for the refresh token when the body names none, and is
// cleared.
void logout(ApiContext& ctx, HttpRequest& req, Reply reply) {
  std::optional<std::string> refresh_token;
  if (!req.body.empty()) {
    const json j = json_object_body(req.body);
    only_keys(j, {"refresh_token"});
    refresh_token = opt_string(j, "refresh_token");
  }
  const auto cookie = session_cookie(req);
  if (!refresh_token) refresh_token = cookie;
  offload(
      ctx, req, std::move(reply),
      [&ctx, refresh_token, clear = cookie.has_value(), p = req.principal, who = actor_of(req)] {
        ctx.auth.logout(p, refresh_token, who);
        auto r = no_content();
        if (clear) r.headers.emplace_back("Set-Cookie", cleared_session_cookie_header(ctx.cookies));
        return r;
      });
}

// Sign-in for the dashboard: the refresh token goes into the HttpOnly cookie, not the body.
void open_browser_session(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto f = credentials(req);
  offload(ctx, req, std::move(reply),
          [&ctx, username = field(f, "username"), password = field(f, "password"),
           who = actor_of(req)] {
            return browser_session(ctx.auth.login(username, password, who), ctx.cookies);
          });
}

// A new access token from the cookie (rotated, like /api/auth/refresh); needs the session header,
// which no cross-site form or unlisted origin can send.
void refresh_browser_session(ApiContext& ctx, HttpRequest& req, Reply reply) {
  if (req.header(kSessionHeader) != "1") {
    throw Error(ErrorKind::forbidden, "the X-Remhart-Session: 1 header is required",
                "X-Remhart-Session");
  }
  const auto cookie = session_cookie(req);
  if (!cookie) throw Error(ErrorKind::unauthorized, "no browser session", "Cookie");
  offload(ctx, req, std::move(reply), [&ctx, token = *cookie, who = actor_of(req)] {
    return browser_session(ctx.auth.refresh(token, who), ctx.cookies);
  });
}

void change_password(ApiContext& ctx, HttpRequest& req, Reply reply) {
  if (!req.principal.is_user() || req.principal.user_id == 0) {
    throw Error(ErrorKind::forbidden, "only users have passwords");
  }
  const json j = json_object_body(req.body);
  only_keys(j, {"current_password", "new_password"});
  // Changing the password ends every session, the browser's cookie too: a browser session gets
  // its new refresh token back in the cookie, never in the body.
  offload(
      ctx, req, std::move(reply),
      [&ctx, current = req_string(j, "current_password"), next = req_string(j, "new_password"),
       id = req.principal.user_id, browser = session_cookie(req).has_value(), who = actor_of(req)] {
        const auto s = ctx.auth.change_password(id, current, next, who);
        return browser ? browser_session(s, ctx.cookies) : json_response(200, session_json(s));
      });
}

void me(ApiContext& ctx, HttpRequest& req, Reply reply) {
  if (!req.principal.is_user() || req.principal.user_id == 0) {
    throw Error(ErrorKind::not_found, "no user account behind this request");
  }
  offload(ctx, req, std::move(reply), [&ctx, id = req.principal.user_id] {
    const auto u = ctx.auth.user(id);
    if (!u) throw Error(ErrorKind::unauthorized, "the user no longer exists");
    return json_response(200, dump_json(user_json(*u)));
  });
}

// ---- users (admin) ----

void list_users(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx] {
    json items = json::array();
    for (const auto& u : ctx.auth.users()) items.push_back(user_json(u));
    return json_response(200, dump_json({{"items", items}}));
  });
}

void create_user(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const json j = json_object_body(req.body);
  only_keys(j, {"username", "password", "email", "full_name", "role"});
  auth::User u;
  u.username = req_string(j, "username");
  const auto password = req_string(j, "password");
  u.email = opt_string(j, "email").value_or("");
  u.full_name = opt_string(j, "full_name").value_or("");
  u.role = opt_string(j, "role").value_or("viewer");
  offload(ctx, req, std::move(reply), [&ctx, u, password, who = actor_of(req)] {
    return json_response(201, dump_json(user_json(ctx.auth.create_user(u, password, who))));
  });
}

void get_user(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, id = id_param(req)] {
    const auto u = ctx.auth.user(id);
    if (!u) throw Error(ErrorKind::not_found, "no such user");
    return json_response(200, dump_json(user_json(*u)));
  });
}

void update_user(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const json j = json_object_body(req.body);
  only_keys(j, {"email", "full_name", "role", "password", "disabled"});
  auth::UserPatch p;
  p.email = opt_string(j, "email");
  p.full_name = opt_string(j, "full_name");
  p.role = opt_string(j, "role");
  p.password = opt_string(j, "password");
  if (j.contains("disabled")) {
    if (!j["disabled"].is_boolean()) {
      throw Error(ErrorKind::unprocessable, "must be true or false", "disabled");
    }
    p.disabled = j["disabled"].get<bool>();
  }
  offload(ctx, req, std::move(reply), [&ctx, p, id = id_param(req), who = actor_of(req)] {
    return json_response(200, dump_json(user_json(ctx.auth.update_user(id, p, who))));
  });
}

void erase_user(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, id = id_param(req), who = actor_of(req)] {
    ctx.auth.erase_user(id, who);
    return no_content();
  });
}

void export_user(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, id = id_param(req), who = actor_of(req)] {
    auto r = json_response(200, dump_json(export_json(auth::export_user(ctx.auth, ctx.audit, id))));
    r.headers.emplace_back("Content-Disposition",
                           "attachment; filename=\"user-" + std::to_string(id) + "-export.json\"");
    ctx.auth.security_event("user_exported", who, "user id " + std::to_string(id));
    return r;
  });
}

// ---- device keys (admin) ----

void list_device_keys(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx] {
    json items = json::array();
    for (const auto& k : ctx.auth.device_keys()) items.push_back(key_json(k));
    return json_response(200, dump_json({{"items", items}}));
  });
}

void create_device_key(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const json j = json_object_body(req.body);
  only_keys(j, {"name", "device", "site", "rate_per_min"});
  auth::DeviceKey k;
  k.name = req_string(j, "name");
  k.device = opt_string(j, "device").value_or("");
  if (!k.device.empty() && !core::valid_device_id(k.device)) {
    throw Error(ErrorKind::unprocessable, "must match [A-Za-z0-9_.-]{1,64}", "device");
  }
  k.site = opt_string(j, "site").value_or("");
  if (j.contains("rate_per_min") && !j["rate_per_min"].is_null()) {
    if (!j["rate_per_min"].is_number_integer()) {
      throw Error(ErrorKind::unprocessable, "must be an integer", "rate_per_min");
    }
    k.rate_per_min = j["rate_per_min"].get<std::int64_t>();
  }
  offload(ctx, req, std::move(reply), [&ctx, k, who = actor_of(req)] {
    const auto created = ctx.auth.create_device_key(k, who);
    json out = key_json(created.key);
    out["key"] = created.secret;  // shown this once
    return json_response(201, dump_json(out));
  });
}

void revoke_device_key(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, id = req.params["id"], who = actor_of(req)] {
    ctx.auth.revoke_device_key(id, who);
    return no_content();
  });
}

// ---- audit log (admin) ----

void audit_log(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, q = audit_args(req)] {
    ctx.audit.flush();
    const auto rows = ctx.audit.query(q);
    json items = json::array();
    for (const auto& e : rows) items.push_back(audit_json(e));
    json next = rows.size() == q.limit && !rows.empty() ? json(std::to_string(rows.back().id))
                                                        : json(nullptr);
    return json_response(200, dump_json({{"items", items}, {"next", next}}));
  });
}

}  // namespace

void add_auth_routes(Router& router, ApiContext& ctx) {
  const auto bind = [&ctx](auto fn) { return bound(ctx, fn); };
  using P = Permission;
  constexpr auto kSmall = Router::kSmallBody;
  router.add("POST", "/api/auth/login", P::public_, bind(login), kSmall);
  router.add("POST", "/api/auth/refresh", P::public_, bind(refresh), kSmall);
  router.add("POST", "/api/auth/logout", P::read, bind(logout), kSmall);
  router.add("POST", "/api/auth/session", P::public_, bind(open_browser_session), kSmall);
  router.add("POST", "/api/auth/session/refresh", P::public_, bind(refresh_browser_session),
             kSmall);
  router.add("POST", "/api/auth/password", P::read, bind(change_password), kSmall);
  router.add("GET", "/api/auth/me", P::read, bind(me));
  router.add("GET", "/api/users", P::admin, bind(list_users));
  router.add("POST", "/api/users", P::admin, bind(create_user), kSmall);
  router.add("GET", "/api/users/{id}", P::admin, bind(get_user));
  router.add("PATCH", "/api/users/{id}", P::admin, bind(update_user), kSmall);
  router.add("DELETE", "/api/users/{id}", P::admin, bind(erase_user));
  router.add("GET", "/api/users/{id}/export", P::admin, bind(export_user));
  router.add("GET", "/api/device-keys", P::admin, bind(list_device_keys));
  router.add("POST", "/api/device-keys", P::admin, bind(create_device_key), kSmall);
  router.add("DELETE", "/api/device-keys/{id}", P::admin, bind(revoke_device_key));
  router.add("GET", "/api/audit", P::admin, bind(audit_log));
}

}  // namespace remhart::api
