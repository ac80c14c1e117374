#pragma once
// The identity services of one data directory, assembled from the configuration: identity
// store, audit log, signing keys and the authenticator; plus, for the server, the first-start
// admin and a background refresh (changes by other processes, key rotation).
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "app/config.hpp"
#include "auth/audit.hpp"
#include "auth/authenticator.hpp"
#include "auth/identity_store.hpp"

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

 private:
  void refresh_loop();

  const Config& c_;
  std::unique_ptr<auth::IdentityStore> store_;
  std::unique_ptr<auth::AuditLog> audit_;
  std::unique_ptr<auth::Authenticator> auth_;
  std::filesystem::file_time_type keyring_mtime_{};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace remhart::app
