#include "store/network_repo.hpp"

#include "core/error.hpp"
#include "store/mariadb.hpp"
#include "store/sqlite.hpp"

namespace remhart::store {

namespace {
const std::vector<std::vector<std::string>> kMariadbMigrations = {{
    "CREATE TABLE IF NOT EXISTS networks(id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name TEXT "
    "NOT NULL, uploaded_at BIGINT NOT NULL, uploaded_by TEXT NOT NULL, active TINYINT NOT NULL "
    "DEFAULT 0, document LONGTEXT NOT NULL, KEY networks_active(active)) ENGINE=InnoDB DEFAULT "
    "CHARSET=utf8mb4",
}};

constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE networks(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL,
  uploaded_by TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 0,
  document TEXT NOT NULL);
)sql",
};
}  // namespace

SqliteNetworkRepository::SqliteNetworkRepository(const std::string& path, std::size_t keep_versions)
    : db_(std::make_unique<Database>(path)), keep_(keep_versions) {
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  apply_migrations(*db_, "networks", kMigrations);
}

SqliteNetworkRepository::~SqliteNetworkRepository() = default;

std::int64_t SqliteNetworkRepository::add(const std::string& name, const std::string& document,
                                          const std::string& uploaded_by, std::int64_t at) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  const auto id = insert_active(name, document, uploaded_by, at);
  tx.commit();
  return id;
}

std::optional<std::int64_t> SqliteNetworkRepository::add_first(const std::string& name,
                                                               const std::string& document,
                                                               const std::string& uploaded_by,
                                                               std::int64_t at) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);  // BEGIN IMMEDIATE: another process's add waits for this one
  auto count = db_->prepare("SELECT COUNT(*) FROM networks");
  if (count.step() && count.int64(0) > 0) return std::nullopt;
  const auto id = insert_active(name, document, uploaded_by, at);
  tx.commit();
  return id;
}

std::int64_t SqliteNetworkRepository::insert_active(const std::string& name,
                                                    const std::string& document,
                                                    const std::string& uploaded_by,
                                                    std::int64_t at) {
  db_->exec("UPDATE networks SET active = 0 WHERE active = 1");
  db_->prepare(
         "INSERT INTO networks(name, uploaded_at, uploaded_by, active, document) "
         "VALUES (?, ?, ?, 1, ?)")
      .bind(1, name)
      .bind(2, at)
      .bind(3, uploaded_by)
      .bind(4, document)
      .run();
  const auto id = db_->last_insert_rowid();
  // Only the newest versions are kept (each holds a whole model).
  db_->prepare(
         "DELETE FROM networks WHERE id NOT IN (SELECT id FROM networks ORDER BY id DESC LIMIT ?)")
      .bind(1, static_cast<std::int64_t>(keep_))
      .run();
  return id;
}

std::vector<NetworkVersion> SqliteNetworkRepository::list() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT id, name, uploaded_at, uploaded_by, active FROM networks ORDER BY id DESC");
  std::vector<NetworkVersion> out;
  while (st.step()) {
    out.push_back({st.int64(0), st.text(1), st.int64(2), st.text(3), st.int64(4) != 0, {}});
  }
  return out;
}

std::optional<NetworkVersion> SqliteNetworkRepository::active() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT id, name, uploaded_at, uploaded_by, active, document FROM networks "
      "WHERE active = 1");
  if (!st.step()) return std::nullopt;
  return NetworkVersion{st.int64(0), st.text(1), st.int64(2), st.text(3), true, st.text(5)};
}

std::int64_t SqliteNetworkRepository::active_id() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare("SELECT id FROM networks WHERE active = 1");
  return st.step() ? st.int64(0) : 0;
}

void SqliteNetworkRepository::activate(std::int64_t id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->exec("UPDATE networks SET active = 0 WHERE active = 1");
  db_->prepare("UPDATE networks SET active = 1 WHERE id = ?").bind(1, id).run();
  if (db_->changes() == 0) throw core::Error(core::ErrorKind::not_found, "no such network version");
  tx.commit();
}

// ---- MariaDB ----

MariadbNetworkRepository::MariadbNetworkRepository(const std::string& url,
                                                   std::size_t keep_versions)
    : pool_(maria::open_migrated(url, "networks", kMariadbMigrations, 2)), keep_(keep_versions) {}

MariadbNetworkRepository::~MariadbNetworkRepository() = default;

std::int64_t MariadbNetworkRepository::add(const std::string& name, const std::string& document,
                                           const std::string& uploaded_by, std::int64_t at) {
  return pool_->with([&](maria::Connection& c) {
    // Two replicas adding at once: the second's UPDATE waits for the first's commit, so one
    // version ends up active.
    maria::Transaction tx(c);
    const auto id = insert_active(c, name, document, uploaded_by, at);
    tx.commit();
    return id;
  });
}

std::optional<std::int64_t> MariadbNetworkRepository::add_first(const std::string& name,
                                                                const std::string& document,
                                                                const std::string& uploaded_by,
                                                                std::int64_t at) {
  return pool_->with([&](maria::Connection& c) -> std::optional<std::int64_t> {
    // Replicas starting together on a fresh database: one at a time looks and adds.
    maria::NamedLock lock(c, "remhart.networks", 30);
    if (c.query("SELECT COUNT(*) FROM networks").at(0).int64(0) > 0) return std::nullopt;
    maria::Transaction tx(c);
    const auto id = insert_active(c, name, document, uploaded_by, at);
    tx.commit();
    return id;
  });
}

std::int64_t MariadbNetworkRepository::insert_active(maria::Connection& c, const std::string& name,
                                                     const std::string& document,
                                                     const std::string& uploaded_by,
                                                     std::int64_t at) {
  c.exec("UPDATE networks SET active = 0 WHERE active = 1");
  maria::Statement(c,
                   "INSERT INTO networks(name, uploaded_at, uploaded_by, active, document) "
                   "VALUES (?, ?, ?, 1, ?)")
      .execute({name, at, uploaded_by, document});
  const auto id = c.query("SELECT LAST_INSERT_ID()").at(0).int64(0);
  // Only the newest versions are kept (each holds a whole model).
  const auto oldest_gone = maria::Statement(c,
                                            "SELECT id FROM networks ORDER BY id DESC LIMIT 1 "
                                            "OFFSET ?")
                               .rows({static_cast<std::int64_t>(keep_)});
  if (!oldest_gone.empty()) {
    maria::Statement(c, "DELETE FROM networks WHERE id <= ?").execute({oldest_gone[0].int64(0)});
  }
  return id;
}

std::vector<NetworkVersion> MariadbNetworkRepository::list() {
  return pool_->with([](maria::Connection& c) {
    std::vector<NetworkVersion> out;
    for (const auto& r : c.query("SELECT id, name, uploaded_at, uploaded_by, active FROM networks "
                                 "ORDER BY id DESC")) {
      out.push_back({r.int64(0), r.text(1), r.int64(2), r.text(3), r.int64(4) != 0, {}});
    }
    return out;
  });
}

std::optional<NetworkVersion> MariadbNetworkRepository::active() {
  return pool_->with([](maria::Connection& c) -> std::optional<NetworkVersion> {
    const auto rows = maria::Statement(c,
                                       "SELECT id, name, uploaded_at, uploaded_by, document FROM "
                                       "networks WHERE active = 1")
                          .rows();
    if (rows.empty()) return std::nullopt;
    const auto& r = rows[0];
    return NetworkVersion{r.int64(0), r.text(1), r.int64(2), r.text(3), true, r.text(4)};
  });
}

std::int64_t MariadbNetworkRepository::active_id() {
  return pool_->with([](maria::Connection& c) -> std::int64_t {
    const auto rows = c.query("SELECT id FROM networks WHERE active = 1");
    return rows.empty() ? 0 : rows[0].int64(0);
  });
}

void MariadbNetworkRepository::activate(std::int64_t id) {
  pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    c.exec("UPDATE networks SET active = 0 WHERE active = 1");
    if (maria::Statement(c, "UPDATE networks SET active = 1 WHERE id = ?").execute({id}) == 0) {
      throw core::Error(core::ErrorKind::not_found, "no such network version");
    }
    tx.commit();
  });
}

}  // namespace remhart::store
