#include "store/ml_results.hpp"

#include "store/sqlite.hpp"

namespace remhart::store {

namespace {
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

MlResultRepository::MlResultRepository(const std::string& path)
    : db_(std::make_unique<Database>(path)) {
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  apply_migrations(*db_, "ml_results", kMigrations);
}

MlResultRepository::~MlResultRepository() = default;

void MlResultRepository::insert(const std::vector<MlResult>& rows) {
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

std::vector<MlResult> MlResultRepository::query(const MlResultQuery& q) {
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

std::size_t MlResultRepository::delete_before(std::int64_t before) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_, true);
  db_->prepare("DELETE FROM ml_results WHERE ts < ?").bind(1, before).run();
  const auto n = static_cast<std::size_t>(db_->changes());
  tx.commit();
  return n;
}

std::size_t MlResultRepository::delete_origin(const std::string& origin) {
  std::lock_guard lock(mu_);
  db_->prepare("DELETE FROM ml_results WHERE origin = ?").bind(1, origin).run();
  return static_cast<std::size_t>(db_->changes());
}

}  // namespace remhart::store
