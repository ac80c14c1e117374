#include "auth/audit.hpp"

#include <spdlog/spdlog.h>

#include <variant>

#include "core/time.hpp"
#include "obs/metrics.hpp"
#include "store/mariadb.hpp"
#include "store/sqlite.hpp"

namespace remhart::auth {

namespace {

constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE audit(
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  event TEXT NOT NULL,
  actor TEXT NOT NULL,
  user_id INTEGER,
  role TEXT NOT NULL DEFAULT '',
  method TEXT NOT NULL DEFAULT '',
  route TEXT NOT NULL DEFAULT '',
  status INTEGER NOT NULL DEFAULT 0,
  duration_us INTEGER NOT NULL DEFAULT 0,
  ip TEXT NOT NULL DEFAULT '',
  request_id TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '');
CREATE INDEX audit_ts ON audit(ts);
CREATE INDEX audit_user ON audit(user_id) WHERE user_id IS NOT NULL;
)sql",
};

// Binary strings, as SQLite keeps them: a request path or an attempted username is whatever bytes
// the caller sent, and a row the server refused as text (too long, not UTF-8) would lose its
// whole batch — an attacker could hide calls that way.
const std::vector<std::vector<std::string>> kMariadbMigrations = {{
    "CREATE TABLE IF NOT EXISTS audit(id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, ts BIGINT "
    "NOT NULL, kind MEDIUMBLOB NOT NULL, event MEDIUMBLOB NOT NULL, actor MEDIUMBLOB NOT NULL, "
    "user_id BIGINT NULL, role MEDIUMBLOB NOT NULL, method MEDIUMBLOB NOT NULL, route MEDIUMBLOB "
    "NOT NULL, status INT NOT NULL, duration_us BIGINT NOT NULL, ip MEDIUMBLOB NOT NULL, "
    "request_id MEDIUMBLOB NOT NULL, detail MEDIUMBLOB NOT NULL, KEY audit_ts(ts), KEY "
    "audit_user(user_id), KEY audit_actor(actor(255))) ENGINE=InnoDB",
}};

// The query of `q`'s filters, with its `?` parameters in order.
struct AuditSql {
  std::string text;
  std::vector<std::variant<std::int64_t, std::string>> params;
};
AuditSql query_sql(const AuditQuery& q) {
  AuditSql sql{
      "SELECT id, ts, kind, event, actor, user_id, role, method, route, status, duration_us, ip, "
      "request_id, detail FROM audit WHERE 1",
      {}};
  const auto add = [&sql](const char* clause, auto value) {
    sql.text += clause;
    sql.params.emplace_back(std::move(value));
  };
  if (q.from) add(" AND ts >= ?", *q.from);
  if (q.to) add(" AND ts < ?", *q.to);
  if (q.user_id) add(" AND user_id = ?", *q.user_id);
  if (!q.actor.empty()) add(" AND actor = ?", q.actor);
  if (!q.kind.empty()) add(" AND kind = ?", q.kind);
  if (!q.event.empty()) add(" AND event = ?", q.event);
  if (q.before_id) add(" AND id < ?", *q.before_id);
  add(" ORDER BY id DESC LIMIT ?", static_cast<std::int64_t>(q.limit));
  return sql;
}

// A row of query_sql's columns, from either database (both rows read by the same names).
template <typename Row>
AuditEntry entry_of(const Row& r) {
  AuditEntry e;
  e.id = r.int64(0);
  e.ts = r.int64(1);
  e.kind = r.text(2);
  e.event = r.text(3);
  e.actor = r.text(4);
  if (!r.is_null(5)) e.user_id = r.int64(5);
  e.role = r.text(6);
  e.method = r.text(7);
  e.route = r.text(8);
  e.status = static_cast<int>(r.int64(9));
  e.duration_us = r.int64(10);
  e.ip = r.text(11);
  e.request_id = r.text(12);
  e.detail = r.text(13);
  return e;
}

constexpr auto kFlushEvery = std::chrono::milliseconds(200);
constexpr std::size_t kBatchTrigger = 4096;

}  // namespace

// ---- SQLite ----

SqliteAuditStore::SqliteAuditStore(const std::string& path)
    : db_(std::make_unique<store::Database>(path)) {
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  store::apply_migrations(*db_, "audit", kMigrations);
}

SqliteAuditStore::~SqliteAuditStore() = default;

void SqliteAuditStore::insert(const std::vector<AuditEntry>& batch) {
  std::lock_guard lock(mu_);
  store::Transaction tx(*db_, true);
  auto st = db_->prepare(
      "INSERT INTO audit(ts, kind, event, actor, user_id, role, method, route, status, "
      "duration_us, ip, request_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  for (const auto& e : batch) {
    st.bind(1, e.ts).bind(2, e.kind).bind(3, e.event).bind(4, e.actor);
    if (e.user_id) {
      st.bind(5, *e.user_id);
    } else {
      st.bind_null(5);
    }
    st.bind(6, e.role)
        .bind(7, e.method)
        .bind(8, e.route)
        .bind(9, std::int64_t{e.status})
        .bind(10, e.duration_us)
        .bind(11, e.ip)
        .bind(12, e.request_id)
        .bind(13, e.detail)
        .run();
  }
  tx.commit();
}

std::vector<AuditEntry> SqliteAuditStore::query(const AuditQuery& q) {
  const auto sql = query_sql(q);
  std::lock_guard lock(mu_);
  auto st = db_->prepare(sql.text);
  int idx = 0;
  for (const auto& p : sql.params) std::visit([&](const auto& v) { st.bind(++idx, v); }, p);
  std::vector<AuditEntry> out;
  while (st.step()) out.push_back(entry_of(st));
  return out;
}

void SqliteAuditStore::pseudonymise(std::int64_t user_id, const std::string& username,
                                    const std::string& pseudonym) {
  std::lock_guard lock(mu_);
  store::Transaction tx(*db_, true);
  db_->prepare("UPDATE audit SET actor = ?1, ip = '', detail = '' WHERE user_id = ?2 OR actor = ?3")
      .bind(1, pseudonym)
      .bind(2, user_id)
      .bind(3, username)
      .run();
  tx.commit();
}

std::int64_t SqliteAuditStore::delete_before(std::int64_t before) {
  std::lock_guard lock(mu_);
  store::Transaction tx(*db_, true);
  db_->prepare("DELETE FROM audit WHERE ts < ?").bind(1, before).run();
  const auto removed = db_->changes();
  tx.commit();
  return removed;
}

// ---- MariaDB ----

MariadbAuditStore::MariadbAuditStore(const std::string& url)
    : pool_(store::maria::open_migrated(url, "audit", kMariadbMigrations)) {}

MariadbAuditStore::~MariadbAuditStore() = default;

void MariadbAuditStore::insert(const std::vector<AuditEntry>& batch) {
  using store::maria::Value;
  pool_->with([&](store::maria::Connection& c) {
    store::maria::Transaction tx(c);
    store::maria::Statement st(
        c,
        "INSERT INTO audit(ts, kind, event, actor, user_id, role, method, route, status, "
        "duration_us, ip, request_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const auto& e : batch) {
      st.execute({e.ts, e.kind, e.event, e.actor, e.user_id ? Value(*e.user_id) : Value(), e.role,
                  e.method, e.route, std::int64_t{e.status}, e.duration_us, e.ip, e.request_id,
                  e.detail});
    }
    tx.commit();
  });
}

std::vector<AuditEntry> MariadbAuditStore::query(const AuditQuery& q) {
  const auto sql = query_sql(q);
  std::vector<store::maria::Value> params;
  for (const auto& p : sql.params) std::visit([&](const auto& v) { params.emplace_back(v); }, p);
  return pool_->with([&](store::maria::Connection& c) {
    std::vector<AuditEntry> out;
    store::maria::Statement(c, sql.text).query(params, [&](const store::maria::Row& r) {
      out.push_back(entry_of(r));
    });
    return out;
  });
}

void MariadbAuditStore::pseudonymise(std::int64_t user_id, const std::string& username,
                                     const std::string& pseudonym) {
  pool_->with([&](store::maria::Connection& c) {
    store::maria::Statement(
        c, "UPDATE audit SET actor = ?, ip = '', detail = '' WHERE user_id = ? OR actor = ?")
        .execute({pseudonym, user_id, username});
  });
}

std::int64_t MariadbAuditStore::delete_before(std::int64_t before) {
  return pool_->with([&](store::maria::Connection& c) {
    return static_cast<std::int64_t>(
        store::maria::Statement(c, "DELETE FROM audit WHERE ts < ?").execute({before}));
  });
}

// ---- the log ----

AuditLog::AuditLog(const std::string& path, AuditOptions options, obs::Registry* metrics)
    : AuditLog(std::make_unique<SqliteAuditStore>(path), options, metrics) {}

AuditLog::AuditLog(std::unique_ptr<AuditStore> store, AuditOptions options, obs::Registry* metrics)
    : opt_(options), store_(std::move(store)) {
  if (metrics) {
    dropped_ = &metrics->counter("remhart_audit_dropped_total",
                                 "Audit entries dropped because the audit queue was full");
    written_total_ = &metrics->counter("remhart_audit_written_total", "Audit entries written");
    metrics->gauge_fn("remhart_audit_pending", "Audit entries waiting to be written", [this] {
      std::lock_guard lock(queue_mu_);
      return static_cast<double>(pending_.size());
    });
  }
  apply_retention(core::now_us());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rh-audit");
    run();
  });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AuditLog::record(AuditEntry e) {
  bool wake = false;
  {
    std::lock_guard lock(queue_mu_);
    if (pending_.size() >= opt_.max_pending) {
      if (dropped_) dropped_->inc();
      return;
    }
    pending_.push_back(std::move(e));
    ++recorded_;
    wake = pending_.size() >= kBatchTrigger;
  }
  if (wake) cv_.notify_one();
}

void AuditLog::flush() {
  std::unique_lock lock(queue_mu_);
  const auto target = recorded_;
  cv_.notify_one();
  flushed_cv_.wait(lock, [&] { return written_ >= target || stopping_; });
}

void AuditLog::run() {
  auto last_retention = std::chrono::steady_clock::now();
  std::unique_lock lock(queue_mu_);
  for (;;) {
    cv_.wait_for(lock, kFlushEvery, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty() && stopping_) break;
    std::vector<AuditEntry> batch;
    batch.swap(pending_);
    const auto upto = recorded_;
    lock.unlock();
    if (!batch.empty()) write(batch);
    if (std::chrono::steady_clock::now() - last_retention > std::chrono::hours(1)) {
      last_retention = std::chrono::steady_clock::now();
      apply_retention(core::now_us());
    }
    lock.lock();
    written_ = upto;
    flushed_cv_.notify_all();
  }
  written_ = recorded_;
  flushed_cv_.notify_all();
}

void AuditLog::write(std::vector<AuditEntry>& batch) {
  try {
    store_->insert(batch);
    if (written_total_) written_total_->inc(batch.size());
    return;
  } catch (const std::exception& ex) {
    spdlog::warn("audit: a batch of {} entries was refused ({}); writing them one by one",
                 batch.size(), ex.what());
  }
  // One entry the database refuses must not cost the others (nor hide them: a caller could
  // otherwise send a request whose row fails, to keep its neighbours out of the log).
  std::size_t lost = 0;
  for (auto& e : batch) {
    try {
      store_->insert({e});
      if (written_total_) written_total_->inc();
    } catch (const std::exception& ex) {
      ++lost;
      if (dropped_) dropped_->inc();
      if (lost == 1) spdlog::error("audit: could not write an entry: {}", ex.what());
    }
  }
}

std::vector<AuditEntry> AuditLog::query(const AuditQuery& q) {
  return store_->query(q);
}

void AuditLog::pseudonymise(std::int64_t user_id, const std::string& username,
                            const std::string& pseudonym) {
  flush();
  store_->pseudonymise(user_id, username, pseudonym);
}

std::int64_t AuditLog::apply_retention(std::int64_t now_us) {
  try {
    return store_->delete_before(now_us - opt_.retention_days * 86400 * core::kUsPerSecond);
  } catch (const std::exception& ex) {
    spdlog::warn("audit: retention failed: {}", ex.what());
    return 0;
  }
}

}  // namespace remhart::auth
