#include "app/identity.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>

#include "auth/keyring.hpp"
#include "auth/mariadb_identity_store.hpp"
#include "core/error.hpp"

namespace remhart::app {

namespace fs = std::filesystem;

fs::path Identity::db_path(const Config& c) {
  return fs::path(c.data_dir) / "remhart.db";
}

fs::path Identity::keyring_path(const Config& c) {
  return fs::path(c.data_dir) / "jwt-keys.json";
}

namespace {

std::vector<auth::SigningKey> signing_keys(const Config& c) {
  if (!c.jwt_secret.empty()) return {auth::key_from_secret(c.jwt_secret)};
  return auth::load_or_create_keyring(Identity::keyring_path(c).string());
}

// Writes the generated first password to <data-dir>/initial-admin-password (0600, new file).
void write_initial_password(const fs::path& path, const std::string& password) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    spdlog::warn("could not create {}; the password is shown only here", path.string());
    return;
  }
  const std::string text = password + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) spdlog::warn("could not write {}", path.string());
}

}  // namespace

Identity::Identity(const Config& c, obs::Registry* metrics, bool server) : c_(c) {
  fs::create_directories(c.data_dir);
  const std::string db = db_path(c).string();
  // Several replicas on one database share the accounts, sessions and keys there; otherwise they
  // live beside the measurements in the data directory.
  if (c.database_url.empty()) {
    store_ = std::make_unique<auth::SqliteIdentityStore>(db);
  } else {
    store_ = std::make_unique<auth::MariadbIdentityStore>(c.database_url);
    if (c.jwt_secret.empty() && server) {
      spdlog::warn(
          "storage.database_url is set but auth.jwt_secret is not: this replica signs tokens with "
          "keys of its own data directory, which other replicas do not accept");
    }
  }
  audit_ = std::make_unique<auth::AuditLog>(db, auth::AuditOptions{c.audit_retention_days, 200000},
                                            metrics);
  auth::AuthOptions ao;
  ao.access_ttl_s = c.access_ttl_s;
  ao.refresh_ttl_s = c.refresh_ttl_days * 86400;
  ao.password_cost.ops = static_cast<unsigned long long>(c.argon2_ops);
  ao.password_cost.memory_kib = static_cast<std::size_t>(c.argon2_memory_mib) * 1024;
  ao.login_account_free_failures = static_cast<int>(c.login_free_failures);
  ao.login_account_ceiling = static_cast<int>(c.login_account_ceiling);
  auth_ = std::make_unique<auth::Authenticator>(*store_, *audit_, signing_keys(c), ao);
  if (c.jwt_secret.empty()) keyring_mtime_ = fs::last_write_time(keyring_path(c));
  if (!server) return;

  try {
    if (const auto generated = auth_->bootstrap_admin(std::getenv("REMHART_ADMIN_PASSWORD"))) {
      const auto file = fs::path(c.data_dir) / "initial-admin-password";
      write_initial_password(file, *generated);
      std::cout << "\n  First start: created user 'admin' with password " << *generated
                << "\n  (also in " << file.string()
                << ", mode 0600; change it and delete the file)\n\n"
                << std::flush;
    }
  } catch (const core::Error& e) {
    throw std::runtime_error("REMHART_ADMIN_PASSWORD: " + std::string(e.what()));
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rh-identity");
    refresh_loop();
  });
}

Identity::~Identity() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Identity::refresh_loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
    try {
      auth_->reload_if_changed();
      if (c_.jwt_secret.empty()) {
        const auto path = keyring_path(c_);
        const auto mtime = fs::last_write_time(path);
        if (mtime != keyring_mtime_) {
          auth_->set_keys(auth::load_or_create_keyring(path.string()));
          keyring_mtime_ = mtime;
          spdlog::info("JWT signing keys reloaded from {}", path.string());
        }
      }
    } catch (const std::exception& e) {
      spdlog::warn("identity refresh failed: {}", e.what());
    }
  }
}

}  // namespace remhart::app
