#include "auth/authenticator.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "auth/crypto.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

namespace remhart::auth {

using core::Error;
using core::ErrorKind;

namespace {

std::int64_t now_s() {
  return core::now_us() / core::kUsPerSecond;
}

std::string digest_key(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

bool valid_username(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == '@';
  });
}

bool printable(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

void check_text(const std::string& value, std::size_t max, const char* field) {
  if (value.size() > max || !printable(value)) {
    throw Error(
        ErrorKind::unprocessable,
        "must be at most " + std::to_string(max) + " characters, without control characters",
        field);
  }
}

void check_email(const std::string& email) {
  check_text(email, 254, "email");
  if (!email.empty() && (email.find('@') == std::string::npos || email.front() == '@' ||
                         email.back() == '@' || email.find(' ') != std::string::npos)) {
    throw Error(ErrorKind::unprocessable, "is not an e-mail address", "email");
  }
}

void check_password(std::string_view password) {
  if (const auto why = password_problem(password); !why.empty()) {
    throw Error(ErrorKind::unprocessable, why, "password");
  }
}

// Login throttling keys accounts case-insensitively, like user names.
std::string account_key(std::string_view username) {
  std::string account(username.substr(0, 64));
  std::transform(account.begin(), account.end(), account.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return account;
}

Role role_of(const std::string& name) {
  return parse_role(name).value_or(Role::viewer);
}

}  // namespace

std::string Principal::actor() const {
  switch (kind) {
    case Kind::user:
      return name;
    case Kind::device_key:
      return "key:" + name;
    case Kind::anonymous:
      break;
  }
  return "anonymous";
}

Authenticator::Authenticator(IdentityStore& store, AuditLog& audit, std::vector<SigningKey> keys,
                             AuthOptions options)
    : store_(store),
      audit_(audit),
      opt_(std::move(options)),
      throttle_(opt_.login_account_free_failures, opt_.login_ip_free_failures,
                opt_.login_account_ceiling, opt_.login_max_delay),
      dummy_hash_(hash_password(random_token("", 16), opt_.password_cost)),
      jwt_(std::make_shared<JwtCodec>(std::move(keys), opt_.issuer)) {
  reload();
}

std::shared_ptr<const Authenticator::Snapshot> Authenticator::snapshot() const {
  std::lock_guard lock(mu_);
  return snap_;
}

std::shared_ptr<const JwtCodec> Authenticator::jwt() const {
  std::lock_guard lock(mu_);
  return jwt_;
}

void Authenticator::set_keys(std::vector<SigningKey> keys) {
  auto codec = std::make_shared<JwtCodec>(std::move(keys), opt_.issuer);
  std::lock_guard lock(mu_);
  jwt_ = std::move(codec);
  verified_.clear();
}

std::optional<Claims> Authenticator::verified_claims(std::string_view token,
                                                     std::int64_t now) const {
  std::shared_ptr<const JwtCodec> codec;
  {
    std::lock_guard lock(mu_);
    if (const auto it = verified_.find(std::string(token)); it != verified_.end()) {
      const Claims& c = it->second;
      // The times as JwtCodec::verify checks them.
      if (c.exp > now - JwtCodec::kLeewayS && (!c.nbf || *c.nbf <= now + JwtCodec::kLeewayS)) {
        return c;
      }
      verified_.erase(it);
      return std::nullopt;
    }
    codec = jwt_;
  }
  auto v = codec->verify(token, now);
  if (!v.claims) return std::nullopt;
  std::lock_guard lock(mu_);
  if (codec == jwt_) {
    if (verified_.size() >= kMaxVerified) verified_.clear();
    verified_.emplace(std::string(token), *v.claims);
  }
  return v.claims;
}

void Authenticator::reload() const {
  auto s = std::make_shared<Snapshot>();
  s->version = store_.version();
  for (const auto& u : store_.users()) {
    s->users.emplace(u.id, CachedUser{u.username, role_of(u.role), u.disabled, u.token_version});
  }
  for (auto& k : store_.device_keys()) s->keys.emplace(digest_key(k.hash), std::move(k));
  for (auto& j : store_.revoked_jtis(now_s())) s->revoked_jti.insert(std::move(j));
  std::lock_guard lock(mu_);
  snap_ = std::move(s);
}

void Authenticator::reload_if_changed() const {
  if (store_.version() != snapshot()->version) reload();
}

AuthResult Authenticator::authenticate(std::string_view bearer) const {
  auto snap = snapshot();
  if (bearer.starts_with("rdk_")) {
    const auto key = digest_key(sha256(bearer));
    auto it = snap->keys.find(key);
    if (it == snap->keys.end()) {
      // Another process (the CLI, a replica) may have created it since the last reload.
      reload_if_changed();
      snap = snapshot();
      it = snap->keys.find(key);
    }
    if (it == snap->keys.end()) return {std::nullopt, "unknown device key"};
    const DeviceKey& k = it->second;
    if (k.revoked_at) return {std::nullopt, "device key revoked"};
    Principal p;
    p.kind = Principal::Kind::device_key;
    p.name = k.id;
    p.device = k.device;
    p.site = k.site;
    p.rate_per_min = k.rate_per_min;
    return {std::move(p), {}};
  }
  const auto now = now_s();
  auto claims = verified_claims(bearer, now);
  if (!claims) return {std::nullopt, "invalid access token: " + jwt()->verify(bearer, now).error};
  std::int64_t id = 0;
  const auto& sub = claims->sub;
  if (auto [ptr, ec] = std::from_chars(sub.data(), sub.data() + sub.size(), id);
      ec != std::errc() || ptr != sub.data() + sub.size()) {
    return {std::nullopt, "invalid access token: bad subject"};
  }
  const auto u = snap->users.find(id);
  if (u == snap->users.end()) return {std::nullopt, "the user no longer exists"};
  if (u->second.disabled) return {std::nullopt, "the user is disabled"};
  if (!claims->ver || *claims->ver != u->second.token_version ||
      snap->revoked_jti.count(claims->jti)) {
    return {std::nullopt, "the token has been revoked"};
  }
  Principal p;
  p.kind = Principal::Kind::user;
  p.user_id = id;
  p.name = u->second.username;
  p.role = u->second.role;  // the current role, not the one at issue time
  p.jti = claims->jti;
  p.token_exp = claims->exp;
  return {std::move(p), {}};
}

Session Authenticator::issue(const User& u, const std::string& family,
                             const std::optional<Digest>& rotated) {
  const auto now = now_s();
  Claims c;
  c.sub = std::to_string(u.id);
  c.role = u.role;
  c.iss = opt_.issuer;
  c.jti = random_token("", 16);
  c.iat = now;
  c.exp = now + opt_.access_ttl_s;
  c.ver = u.token_version;
  Session s;
  s.refresh_token = random_token("rrt_", 32);
  s.expires_in = opt_.access_ttl_s;
  s.user = u;
  RefreshToken t;
  t.hash = sha256(s.refresh_token);
  t.user_id = u.id;
  t.family = family;
  t.issued_at = core::now_us();
  t.expires_at = t.issued_at + opt_.refresh_ttl_s * core::kUsPerSecond;
  if (!rotated) {
    store_.add_refresh_token(t);
  } else if (!store_.rotate_refresh_token(*rotated, t.issued_at, t)) {
    return {};  // lost a race with another rotation or a revocation: no successor
  }
  s.access_token = jwt()->sign(c);
  return s;
}

void Authenticator::security_event(std::string event, const Actor& who, std::string detail,
                                   int status, std::string role) {
  AuditEntry e;
  e.ts = core::now_us();
  e.kind = "security";
  e.event = std::move(event);
  e.actor = who.name;
  e.user_id = who.user_id;
  e.role = std::move(role);
  e.status = status;
  e.ip = who.ip;
  e.request_id = who.request_id;
  e.detail = std::move(detail);
  audit_.record(std::move(e));
}

Session Authenticator::login(std::string_view username, std::string_view password,
                             const Actor& from) {
  const std::string account = account_key(username);
  const auto now = Clock::now();
  if (const double wait = throttle_.wait_s(account, from.ip, now); wait > 0) {
    security_event("login_throttled", {account, std::nullopt, from.ip, from.request_id},
                   "too many failed attempts", 429);
    throw Error(ErrorKind::rate_limited, "too many failed logins; try again later", "",
                static_cast<int>(std::ceil(wait)));
  }
  const auto user = valid_username(username) ? store_.user_by_name(username) : std::nullopt;
  const bool ok = verify_password(user ? user->password_hash : dummy_hash_, password) && user &&
                  !user->disabled;
  if (!ok) {
    throttle_.failed(account, from.ip, now);
    security_event(
        "login_failed",
        {account, user ? std::optional(user->id) : std::nullopt, from.ip, from.request_id},
        !user            ? "unknown user"
        : user->disabled ? "user disabled"
                         : "wrong password",
        401);
    throw Error(ErrorKind::unauthorized, "invalid username or password");
  }
  throttle_.succeeded(account, from.ip);
  store_.set_last_login(user->id, core::now_us());
  auto s = issue(*user, random_token("", 12), std::nullopt);
  security_event("login_ok", {user->username, user->id, from.ip, from.request_id}, "", 200,
                 user->role);
  return s;
}

Session Authenticator::refresh(std::string_view refresh_token, const Actor& from) {
  const auto hash = sha256(refresh_token);
  const auto rec = refresh_token.starts_with("rrt_") ? store_.refresh_token(hash) : std::nullopt;
  if (!rec) throw Error(ErrorKind::unauthorized, "unknown refresh token", "refresh_token");
  const auto now = core::now_us();
  const Actor who{from.name, rec->user_id, from.ip, from.request_id};
  if (rec->revoked_at) {
    throw Error(ErrorKind::unauthorized, "the refresh token has been revoked", "refresh_token");
  }
  auto reused = [&] {
    store_.revoke_family(rec->family, now);
    security_event("token_reuse", who,
                   "a rotated refresh token was presented again; its family is revoked", 401);
    return Error(ErrorKind::unauthorized,
                 "the refresh token was already used; every session it started is revoked",
                 "refresh_token");
  };
  if (rec->used_at) throw reused();
  if (rec->expires_at <= now) {
    throw Error(ErrorKind::unauthorized, "the refresh token has expired", "refresh_token");
  }
  const auto user = store_.user(rec->user_id);
  if (!user || user->disabled) {
    store_.revoke_family(rec->family, now);
    throw Error(ErrorKind::unauthorized, "the user no longer exists or is disabled",
                "refresh_token");
  }
  // Spending the old token and storing its successor is one transaction; a concurrent refresh
  // of the same token that loses finds it spent and revokes the family, successor included.
  auto s = issue(*user, rec->family, hash);
  if (s.access_token.empty()) throw reused();
  return s;
}

Session Authenticator::change_password(std::int64_t user_id, std::string_view current,
                                       std::string_view next, const Actor& from) {
  const auto u = store_.user(user_id);
  if (!u || u->disabled) throw Error(ErrorKind::unauthorized, "the user no longer exists");
  const std::string account = account_key(u->username);
  const auto now = Clock::now();
  if (const double wait = throttle_.wait_s(account, from.ip, now); wait > 0) {
    throw Error(ErrorKind::rate_limited, "too many failed attempts; try again later", "",
                static_cast<int>(std::ceil(wait)));
  }
  if (!verify_password(u->password_hash, current)) {
    throttle_.failed(account, from.ip, now);
    security_event("password_change_failed", from, "wrong current password", 403);
    throw Error(ErrorKind::forbidden, "the current password is wrong", "current_password");
  }
  UserPatch p;
  p.password = std::string(next);
  const auto updated = update_user(user_id, p, from);
  return issue(updated, random_token("", 12), std::nullopt);
}

void Authenticator::logout(const Principal& p, std::optional<std::string_view> refresh_token,
                           const Actor& from) {
  const auto now = core::now_us();
  if (!p.jti.empty()) store_.revoke_jti(p.jti, p.token_exp);
  bool family = false;
  if (refresh_token) {
    const auto rec = store_.refresh_token(sha256(*refresh_token));
    if (rec && rec->user_id == p.user_id) {
      store_.revoke_family(rec->family, now);
      family = true;
    }
  }
  if (!family) store_.revoke_user_tokens(p.user_id, now);
  security_event("logout", from, family ? "session revoked" : "all sessions revoked", 200,
                 std::string(to_string(p.role)));
  reload();
}

User Authenticator::create_user(const User& fields, std::string_view password, const Actor& by) {
  if (!valid_username(fields.username)) {
    throw Error(ErrorKind::unprocessable, "must match [A-Za-z0-9_.@-]{1,64}", "username");
  }
  if (!parse_role(fields.role)) {
    throw Error(ErrorKind::unprocessable, "must be viewer, analyst, operator or admin", "role");
  }
  check_email(fields.email);
  check_text(fields.full_name, 200, "full_name");
  check_password(password);
  User u = fields;
  u.password_hash = hash_password(password, opt_.password_cost);
  u.created_at = u.updated_at = core::now_us();
  u.token_version = 0;
  u.id = store_.create_user(u);
  reload();
  security_event("user_created", by,
                 "user " + u.username + " (id " + std::to_string(u.id) + ") with role " + u.role);
  return u;
}

void Authenticator::check_not_last_admin(std::int64_t id, std::string_view field) {
  for (const auto& u : store_.users()) {
    if (u.id != id && u.role == "admin" && !u.disabled) return;
  }
  throw Error(ErrorKind::conflict, "this is the last enabled admin", std::string(field));
}

User Authenticator::update_user(std::int64_t id, const UserPatch& patch, const Actor& by) {
  auto u = store_.user(id);
  if (!u) throw Error(ErrorKind::not_found, "no such user");
  std::vector<std::string> changed;
  if (patch.email) {
    check_email(*patch.email);
    u->email = *patch.email;
    changed.push_back("email");
  }
  if (patch.full_name) {
    check_text(*patch.full_name, 200, "full_name");
    u->full_name = *patch.full_name;
    changed.push_back("full_name");
  }
  if (patch.role) {
    if (!parse_role(*patch.role)) {
      throw Error(ErrorKind::unprocessable, "must be viewer, analyst, operator or admin", "role");
    }
    if (u->role == "admin" && *patch.role != "admin") check_not_last_admin(id, "role");
    u->role = *patch.role;
    changed.push_back("role=" + u->role);
  }
  if (patch.disabled) {
    if (*patch.disabled && u->role == "admin") check_not_last_admin(id, "disabled");
    u->disabled = *patch.disabled;
    changed.push_back(u->disabled ? "disabled" : "enabled");
  }
  const auto now = core::now_us();
  if (patch.password) {
    check_password(*patch.password);
    u->password_hash = hash_password(*patch.password, opt_.password_cost);
    ++u->token_version;  // every token issued so far stops working

    changed.push_back("password");
  }
  u->updated_at = now;
  store_.update_user(*u);
  if (patch.password || (patch.disabled && *patch.disabled)) store_.revoke_user_tokens(id, now);
  reload();
  std::string what;
  for (const auto& c : changed) what += (what.empty() ? "" : ", ") + c;
  security_event("user_updated", by, "user " + u->username + ": " + what);
  return *u;
}

void Authenticator::erase_user(std::int64_t id, const Actor& by) {
  const auto u = store_.user(id);
  if (!u) throw Error(ErrorKind::not_found, "no such user");
  if (u->role == "admin") check_not_last_admin(id, "id");
  store_.delete_user(id);
  const std::string pseudonym = "erased-" + hex(sha256(random_bytes(16))).substr(0, 12);
  audit_.pseudonymise(id, u->username, pseudonym);
  reload();
  security_event("user_erased", by, "user id " + std::to_string(id) + " now " + pseudonym);
}

NewDeviceKey Authenticator::create_device_key(const DeviceKey& fields, const Actor& by) {
  if (fields.name.empty()) throw Error(ErrorKind::unprocessable, "is required", "name");
  check_text(fields.name, 200, "name");
  check_text(fields.device, 64, "device");
  check_text(fields.site, 200, "site");
  if (fields.rate_per_min < 0 || fields.rate_per_min > 100'000'000) {
    throw Error(ErrorKind::unprocessable, "must be from 0 to 100000000", "rate_per_min");
  }
  NewDeviceKey out;
  out.key = fields;
  out.key.id = random_token("dk_", 9);
  out.secret = random_token("rdk_", 32);
  out.key.hash = sha256(out.secret);
  // The secret is 256 random bits: Mosquitto's default 101 PBKDF2 rounds stretch nothing worth
  // stretching, and keep the broker's check of each connection cheap.
  out.key.broker_hash = mosquitto_password_hash(out.secret);
  out.key.created_at = core::now_us();
  out.key.created_by = by.name;
  out.key.revoked_at.reset();
  store_.create_device_key(out.key);
  reload();
  security_event("device_key_created", by,
                 "key " + out.key.id + " (" + out.key.name + ")" +
                     (out.key.device.empty() ? "" : " device " + out.key.device) +
                     (out.key.site.empty() ? "" : " site " + out.key.site));
  return out;
}

void Authenticator::revoke_device_key(std::string_view id, const Actor& by) {
  store_.revoke_device_key(id, core::now_us());
  reload();
  security_event("device_key_revoked", by, "key " + std::string(id));
}

std::optional<std::string> Authenticator::bootstrap_admin(const char* password) {
  if (!store_.users().empty()) return std::nullopt;
  const bool generated = password == nullptr || *password == '\0';
  const std::string pw = generated ? generate_password() : std::string(password);
  User u;
  u.username = "admin";
  u.role = "admin";
  u.full_name = "Administrator";
  create_user(u, pw, Actor{});
  if (generated) return pw;
  return std::nullopt;
}

}  // namespace remhart::auth
