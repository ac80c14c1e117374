#include "store/ml_results.hpp"

#include "store/mariadb.hpp"
#include "store/sqlite.hpp"

namespace remhart::store {

namespace {
// Row and key sizes as the measurement tables': devices up to 64 characters, origins 255.
const std::vector<std::vector<std::string>> kMariadbMigrations = {{
    "CREATE TABLE IF NOT EXISTS ml_results(origin VARCHAR(255) NOT NULL, device VARCHAR(64) NOT "
    "NULL, model VARCHAR(64) NOT NULL, ts BIGINT NOT NULL, version BIGINT NOT NULL, result "
    "MEDIUMTEXT NOT NULL, PRIMARY KEY(origin, model, device, ts), KEY ml_results_ts(ts)) "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
}};

constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE ml_results(
  origin TEXT NOT NULL,
  device TEXT NOT NULL,
  model TEXT NOT NULL,
  ts INTEGER NOT NULL,
  version INTEGER NOT NULL,
  result TEXT NOT NULL,
  PRIMARY KEY(origin, model, device, ts)) WITHOUT ROWID;
)sql",
};
}  // namespace

SqliteMlResultRepository::SqliteMlResultRepository(const std::string& path)
    : db_(std::make_unique<Database>(path)) {
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  apply_migrations(*db_, "ml_results", kMigrations);
}

SqliteMlResultRepository::~SqliteMlResultRepository() = default;

void SqliteMlResultRepository::insert(const std::vector<MlResult>& rows) {
  if (rows.empty()) return;
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  auto st = db_->prepare(
      "INSERT OR REPLACE INTO ml_results(origin, device, model, ts, version, result) "
      "VALUES (?,?,?,?,?,?)");
  for (const auto& r : rows) {
    st.bind(1, r.origin)
        .bind(2, r.device)
        .bind(3, r.model)
        .bind(4, r.ts)
        .bind(5, r.version)
        .bind(6, r.result_json)
        .run();
  }
  tx.commit();
}

std::vector<MlResult> SqliteMlResultRepository::query(const MlResultQuery& q) {
  std::lock_guard lock(mu_);
  auto st = db_->prepare(
      q.device.empty()
          ? "SELECT origin, device, model, ts, version, result FROM ml_results WHERE origin = ? "
            "AND model = ? AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?"
          : "SELECT origin, device, model, ts, version, result FROM ml_results WHERE origin = ? "
            "AND model = ? AND ts >= ? AND ts < ? AND device = ? ORDER BY ts DESC LIMIT ?");
  st.bind(1, q.origin).bind(2, q.model).bind(3, q.from).bind(4, q.to);
  if (q.device.empty()) {
    st.bind(5, static_cast<std::int64_t>(q.limit));
  } else {
    st.bind(5, q.device).bind(6, static_cast<std::int64_t>(q.limit));
  }
  std::vector<MlResult> out;
  while (st.step()) {
    out.push_back({st.text(0), st.text(1), st.text(2), st.int64(3), st.int64(4), st.text(5)});
  }
  return out;
}

std::size_t SqliteMlResultRepository::delete_before(std::int64_t before) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("DELETE FROM ml_results WHERE ts < ?").bind(1, before).run();
  const auto n = static_cast<std::size_t>(db_->changes());
  tx.commit();
  return n;
}

std::size_t SqliteMlResultRepository::delete_origin(const std::string& origin) {
  std::lock_guard lock(mu_);
  db_->prepare("DELETE FROM ml_results WHERE origin = ?").bind(1, origin).run();
  return static_cast<std::size_t>(db_->changes());
}

// ---- MariaDB ----

MariadbMlResultRepository::MariadbMlResultRepository(const std::string& url)
    : pool_(maria::open_migrated(url, "ml_results", kMariadbMigrations)) {}

MariadbMlResultRepository::~MariadbMlResultRepository() = default;

void MariadbMlResultRepository::insert(const std::vector<MlResult>& rows) {
  if (rows.empty()) return;
  pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    maria::Statement st(c,
                        "REPLACE INTO ml_results(origin, device, model, ts, version, result) "
                        "VALUES (?, ?, ?, ?, ?, ?)");
    for (const auto& r : rows) {
      st.execute({r.origin, r.device, r.model, r.ts, r.version, r.result_json});
    }
    tx.commit();
  });
}

std::vector<MlResult> MariadbMlResultRepository::query(const MlResultQuery& q) {
  return pool_->with([&](maria::Connection& c) {
    std::vector<maria::Value> params = {q.origin, q.model, q.from, q.to};
    if (!q.device.empty()) params.emplace_back(q.device);
    params.emplace_back(static_cast<std::int64_t>(q.limit));
    maria::Statement st(
        c, std::string("SELECT origin, device, model, ts, version, result FROM ml_results WHERE "
                       "origin = ? AND model = ? AND ts >= ? AND ts < ?") +
               (q.device.empty() ? "" : " AND device = ?") + " ORDER BY ts DESC LIMIT ?");
    std::vector<MlResult> out;
    st.query(params, [&](const maria::Row& r) {
      out.push_back({r.text(0), r.text(1), r.text(2), r.int64(3), r.int64(4), r.text(5)});
    });
    return out;
  });
}

std::size_t MariadbMlResultRepository::delete_before(std::int64_t before) {
  return pool_->with([&](maria::Connection& c) {
    return static_cast<std::size_t>(
        maria::Statement(c, "DELETE FROM ml_results WHERE ts < ?").execute({before}));
  });
}

std::size_t MariadbMlResultRepository::delete_origin(const std::string& origin) {
  return pool_->with([&](maria::Connection& c) {
    return static_cast<std::size_t>(
        maria::Statement(c, "DELETE FROM ml_results WHERE origin = ?").execute({origin}));
  });
}

}  // namespace remhart::store
