#pragma once
// Durable identity data: users, refresh tokens (hashed), revoked access-token ids, device keys
// (hashed) and a change counter other replicas and processes poll.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/crypto.hpp"

namespace remhart::store {
class Database;
}

namespace remhart::auth {

struct User {
  std::int64_t id = 0;
  std::string username;
  std::string email;
  std::string full_name;
  std::string role;
  std::string password_hash;
  bool disabled = false;
  std::int64_t created_at = 0;  ///< UTC microseconds
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> last_login_at;
  /// Access tokens carry the version they were issued under; a password change bumps it, so
  /// every earlier token is refused at once.
  std::int64_t token_version = 0;
};

struct RefreshToken {
  Digest hash{};
  std::int64_t user_id = 0;
  std::string family;
  std::int64_t issued_at = 0;  ///< UTC microseconds
  std::int64_t expires_at = 0;
  std::optional<std::int64_t> used_at;
  std::optional<std::int64_t> revoked_at;
};

struct DeviceKey {
  std::string id;  ///< public id ("dk_…"), for listing and revoking
  Digest hash{};   ///< SHA-256 of the secret key
  std::string name;
  std::string device;             ///< empty: any device
  std::string site;               ///< empty: any site
  std::int64_t rate_per_min = 0;  ///< 0: the configured default
  std::int64_t created_at = 0;
  std::string created_by;
  std::optional<std::int64_t> revoked_at;
  /// The key's secret as a Mosquitto password-file hash (`remhart device-key export-mosquitto`);
  /// empty for keys made before broker credentials existed.
  std::string broker_hash;
};

/// Where accounts, sessions, revocations and device keys live: SQLite in the data directory
/// (`SqliteIdentityStore`), or the shared MariaDB database when replicas must agree
/// (`MariadbIdentityStore`). The same tests run against both.
class IdentityStore {
 public:
  virtual ~IdentityStore() = default;

  /// Increases on every change by any process sharing the database.
  virtual std::int64_t version() = 0;

  virtual std::vector<User> users() = 0;
  virtual std::optional<User> user(std::int64_t id) = 0;
  virtual std::optional<User> user_by_name(std::string_view username) = 0;
  /// Throws core::Error(conflict) for a taken username. Returns the new id, never one that an
  /// earlier (since deleted) account had.
  virtual std::int64_t create_user(const User& u) = 0;
  /// Throws core::Error(not_found, conflict).
  virtual void update_user(const User& u) = 0;
  virtual void set_last_login(std::int64_t id, std::int64_t at) = 0;
  /// Removes the user, their refresh tokens and the device keys' link to them.
  virtual void delete_user(std::int64_t id) = 0;

  virtual void add_refresh_token(const RefreshToken& t) = 0;
  virtual std::optional<RefreshToken> refresh_token(const Digest& hash) = 0;
  /// Spends `used` and stores its `successor` in one transaction: false (and nothing changed)
  /// when `used` was already spent, revoked or expired — so of two concurrent rotations exactly
  /// one gets a successor, and a successor is never added to a family revoked before it.
  virtual bool rotate_refresh_token(const Digest& used, std::int64_t now,
                                    const RefreshToken& successor) = 0;
  virtual void revoke_family(std::string_view family, std::int64_t now) = 0;
  virtual void revoke_user_tokens(std::int64_t user_id, std::int64_t now) = 0;
  virtual std::vector<RefreshToken> user_refresh_tokens(std::int64_t user_id) = 0;

  virtual void revoke_jti(std::string_view jti, std::int64_t expires_s) = 0;
  /// Revoked ids whose tokens have not expired yet; drops the others.
  virtual std::vector<std::string> revoked_jtis(std::int64_t now_s) = 0;

  virtual void create_device_key(const DeviceKey& k) = 0;
  virtual std::vector<DeviceKey> device_keys() = 0;
  /// Throws core::Error(not_found).
  virtual void revoke_device_key(std::string_view id, std::int64_t now) = 0;
};

/// In the SQLite database of the data directory. One connection, serialised by a mutex; every
/// call is a short transaction.
class SqliteIdentityStore final : public IdentityStore {
 public:
  explicit SqliteIdentityStore(const std::string& path);
  ~SqliteIdentityStore() override;
  SqliteIdentityStore(const SqliteIdentityStore&) = delete;
  SqliteIdentityStore& operator=(const SqliteIdentityStore&) = delete;

  std::int64_t version() override;
  std::vector<User> users() override;
  std::optional<User> user(std::int64_t id) override;
  std::optional<User> user_by_name(std::string_view username) override;
  std::int64_t create_user(const User& u) override;
  void update_user(const User& u) override;
  void set_last_login(std::int64_t id, std::int64_t at) override;
  void delete_user(std::int64_t id) override;
  void add_refresh_token(const RefreshToken& t) override;
  std::optional<RefreshToken> refresh_token(const Digest& hash) override;
  bool rotate_refresh_token(const Digest& used, std::int64_t now,
                            const RefreshToken& successor) override;
  void revoke_family(std::string_view family, std::int64_t now) override;
  void revoke_user_tokens(std::int64_t user_id, std::int64_t now) override;
  std::vector<RefreshToken> user_refresh_tokens(std::int64_t user_id) override;
  void revoke_jti(std::string_view jti, std::int64_t expires_s) override;
  std::vector<std::string> revoked_jtis(std::int64_t now_s) override;
  void create_device_key(const DeviceKey& k) override;
  std::vector<DeviceKey> device_keys() override;
  void revoke_device_key(std::string_view id, std::int64_t now) override;

 private:
  void bump();  // inside a write
  void reserve_used_ids();
  std::mutex mu_;
  std::unique_ptr<store::Database> db_;
};

}  // namespace remhart::auth
