#pragma once
// Identity services: who is calling (access tokens and device keys), logging in, refresh-token
// rotation with reuse detection, logout, and the administration of users and device keys. Keeps
// an in-memory snapshot of users, keys and revoked token ids so checking a request touches no
// database; the snapshot reloads when the identity data changes (in this process at once, from
// other processes within a second through `reload_if_changed`).
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "auth/audit.hpp"
#include "auth/identity_store.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/principal.hpp"
#include "auth/rate_limit.hpp"
#include "auth/roles.hpp"

namespace remhart::auth {

struct AuthOptions {
  std::string issuer = "remhart";
  std::int64_t access_ttl_s = 3600;
  std::int64_t refresh_ttl_s = 30 * 86400;
  PasswordCost password_cost;
  int login_account_free_failures = 5;  ///< per (account, address); see LoginThrottle
  int login_ip_free_failures = 20;
  int login_account_ceiling = 100;
  std::chrono::seconds login_max_delay{900};
};

struct AuthResult {
  std::optional<Principal> principal;
  std::string error;
};

struct Session {
  std::string access_token;
  std::string refresh_token;
  std::int64_t expires_in = 0;
  User user;
};

/// Fields a user update may change; unset ones stay.
struct UserPatch {
  std::optional<std::string> email, full_name, role, password;
  std::optional<bool> disabled;
};

struct NewDeviceKey {
  DeviceKey key;
  std::string secret;  ///< "rdk_…", shown once
};

/// Who did something (for the audit log).
struct Actor {
  std::string name = "system";
  std::optional<std::int64_t> user_id;
  std::string ip;
  std::string request_id;
};

class Authenticator {
 public:
  Authenticator(IdentityStore& store, AuditLog& audit, std::vector<SigningKey> keys,
                AuthOptions options);

  /// A bearer credential: an access token (JWT) or a device key ("rdk_…").
  AuthResult authenticate(std::string_view bearer) const;

  /// Throws core::Error: unauthorized (bad credentials), rate_limited (throttled).
  Session login(std::string_view username, std::string_view password, const Actor& from);
  /// Rotates: the old refresh token is spent; presenting a spent one revokes its whole family.
  Session refresh(std::string_view refresh_token, const Actor& from);
  /// A user changing their own password: `current` must match (wrong guesses count as failed
  /// logins). Every earlier session ends; returns a fresh one.
  Session change_password(std::int64_t user_id, std::string_view current, std::string_view next,
                          const Actor& from);
  /// Revokes the access token and the refresh token's family (or all the user's sessions when
  /// none is given).
  void logout(const Principal& p, std::optional<std::string_view> refresh_token, const Actor& from);

  std::vector<User> users() { return store_.users(); }
  std::optional<User> user(std::int64_t id) { return store_.user(id); }
  std::vector<RefreshToken> refresh_sessions(std::int64_t user_id) {
    return store_.user_refresh_tokens(user_id);
  }
  /// Throws core::Error (unprocessable naming the field, conflict).
  User create_user(const User& fields, std::string_view password, const Actor& by);
  User update_user(std::int64_t id, const UserPatch& patch, const Actor& by);
  /// GDPR erase: the account and its sessions go; its audit rows stay, pseudonymised.
  void erase_user(std::int64_t id, const Actor& by);

  NewDeviceKey create_device_key(const DeviceKey& fields, const Actor& by);
  std::vector<DeviceKey> device_keys() { return store_.device_keys(); }
  void revoke_device_key(std::string_view id, const Actor& by);

  /// Creates `admin` when there are no users. Returns the password when it was generated here
  /// (the caller shows it once); nullopt when users exist or `password` was given.
  std::optional<std::string> bootstrap_admin(const char* password);

  /// Reloads the snapshot when the store's change counter moved. Cheap; call every second.
  void reload_if_changed() const;
  /// Replaces the signing keys (rotation while running).
  void set_keys(std::vector<SigningKey> keys);
  /// Counts failed logins across the replicas too (see LoginThrottle::share).
  void share_login_failures(SharedLoginFailures* shared) { throttle_.share(shared); }

  void security_event(std::string event, const Actor& who, std::string detail, int status = 0,
                      std::string role = {});
  const AuthOptions& options() const { return opt_; }

 private:
  struct CachedUser {
    std::string username;
    Role role;
    bool disabled;
    std::int64_t token_version;
  };
  struct Snapshot {
    std::int64_t version = -1;
    std::unordered_map<std::int64_t, CachedUser> users;
    std::unordered_map<std::string, DeviceKey> keys;  // by raw SHA-256 of the secret
    std::unordered_set<std::string> revoked_jti;
  };
  std::shared_ptr<const Snapshot> snapshot() const;
  std::shared_ptr<const JwtCodec> jwt() const;
  void reload() const;
  /// A new session in `family`. With `rotated`, that refresh token is spent in the same
  /// transaction; an empty session when it already was (or was revoked or expired).
  Session issue(const User& u, const std::string& family, const std::optional<Digest>& rotated);
  void check_not_last_admin(std::int64_t id, std::string_view field);

  IdentityStore& store_;
  AuditLog& audit_;
  AuthOptions opt_;
  LoginThrottle throttle_;
  std::string dummy_hash_;  // verified against when the user does not exist (equal timing)
  /// Verified access tokens (signature and claims), so a client sending the same token again
  /// costs a lookup instead of a signature check; times, user and revocation are still checked
  /// on every request. Cleared when the keys change or it grows past kMaxVerified.
  std::optional<Claims> verified_claims(std::string_view token, std::int64_t now) const;
  static constexpr std::size_t kMaxVerified = 10000;

  mutable std::mutex mu_;
  mutable std::shared_ptr<const Snapshot> snap_;
  std::shared_ptr<const JwtCodec> jwt_;
  mutable std::unordered_map<std::string, Claims> verified_;  // under mu_
};

}  // namespace remhart::auth
