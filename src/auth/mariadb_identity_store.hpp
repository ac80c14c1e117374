#pragma once
// Identity data in the shared MariaDB database (storage.database_url): every replica sees the same
// accounts, sessions, revoked tokens and device keys. Tables migrate under the replicas' lock.
#include <memory>
#include <string>

#include "auth/identity_store.hpp"
#include "auth/keyring.hpp"

namespace remhart::store::maria {
class Pool;
}

namespace remhart::auth {

/// Also the signing-key ring every replica shares (when no secret is configured): one row, created
/// by the first replica that asks, rotated under a row lock.
class MariadbIdentityStore final : public IdentityStore, public Keyring {
 public:
  /// Connects and migrates; throws std::runtime_error (store::maria::Error) naming what failed.
  explicit MariadbIdentityStore(const std::string& url);
  ~MariadbIdentityStore() override;

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
  std::vector<SigningKey> load_or_create() override;
  std::vector<SigningKey> rotate() override;

 private:
  std::unique_ptr<store::maria::Pool> pool_;
};

}  // namespace remhart::auth
