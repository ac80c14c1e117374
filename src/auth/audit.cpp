#include "auth/audit.hpp"

#include <spdlog/spdlog.h>

#include "core/time.hpp"
#include "obs/metrics.hpp"
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

constexpr auto kFlushEvery = std::chrono::milliseconds(200);
constexpr std::size_t kBatchTrigger = 4096;

}  // namespace

AuditLog::AuditLog(const std::string& path, AuditOptions options, obs::Registry* metrics)
    : opt_(options), db_(std::make_unique<store::Database>(path)) {
  db_->exec("PRAGMA journal_mode=WAL");
  db_->exec("PRAGMA synchronous=NORMAL");
  store::apply_migrations(*db_, "audit", kMigrations);
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
    std::lock_guard lock(db_mu_);
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
    if (written_total_) written_total_->inc(batch.size());
  } catch (const std::exception& ex) {
    spdlog::error("audit: could not write {} entries: {}", batch.size(), ex.what());
    if (dropped_) dropped_->inc(batch.size());
  }
}

std::vector<AuditEntry> AuditLog::query(const AuditQuery& q) {
  std::string sql =
      "SELECT id, ts, kind, event, actor, user_id, role, method, route, status, duration_us, ip, "
      "request_id, detail FROM audit WHERE 1";
  if (q.from) sql += " AND ts >= :from";
  if (q.to) sql += " AND ts < :to";
  if (q.user_id) sql += " AND user_id = :uid";
  if (!q.actor.empty()) sql += " AND actor = :actor";
  if (!q.kind.empty()) sql += " AND kind = :kind";
  if (!q.event.empty()) sql += " AND event = :event";
  if (q.before_id) sql += " AND id < :before";
  sql += " ORDER BY id DESC LIMIT :limit";
  std::lock_guard lock(db_mu_);
  auto st = db_->prepare(sql);
  int idx = 0;
  if (q.from) st.bind(++idx, *q.from);
  if (q.to) st.bind(++idx, *q.to);
  if (q.user_id) st.bind(++idx, *q.user_id);
  if (!q.actor.empty()) st.bind(++idx, q.actor);
  if (!q.kind.empty()) st.bind(++idx, q.kind);
  if (!q.event.empty()) st.bind(++idx, q.event);
  if (q.before_id) st.bind(++idx, *q.before_id);
  st.bind(++idx, static_cast<std::int64_t>(q.limit));
  std::vector<AuditEntry> out;
  while (st.step()) {
    AuditEntry e;
    e.id = st.int64(0);
    e.ts = st.int64(1);
    e.kind = st.text(2);
    e.event = st.text(3);
    e.actor = st.text(4);
    if (!st.is_null(5)) e.user_id = st.int64(5);
    e.role = st.text(6);
    e.method = st.text(7);
    e.route = st.text(8);
    e.status = static_cast<int>(st.int64(9));
    e.duration_us = st.int64(10);
    e.ip = st.text(11);
    e.request_id = st.text(12);
    e.detail = st.text(13);
    out.push_back(std::move(e));
  }
  return out;
}

void AuditLog::pseudonymise(std::int64_t user_id, const std::string& username,
                            const std::string& pseudonym) {
  flush();
  std::lock_guard lock(db_mu_);
  store::Transaction tx(*db_, true);
  db_->prepare("UPDATE audit SET actor = ?1, ip = '', detail = '' WHERE user_id = ?2 OR actor = ?3")
      .bind(1, pseudonym)
      .bind(2, user_id)
      .bind(3, username)
      .run();
  tx.commit();
}

std::int64_t AuditLog::apply_retention(std::int64_t now_us) {
  try {
    std::lock_guard lock(db_mu_);
    store::Transaction tx(*db_, true);
    db_->prepare("DELETE FROM audit WHERE ts < ?")
        .bind(1, now_us - opt_.retention_days * 86400 * core::kUsPerSecond)
        .run();
    const auto removed = db_->changes();
    tx.commit();
    return removed;
  } catch (const std::exception& ex) {
    spdlog::warn("audit: retention failed: {}", ex.what());
    return 0;
  }
}

}  // namespace remhart::auth
