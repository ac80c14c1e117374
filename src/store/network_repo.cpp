#include "store/network_repo.hpp"

#include "core/error.hpp"
#include "store/sqlite.hpp"

namespace remhart::store {

namespace {
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

NetworkRepository::NetworkRepository(const std::string& path, std::size_t keep_versions)
    : db_(std::make_unique<Database>(path)), keep_(keep_versions) {
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  apply_migrations(*db_, "networks", kMigrations);
}

NetworkRepository::~NetworkRepository() = default;

std::int64_t NetworkRepository::add(const std::string& name, const std::string& document,
                                    const std::string& uploaded_by, std::int64_t at) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
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
  tx.commit();
  return id;
}

std::vector<NetworkVersion> NetworkRepository::list() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT id, name, uploaded_at, uploaded_by, active FROM networks ORDER BY id DESC");
  std::vector<NetworkVersion> out;
  while (st.step()) {
    out.push_back({st.int64(0), st.text(1), st.int64(2), st.text(3), st.int64(4) != 0, {}});
  }
  return out;
}

std::optional<NetworkVersion> NetworkRepository::active() {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      "SELECT id, name, uploaded_at, uploaded_by, active, document FROM networks "
      "WHERE active = 1");
  if (!st.step()) return std::nullopt;
  return NetworkVersion{st.int64(0), st.text(1), st.int64(2), st.text(3), true, st.text(5)};
}

void NetworkRepository::activate(std::int64_t id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->exec("UPDATE networks SET active = 0 WHERE active = 1");
  db_->prepare("UPDATE networks SET active = 1 WHERE id = ?").bind(1, id).run();
  if (db_->changes() == 0) throw core::Error(core::ErrorKind::not_found, "no such network version");
  tx.commit();
}

}  // namespace remhart::store
