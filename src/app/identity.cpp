#include "app/identity.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

std::vector<std::string> kids(const std::vector<auth::SigningKey>& keys) {
  std::vector<std::string> out;
  for (const auto& k : keys) out.push_back(k.kid);
  return out;
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
    file_keyring_ = std::make_unique<auth::FileKeyring>(keyring_path(c).string());
    keyring_ = file_keyring_.get();
  } else {
    auto shared = std::make_unique<auth::MariadbIdentityStore>(c.database_url);
    keyring_ = shared.get();
    store_ = std::move(shared);
  }
  // The audit rows go where the identity data is: every replica's in the shared database.
  std::unique_ptr<auth::AuditStore> audit_rows;
  if (c.database_url.empty()) {
    audit_rows = std::make_unique<auth::SqliteAuditStore>(db);
  } else {
    audit_rows = std::make_unique<auth::MariadbAuditStore>(c.database_url);
  }
  audit_ = std::make_unique<auth::AuditLog>(
      std::move(audit_rows), auth::AuditOptions{c.audit_retention_days, 200000}, metrics);
  auth::AuthOptions ao;
  ao.access_ttl_s = c.access_ttl_s;
  ao.refresh_ttl_s = c.refresh_ttl_days * 86400;
  ao.password_cost.ops = static_cast<unsigned long long>(c.argon2_ops);
  ao.password_cost.memory_kib = static_cast<std::size_t>(c.argon2_memory_mib) * 1024;
  ao.login_account_free_failures = static_cast<int>(c.login_free_failures);
  ao.login_account_ceiling = static_cast<int>(c.login_account_ceiling);
  if (c.jwt_secret.empty()) keys_ = keyring_->load_or_create();
  auth_ = std::make_unique<auth::Authenticator>(
      *store_, *audit_,
      c.jwt_secret.empty() ? keys_ : std::vector{auth::key_from_secret(c.jwt_secret)}, ao);
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

std::unique_ptr<auth::Keyring> Identity::open_keyring(const Config& c) {
  if (c.database_url.empty()) return std::make_unique<auth::FileKeyring>(keyring_path(c).string());
  return std::make_unique<auth::MariadbIdentityStore>(c.database_url);
}

// `remhart token-key rotate` (or another replica) changed the ring. A new first key verifies at
// once but signs only kKeyStaging later: every replica polls each second, so by then all of them
// accept what it signs. Until then the key that signed before goes on signing.
void Identity::reload_keys() {
  auto keys = keyring_->load_or_create();
  if (kids(keys) == kids(keys_)) {
    staged_since_.reset();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const auto previous = std::find_if(keys.begin(), keys.end(),
                                     [&](const auto& k) { return k.kid == keys_.front().kid; });
  if (keys.front().kid != keys_.front().kid && previous != keys.end()) {
    if (!staged_since_ || staged_kid_ != keys.front().kid) {
      staged_since_ = now;
      staged_kid_ = keys.front().kid;
      auto staged = keys;
      std::rotate(staged.begin(), staged.begin() + (previous - keys.begin()),
                  staged.begin() + (previous - keys.begin()) + 1);
      auth_->set_keys(staged);
      spdlog::info("JWT signing key {} loaded: it signs in {} s", keys.front().kid,
                   std::chrono::duration_cast<std::chrono::seconds>(kKeyStaging).count());
      return;
    }
    if (now - *staged_since_ < kKeyStaging) return;
  }
  auth_->set_keys(keys);
  keys_ = std::move(keys);
  staged_since_.reset();
  spdlog::info("JWT signing keys reloaded: signing with {}", keys_.front().kid);
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
      if (c_.jwt_secret.empty()) reload_keys();
    } catch (const std::exception& e) {
      spdlog::warn("identity refresh failed: {}", e.what());
    }
  }
}

}  // namespace remhart::app
