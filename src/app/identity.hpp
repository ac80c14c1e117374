#pragma once
// The identity services of one data directory, assembled from the configuration: identity
// store, audit log, signing keys and the authenticator; plus, for the server, the first-start
// admin and a background refresh (changes by other processes, key rotation).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "app/config.hpp"
#include "auth/audit.hpp"
#include "auth/authenticator.hpp"
#include "auth/identity_store.hpp"
#include "auth/keyring.hpp"

namespace remhart::obs {
class Registry;
}

namespace remhart::app {

class Identity {
 public:
  /// `server`: create the first admin when there is no user, and keep the caches fresh.
  Identity(const Config& c, obs::Registry* metrics, bool server = true);
  ~Identity();

  auth::Authenticator& authenticator() { return *auth_; }
  auth::AuditLog& audit() { return *audit_; }

  static std::filesystem::path db_path(const Config& c);
  static std::filesystem::path keyring_path(const Config& c);
  /// Where the generated signing keys are kept: the data directory's key file, or the shared
  /// database when `storage.database_url` is set.
  static std::unique_ptr<auth::Keyring> open_keyring(const Config& c);

 private:
  void refresh_loop();
  void reload_keys();
  /// How long a newly loaded signing key only verifies before it signs.
  static constexpr std::chrono::seconds kKeyStaging{3};

  const Config& c_;
  std::unique_ptr<auth::IdentityStore> store_;
  std::unique_ptr<auth::AuditLog> audit_;
  std::unique_ptr<auth::FileKeyring> file_keyring_;
  auth::Keyring* keyring_ = nullptr;    ///< file_keyring_ or the shared store
  std::vector<auth::SigningKey> keys_;  ///< the ring in use (no secret configured)
  std::optional<std::chrono::steady_clock::time_point> staged_since_;  ///< a new key waits
  std::string staged_kid_;
  std::unique_ptr<auth::Authenticator> auth_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace remhart::app
