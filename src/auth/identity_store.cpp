#include "auth/identity_store.hpp"

#include <cstring>

#include "core/error.hpp"
#include "store/sqlite.hpp"

namespace remhart::auth {

using core::Error;
using core::ErrorKind;
using store::Statement;
using store::Transaction;

namespace {

constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE identity_meta(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT INTO identity_meta VALUES (1, 0);
CREATE TABLE users(
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  email TEXT NOT NULL DEFAULT '',
  full_name TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_login_at INTEGER,
  token_version INTEGER NOT NULL DEFAULT 0);
CREATE TABLE refresh_tokens(
  hash BLOB PRIMARY KEY,
  user_id INTEGER NOT NULL,
  family TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  revoked_at INTEGER) WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE TABLE revoked_jti(jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE device_keys(
  id TEXT PRIMARY KEY,
  hash BLOB NOT NULL UNIQUE,
  name TEXT NOT NULL,
  device TEXT NOT NULL DEFAULT '',
  site TEXT NOT NULL DEFAULT '',
  rate_per_min INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at INTEGER);
)sql",
    // Account ids are never reused: a token, audit row or export naming an erased account must
    // never resolve to a later one (a plain rowid key hands the largest deleted id out again).
    R"sql(
CREATE TABLE users_v2(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  email TEXT NOT NULL DEFAULT '',
  full_name TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_login_at INTEGER,
  token_version INTEGER NOT NULL DEFAULT 0);
INSERT INTO users_v2 SELECT id, username, email, full_name, role, password_hash, disabled,
  created_at, updated_at, last_login_at, token_version FROM users;
DROP TABLE users;
ALTER TABLE users_v2 RENAME TO users;
)sql",
    // Broker credentials: the secret hashed as Mosquitto's password file wants it, written when
    // the key is made (the secret itself is never kept).
    R"sql(
ALTER TABLE device_keys ADD COLUMN broker_hash TEXT NOT NULL DEFAULT '';
)sql",
};

std::span<const std::byte> bytes(const Digest& d) {
  return std::as_bytes(std::span(d));
}

Digest digest(std::span<const std::byte> b) {
  Digest d{};
  if (b.size() == d.size()) std::memcpy(d.data(), b.data(), d.size());
  return d;
}

std::optional<std::int64_t> opt_int(const Statement& st, int col) {
  if (st.is_null(col)) return std::nullopt;
  return st.int64(col);
}

constexpr const char* kUserColumns =
    "id, username, email, full_name, role, password_hash, disabled, created_at, updated_at, "
    "last_login_at, token_version";

User read_user(const Statement& st) {
  User u;
  u.id = st.int64(0);
  u.username = st.text(1);
  u.email = st.text(2);
  u.full_name = st.text(3);
  u.role = st.text(4);
  u.password_hash = st.text(5);
  u.disabled = st.int64(6) != 0;
  u.created_at = st.int64(7);
  u.updated_at = st.int64(8);
  u.last_login_at = opt_int(st, 9);
  u.token_version = st.int64(10);
  return u;
}

RefreshToken read_refresh(const Statement& st) {
  RefreshToken t;
  t.hash = digest(st.blob(0));
  t.user_id = st.int64(1);
  t.family = st.text(2);
  t.issued_at = st.int64(3);
  t.expires_at = st.int64(4);
  t.used_at = opt_int(st, 5);
  t.revoked_at = opt_int(st, 6);
  return t;
}

// Binds the fields every user write sets, as parameters 1–6.
Statement& bind_user_fields(Statement& st, const User& u) {
  return st.bind(1, u.username)
      .bind(2, u.email)
      .bind(3, u.full_name)
      .bind(4, u.role)
      .bind(5, u.password_hash)
      .bind(6, std::int64_t{u.disabled});
}

bool is_unique_violation(const store::SqliteError& e) {
  return (e.code() & 0xff) == 19;  // SQLITE_CONSTRAINT
}

}  // namespace

SqliteIdentityStore::SqliteIdentityStore(const std::string& path)
    : db_(std::make_unique<store::Database>(path)) {
  db_->exec("PRAGMA page_size=16384");  // matches the measurement store when we create the file
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  store::apply_migrations(*db_, "identity", kMigrations);
  reserve_used_ids();
}

// Ids that audit rows name (accounts erased before ids stopped being reused) are never handed
// out either.
void SqliteIdentityStore::reserve_used_ids() {
  auto has_audit =
      db_->prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'");
  const std::string audit_max =
      has_audit.step() ? "(SELECT COALESCE(MAX(user_id), 0) FROM audit)" : "0";
  has_audit = Statement();
  Transaction tx(*db_, true);
  auto st = db_->prepare(
      "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = "
      "'users'), 0), (SELECT COALESCE(MAX(id), 0) FROM users), " +
      audit_max + ")");
  const std::int64_t high = st.step() ? st.int64(0) : 0;
  st = Statement();
  db_->prepare("DELETE FROM sqlite_sequence WHERE name = 'users'").run();
  db_->prepare("INSERT INTO sqlite_sequence(name, seq) VALUES ('users', ?)").bind(1, high).run();
  tx.commit();
}

SqliteIdentityStore::~SqliteIdentityStore() = default;

void SqliteIdentityStore::bump() {
  db_->exec("UPDATE identity_meta SET version = version + 1");
}

std::int64_t SqliteIdentityStore::version() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("SELECT version FROM identity_meta");
  return st.step() ? st.int64(0) : 0;
}

std::vector<User> SqliteIdentityStore::users() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY id");
  std::vector<User> out;
  while (st.step()) out.push_back(read_user(st));
  return out;
}

std::optional<User> SqliteIdentityStore::user(std::int64_t id) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_user(st);
}

std::optional<User> SqliteIdentityStore::user_by_name(std::string_view username) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE username = ?");
  st.bind(1, username);
  if (!st.step()) return std::nullopt;
  return read_user(st);
}

std::int64_t SqliteIdentityStore::create_user(const User& u) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  try {
    auto st = db_->prepare(
        "INSERT INTO users(username, email, full_name, role, password_hash, disabled, "
        "created_at, updated_at, token_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    bind_user_fields(st, u)
        .bind(7, u.created_at)
        .bind(8, u.updated_at)
        .bind(9, u.token_version)
        .run();
  } catch (const store::SqliteError& e) {
    if (is_unique_violation(e)) throw Error(ErrorKind::conflict, "username is taken", "username");
    throw;
  }
  const auto id = db_->last_insert_rowid();
  bump();
  tx.commit();
  return id;
}

void SqliteIdentityStore::update_user(const User& u) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  try {
    auto st = db_->prepare(
        "UPDATE users SET username = ?, email = ?, full_name = ?, role = ?, password_hash = ?, "
        "disabled = ?, updated_at = ?, token_version = ? WHERE id = ?");
    bind_user_fields(st, u).bind(7, u.updated_at).bind(8, u.token_version).bind(9, u.id).run();
  } catch (const store::SqliteError& e) {
    if (is_unique_violation(e)) throw Error(ErrorKind::conflict, "username is taken", "username");
    throw;
  }
  if (db_->changes() == 0) throw Error(ErrorKind::not_found, "no such user");
  bump();
  tx.commit();
}

void SqliteIdentityStore::set_last_login(std::int64_t id, std::int64_t at) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("UPDATE users SET last_login_at = ? WHERE id = ?").bind(1, at).bind(2, id).run();
  tx.commit();
}

void SqliteIdentityStore::delete_user(std::int64_t id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("DELETE FROM users WHERE id = ?").bind(1, id).run();
  if (db_->changes() == 0) throw Error(ErrorKind::not_found, "no such user");
  db_->prepare("DELETE FROM refresh_tokens WHERE user_id = ?").bind(1, id).run();
  bump();
  tx.commit();
}

void SqliteIdentityStore::add_refresh_token(const RefreshToken& t) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(
         "INSERT INTO refresh_tokens(hash, user_id, family, issued_at, expires_at) "
         "VALUES (?, ?, ?, ?, ?)")
      .bind_blob(1, bytes(t.hash))
      .bind(2, t.user_id)
      .bind(3, t.family)
      .bind(4, t.issued_at)
      .bind(5, t.expires_at)
      .run();
  tx.commit();
}

std::optional<RefreshToken> SqliteIdentityStore::refresh_token(const Digest& hash) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT hash, user_id, family, issued_at, expires_at, used_at, revoked_at "
      "FROM refresh_tokens WHERE hash = ?");
  st.bind_blob(1, bytes(hash));
  if (!st.step()) return std::nullopt;
  return read_refresh(st);
}

bool SqliteIdentityStore::rotate_refresh_token(const Digest& used, std::int64_t now,
                                               const RefreshToken& successor) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(
         "UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL "
         "AND revoked_at IS NULL AND expires_at > ?")
      .bind(1, now)
      .bind_blob(2, bytes(used))
      .bind(3, now)
      .run();
  if (db_->changes() != 1) return false;  // the transaction rolls back: nothing changed
  db_->prepare(
         "INSERT INTO refresh_tokens(hash, user_id, family, issued_at, expires_at) "
         "VALUES (?, ?, ?, ?, ?)")
      .bind_blob(1, bytes(successor.hash))
      .bind(2, successor.user_id)
      .bind(3, successor.family)
      .bind(4, successor.issued_at)
      .bind(5, successor.expires_at)
      .run();
  tx.commit();
  return true;
}

void SqliteIdentityStore::revoke_family(std::string_view family, std::int64_t now) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL")
      .bind(1, now)
      .bind(2, family)
      .run();
  tx.commit();
}

void SqliteIdentityStore::revoke_user_tokens(std::int64_t user_id, std::int64_t now) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
      .bind(1, now)
      .bind(2, user_id)
      .run();
  tx.commit();
}

std::vector<RefreshToken> SqliteIdentityStore::user_refresh_tokens(std::int64_t user_id) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT hash, user_id, family, issued_at, expires_at, used_at, revoked_at "
      "FROM refresh_tokens WHERE user_id = ? ORDER BY issued_at");
  st.bind(1, user_id);
  std::vector<RefreshToken> out;
  while (st.step()) out.push_back(read_refresh(st));
  return out;
}

void SqliteIdentityStore::revoke_jti(std::string_view jti, std::int64_t expires_s) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("INSERT OR IGNORE INTO revoked_jti(jti, expires_at) VALUES (?, ?)")
      .bind(1, jti)
      .bind(2, expires_s)
      .run();
  bump();
  tx.commit();
}

std::vector<std::string> SqliteIdentityStore::revoked_jtis(std::int64_t now_s) {
  std::lock_guard lock(mu_);
  {
    Transaction tx(*db_, true);
    db_->prepare("DELETE FROM revoked_jti WHERE expires_at < ?").bind(1, now_s - 60).run();
    tx.commit();
  }
  auto st = db_->prepare("SELECT jti FROM revoked_jti");
  std::vector<std::string> out;
  while (st.step()) out.push_back(st.text(0));
  return out;
}

void SqliteIdentityStore::create_device_key(const DeviceKey& k) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare(
         "INSERT INTO device_keys(id, hash, name, device, site, rate_per_min, created_at, "
         "created_by, broker_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, k.id)
      .bind_blob(2, bytes(k.hash))
      .bind(3, k.name)
      .bind(4, k.device)
      .bind(5, k.site)
      .bind(6, k.rate_per_min)
      .bind(7, k.created_at)
      .bind(8, k.created_by)
      .bind(9, k.broker_hash)
      .run();
  bump();
  tx.commit();
}

std::vector<DeviceKey> SqliteIdentityStore::device_keys() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT id, hash, name, device, site, rate_per_min, created_at, created_by, revoked_at, "
      "broker_hash FROM device_keys ORDER BY created_at, id");
  std::vector<DeviceKey> out;
  while (st.step()) {
    DeviceKey k;
    k.id = st.text(0);
    k.hash = digest(st.blob(1));
    k.name = st.text(2);
    k.device = st.text(3);
    k.site = st.text(4);
    k.rate_per_min = st.int64(5);
    k.created_at = st.int64(6);
    k.created_by = st.text(7);
    k.revoked_at = opt_int(st, 8);
    k.broker_hash = st.text(9);
    out.push_back(std::move(k));
  }
  return out;
}

void SqliteIdentityStore::revoke_device_key(std::string_view id, std::int64_t now) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("UPDATE device_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
      .bind(1, now)
      .bind(2, id)
      .run();
  if (db_->changes() == 0) throw Error(ErrorKind::not_found, "no such device key");
  bump();
  tx.commit();
}

}  // namespace remhart::auth
