// Identity data in the shared MariaDB database, so every replica sees the same accounts,
// sessions, revocations and device keys (the same contract and tests as the SQLite store).
#include "auth/mariadb_identity_store.hpp"

#include <cstring>

#include "core/error.hpp"
#include "store/mariadb.hpp"

namespace remhart::auth {

using core::Error;
using core::ErrorKind;
using store::maria::Connection;
using store::maria::Row;
using store::maria::Statement;
using store::maria::Value;

namespace {

const std::vector<std::vector<std::string>> kMigrations = {
    {
        "CREATE TABLE IF NOT EXISTS identity_meta(id INT NOT NULL PRIMARY KEY, version BIGINT NOT "
        "NULL) ENGINE=InnoDB",
        "INSERT IGNORE INTO identity_meta VALUES (1, 0)",
        // AUTO_INCREMENT is persistent in InnoDB (MariaDB ≥ 10.2.4): an erased account's id is
        // never handed out again. The username compares without case, as on SQLite (NOCASE).
        "CREATE TABLE IF NOT EXISTS users(id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, username "
        "VARCHAR(255) NOT NULL COLLATE utf8mb4_general_ci, email TEXT NOT NULL, full_name TEXT NOT "
        "NULL, role VARCHAR(32) NOT NULL, password_hash TEXT NOT NULL, disabled TINYINT NOT NULL "
        "DEFAULT 0, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, last_login_at BIGINT "
        "NULL, token_version BIGINT NOT NULL DEFAULT 0, UNIQUE KEY users_name(username)) "
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE IF NOT EXISTS refresh_tokens(hash VARBINARY(32) NOT NULL PRIMARY KEY, "
        "user_id BIGINT NOT NULL, family VARCHAR(64) NOT NULL, issued_at BIGINT NOT NULL, "
        "expires_at BIGINT NOT NULL, used_at BIGINT NULL, revoked_at BIGINT NULL, KEY "
        "refresh_family(family), KEY refresh_user(user_id)) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS revoked_jti(jti VARCHAR(128) NOT NULL PRIMARY KEY, expires_at "
        "BIGINT NOT NULL) ENGINE=InnoDB",
        "CREATE TABLE IF NOT EXISTS device_keys(id VARCHAR(64) NOT NULL PRIMARY KEY, hash "
        "VARBINARY(32) NOT NULL UNIQUE, name TEXT NOT NULL, device VARCHAR(64) NOT NULL DEFAULT "
        "'', site VARCHAR(255) NOT NULL DEFAULT '', rate_per_min BIGINT NOT NULL DEFAULT 0, "
        "created_at BIGINT NOT NULL, created_by TEXT NOT NULL, revoked_at BIGINT NULL, broker_hash "
        "TEXT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    },
    {
        "CREATE TABLE IF NOT EXISTS signing_keys(id INT NOT NULL PRIMARY KEY, ring TEXT NOT NULL) "
        "ENGINE=InnoDB",
    }};

constexpr const char* kUserColumns =
    "id, username, email, full_name, role, password_hash, disabled, created_at, updated_at, "
    "last_login_at, token_version";
constexpr const char* kRefreshColumns =
    "hash, user_id, family, issued_at, expires_at, used_at, revoked_at";

std::string bytes(const Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

Digest digest(const std::string& b) {
  Digest d{};
  if (b.size() == d.size()) std::memcpy(d.data(), b.data(), d.size());
  return d;
}

std::optional<std::int64_t> opt_int(const Row& r, std::size_t col) {
  if (r.is_null(col)) return std::nullopt;
  return r.int64(col);
}

User read_user(const Row& r) {
  User u;
  u.id = r.int64(0);
  u.username = r.text(1);
  u.email = r.text(2);
  u.full_name = r.text(3);
  u.role = r.text(4);
  u.password_hash = r.text(5);
  u.disabled = r.int64(6) != 0;
  u.created_at = r.int64(7);
  u.updated_at = r.int64(8);
  u.last_login_at = opt_int(r, 9);
  u.token_version = r.int64(10);
  return u;
}

RefreshToken read_refresh(const Row& r) {
  RefreshToken t;
  t.hash = digest(r.text(0));
  t.user_id = r.int64(1);
  t.family = r.text(2);
  t.issued_at = r.int64(3);
  t.expires_at = r.int64(4);
  t.used_at = opt_int(r, 5);
  t.revoked_at = opt_int(r, 6);
  return t;
}

void bump(Connection& c) {
  c.exec("UPDATE identity_meta SET version = version + 1 WHERE id = 1");
}

bool is_duplicate(const store::maria::Error& e) {
  return e.code() == 1062;  // ER_DUP_ENTRY
}

bool exists(Connection& c, const char* sql, const Value& key) {
  return !Statement(c, sql).rows({key}).empty();
}

}  // namespace

MariadbIdentityStore::MariadbIdentityStore(const std::string& url)
    : pool_(store::maria::open_migrated(url, "identity", kMigrations)) {}

MariadbIdentityStore::~MariadbIdentityStore() = default;

std::int64_t MariadbIdentityStore::version() {
  return pool_->with([](Connection& c) {
    const auto rows = c.query("SELECT version FROM identity_meta WHERE id = 1");
    return rows.empty() ? std::int64_t{0} : rows[0].int64(0);
  });
}

std::vector<User> MariadbIdentityStore::users() {
  return pool_->with([](Connection& c) {
    std::vector<User> out;
    Statement(c, std::string("SELECT ") + kUserColumns + " FROM users ORDER BY id")
        .query({}, [&](const Row& r) { out.push_back(read_user(r)); });
    return out;
  });
}

std::optional<User> MariadbIdentityStore::user(std::int64_t id) {
  return pool_->with([&](Connection& c) -> std::optional<User> {
    const auto rows =
        Statement(c, std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?").rows({id});
    if (rows.empty()) return std::nullopt;
    return read_user(rows[0]);
  });
}

std::optional<User> MariadbIdentityStore::user_by_name(std::string_view username) {
  return pool_->with([&](Connection& c) -> std::optional<User> {
    const auto rows =
        Statement(c, std::string("SELECT ") + kUserColumns + " FROM users WHERE username = ?")
            .rows({std::string(username)});
    if (rows.empty()) return std::nullopt;
    return read_user(rows[0]);
  });
}

std::int64_t MariadbIdentityStore::create_user(const User& u) {
  return pool_->with([&](Connection& c) {
    store::maria::Transaction tx(c);
    try {
      Statement(c,
                "INSERT INTO users(username, email, full_name, role, password_hash, disabled, "
                "created_at, updated_at, token_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .execute({u.username, u.email, u.full_name, u.role, u.password_hash,
                    std::int64_t{u.disabled}, u.created_at, u.updated_at, u.token_version});
    } catch (const store::maria::Error& e) {
      if (is_duplicate(e)) throw Error(ErrorKind::conflict, "username is taken", "username");
      throw;
    }
    const auto id = c.query("SELECT LAST_INSERT_ID()")[0].int64(0);
    bump(c);
    tx.commit();
    return id;
  });
}

void MariadbIdentityStore::update_user(const User& u) {
  pool_->with([&](Connection& c) {
    store::maria::Transaction tx(c);
    // (Affected rows count changed rows only: existence is asked for separately.)
    if (!exists(c, "SELECT id FROM users WHERE id = ? FOR UPDATE", u.id)) {
      throw Error(ErrorKind::not_found, "no such user");
    }
    try {
      Statement(c,
                "UPDATE users SET username = ?, email = ?, full_name = ?, role = ?, "
                "password_hash = ?, disabled = ?, updated_at = ?, token_version = ? WHERE id = ?")
          .execute({u.username, u.email, u.full_name, u.role, u.password_hash,
                    std::int64_t{u.disabled}, u.updated_at, u.token_version, u.id});
    } catch (const store::maria::Error& e) {
      if (is_duplicate(e)) throw Error(ErrorKind::conflict, "username is taken", "username");
      throw;
    }
    bump(c);
    tx.commit();
  });
}

void MariadbIdentityStore::set_last_login(std::int64_t id, std::int64_t at) {
  pool_->with([&](Connection& c) {
    Statement(c, "UPDATE users SET last_login_at = ? WHERE id = ?").execute({at, id});
  });
}

void MariadbIdentityStore::delete_user(std::int64_t id) {
  pool_->with([&](Connection& c) {
    store::maria::Transaction tx(c);
    if (Statement(c, "DELETE FROM users WHERE id = ?").execute({id}) == 0) {
      throw Error(ErrorKind::not_found, "no such user");
    }
    Statement(c, "DELETE FROM refresh_tokens WHERE user_id = ?").execute({id});
    bump(c);
    tx.commit();
  });
}

void MariadbIdentityStore::add_refresh_token(const RefreshToken& t) {
  pool_->with([&](Connection& c) {
    Statement(c,
              "INSERT INTO refresh_tokens(hash, user_id, family, issued_at, expires_at) VALUES "
              "(?, ?, ?, ?, ?)")
        .execute({bytes(t.hash), t.user_id, t.family, t.issued_at, t.expires_at});
  });
}

std::optional<RefreshToken> MariadbIdentityStore::refresh_token(const Digest& hash) {
  return pool_->with([&](Connection& c) -> std::optional<RefreshToken> {
    const auto rows = Statement(c, std::string("SELECT ") + kRefreshColumns +
                                       " FROM refresh_tokens WHERE hash = ?")
                          .rows({bytes(hash)});
    if (rows.empty()) return std::nullopt;
    return read_refresh(rows[0]);
  });
}

bool MariadbIdentityStore::rotate_refresh_token(const Digest& used, std::int64_t now,
                                                const RefreshToken& successor) {
  return pool_->with([&](Connection& c) {
    store::maria::Transaction tx(c);
    // The row lock makes two concurrent rotations of one token take turns: one spends it.
    const auto spent = Statement(c,
                                 "UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND "
                                 "used_at IS NULL AND revoked_at IS NULL AND expires_at > ?")
                           .execute({now, bytes(used), now});
    if (spent != 1) return false;  // rolled back: nothing changed
    Statement(c,
              "INSERT INTO refresh_tokens(hash, user_id, family, issued_at, expires_at) VALUES "
              "(?, ?, ?, ?, ?)")
        .execute({bytes(successor.hash), successor.user_id, successor.family, successor.issued_at,
                  successor.expires_at});
    tx.commit();
    return true;
  });
}

void MariadbIdentityStore::revoke_family(std::string_view family, std::int64_t now) {
  pool_->with([&](Connection& c) {
    Statement(c, "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL")
        .execute({now, std::string(family)});
  });
}

void MariadbIdentityStore::revoke_user_tokens(std::int64_t user_id, std::int64_t now) {
  pool_->with([&](Connection& c) {
    Statement(c,
              "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
        .execute({now, user_id});
  });
}

std::vector<RefreshToken> MariadbIdentityStore::user_refresh_tokens(std::int64_t user_id) {
  return pool_->with([&](Connection& c) {
    std::vector<RefreshToken> out;
    Statement(c, std::string("SELECT ") + kRefreshColumns +
                     " FROM refresh_tokens WHERE user_id = ? ORDER BY issued_at")
        .query({user_id}, [&](const Row& r) { out.push_back(read_refresh(r)); });
    return out;
  });
}

void MariadbIdentityStore::revoke_jti(std::string_view jti, std::int64_t expires_s) {
  pool_->with([&](Connection& c) {
    store::maria::Transaction tx(c);
    Statement(c, "INSERT IGNORE INTO revoked_jti(jti, expires_at) VALUES (?, ?)")
        .execute({std::string(jti), expires_s});
    bump(c);
    tx.commit();
  });
}

std::vector<std::string> MariadbIdentityStore::revoked_jtis(std::int64_t now_s) {
  return pool_->with([&](Connection& c) {
    Statement(c, "DELETE FROM revoked_jti WHERE expires_at < ?").execute({now_s - 60});
    std::vector<std::string> out;
    for (const auto& r : c.query("SELECT jti FROM revoked_jti")) out.push_back(r.text(0));
    return out;
  });
}

void MariadbIdentityStore::create_device_key(const DeviceKey& k) {
  pool_->with([&](Connection& c) {
    store::maria::Transaction tx(c);
    Statement(c,
              "INSERT INTO device_keys(id, hash, name, device, site, rate_per_min, created_at, "
              "created_by, broker_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .execute({k.id, bytes(k.hash), k.name, k.device, k.site, k.rate_per_min, k.created_at,
                  k.created_by, k.broker_hash});
    bump(c);
    tx.commit();
  });
}

std::vector<DeviceKey> MariadbIdentityStore::device_keys() {
  return pool_->with([](Connection& c) {
    std::vector<DeviceKey> out;
    Statement(c,
              "SELECT id, hash, name, device, site, rate_per_min, created_at, created_by, "
              "revoked_at, broker_hash FROM device_keys ORDER BY created_at, id")
        .query({}, [&](const Row& r) {
          DeviceKey k;
          k.id = r.text(0);
          k.hash = digest(r.text(1));
          k.name = r.text(2);
          k.device = r.text(3);
          k.site = r.text(4);
          k.rate_per_min = r.int64(5);
          k.created_at = r.int64(6);
          k.created_by = r.text(7);
          k.revoked_at = opt_int(r, 8);
          k.broker_hash = r.text(9);
          out.push_back(std::move(k));
        });
    return out;
  });
}

void MariadbIdentityStore::revoke_device_key(std::string_view id, std::int64_t now) {
  pool_->with([&](Connection& c) {
    store::maria::Transaction tx(c);
    if (!exists(c, "SELECT id FROM device_keys WHERE id = ? FOR UPDATE", std::string(id))) {
      throw Error(ErrorKind::not_found, "no such device key");
    }
    Statement(c, "UPDATE device_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?")
        .execute({now, std::string(id)});
    bump(c);
    tx.commit();
  });
}

std::vector<SigningKey> MariadbIdentityStore::load_or_create() {
  return pool_->with([](Connection& c) {
    // The first replica to ask makes the ring; the others read the one that won.
    Statement(c, "INSERT IGNORE INTO signing_keys(id, ring) VALUES (1, ?)")
        .execute({keyring_json(new_keyring())});
    const auto rows = c.query("SELECT ring FROM signing_keys WHERE id = 1");
    return parse_keyring(rows.at(0).text(0), "the database's signing keys");
  });
}

std::vector<SigningKey> MariadbIdentityStore::rotate() {
  load_or_create();
  return pool_->with([](Connection& c) {
    store::maria::Transaction tx(c);
    const auto rows = c.query("SELECT ring FROM signing_keys WHERE id = 1 FOR UPDATE");
    auto ring = rotated(parse_keyring(rows.at(0).text(0), "the database's signing keys"));
    Statement(c, "UPDATE signing_keys SET ring = ? WHERE id = 1").execute({keyring_json(ring)});
    tx.commit();
    return ring;
  });
}

}  // namespace remhart::auth
