#include "store/lease.hpp"

#include <spdlog/spdlog.h>

#include "obs/metrics.hpp"
#include "store/mariadb.hpp"

namespace remhart::store {

namespace {

const std::vector<std::vector<std::string>> kMigrations = {{
    "CREATE TABLE IF NOT EXISTS leases(name VARCHAR(64) NOT NULL PRIMARY KEY, holder "
    "VARCHAR(255) NOT NULL, expires_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT "
    "CHARSET=utf8mb4",
}};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MariadbLeases::MariadbLeases(const std::string& url) {
  maria::Pool::Options o;
  o.connection = maria::parse_url(url);
  o.connection.io_timeout = std::chrono::seconds(5);  // a renewal must not outlast the lease
  o.min = 1;
  o.max = 2;
  pool_ = std::make_unique<maria::Pool>(o);
  pool_->with([](maria::Connection& c) { maria::apply_migrations(c, "leases", kMigrations); });
}

MariadbLeases::~MariadbLeases() = default;

bool MariadbLeases::acquire(const std::string& name, const std::string& holder,
                            std::chrono::milliseconds ttl) {
  return pool_->with([&](maria::Connection& c) {
    // MariaDB assigns ON DUPLICATE KEY UPDATE columns left to right: `expires_at` sees the new
    // `holder`, so it moves only for the holder — the one there, or the one that just took an
    // expired lease. Both times are the database's.
    maria::Statement(c,
                     "INSERT INTO leases(name, holder, expires_at) VALUES (?, ?, NOW(6) + "
                     "INTERVAL ? MICROSECOND) ON DUPLICATE KEY UPDATE holder = IF(holder = "
                     "VALUES(holder) OR expires_at < NOW(6), VALUES(holder), holder), expires_at "
                     "= IF(holder = VALUES(holder), VALUES(expires_at), expires_at)")
        .execute({name, holder, static_cast<std::int64_t>(ttl.count()) * 1000});
    const auto rows = maria::Statement(c, "SELECT holder FROM leases WHERE name = ?").rows({name});
    return !rows.empty() && rows[0].text(0) == holder;
  });
}

void MariadbLeases::release(const std::string& name, const std::string& holder) {
  pool_->with([&](maria::Connection& c) {
    maria::Statement(c, "DELETE FROM leases WHERE name = ? AND holder = ?").execute({name, holder});
  });
}

std::string MariadbLeases::holder(const std::string& name) {
  return pool_->with([&](maria::Connection& c) {
    const auto rows =
        maria::Statement(c, "SELECT holder FROM leases WHERE name = ? AND expires_at >= NOW(6)")
            .rows({name});
    return rows.empty() ? std::string() : rows[0].text(0);
  });
}

Leadership::Leadership(Leases& leases, Options options, obs::Registry* metrics)
    : leases_(leases), opt_(std::move(options)), metrics_(metrics) {
  if (metrics_) {
    failures_ = &metrics_->counter("remhart_background_failures_total",
                                   "Background jobs that failed", "pool=\"leases\"");
  }
}

Leadership::~Leadership() {
  renewer_.reset();
  for (auto& j : jobs_) {
    if (!j->leading) continue;
    set_leading(*j, false);
    try {
      leases_.release(j->name, opt_.holder);
    } catch (const std::exception& e) {
      spdlog::warn("lease {}: not released ({}); it lapses by itself", j->name, e.what());
    }
  }
}

void Leadership::add(std::string job, std::function<void()> on_gain,
                     std::function<void()> on_loss) {
  auto j = std::make_unique<Job>();
  j->name = std::move(job);
  j->on_gain = std::move(on_gain);
  j->on_loss = std::move(on_loss);
  if (metrics_) {
    j->gauge = &metrics_->gauge("remhart_leader", "1 while this replica leads the job",
                                "job=\"" + j->name + "\"");
  }
  const std::lock_guard lock(jobs_mu_);
  jobs_.push_back(std::move(j));
}

void Leadership::start() {
  round();
  renewer_ = std::make_unique<core::Periodic>(
      "rh-leases", opt_.renew, [this] { round(); },
      [this](const std::string& what) {
        if (failures_) failures_->inc();
        spdlog::error("leases: a renewal round failed: {}", what);
      });
}

bool Leadership::leads(std::string_view job) const {
  const std::lock_guard lock(jobs_mu_);  // against add() before start()
  for (const auto& j : jobs_) {
    if (j->name == job) return steady_ns() < j->deadline_ns.load(std::memory_order_acquire);
  }
  return false;
}

void Leadership::round() {
  for (auto& j : jobs_) {
    const auto sent = steady_ns();
    try {
      const bool held = leases_.acquire(j->name, opt_.holder, opt_.ttl);
      j->deadline_ns.store(
          held ? sent + std::chrono::duration_cast<std::chrono::nanoseconds>(opt_.ttl).count() : 0,
          std::memory_order_release);
      set_leading(*j, held);
    } catch (const std::exception& e) {
      renewal_failed(*j, e.what());
    } catch (...) {
      renewal_failed(*j, "unknown error");
    }
  }
}

void Leadership::renewal_failed(Job& j, const char* what) {
  if (failures_) failures_->inc();
  spdlog::warn("lease {}: renewal failed: {}", j.name, what);
  // Held until the local deadline, which no later renewal moved.
  if (j.leading && steady_ns() >= j.deadline_ns.load()) set_leading(j, false);
}

void Leadership::set_leading(Job& j, bool leading) {
  if (j.gauge) j.gauge->set(leading ? 1 : 0);
  if (leading == j.leading) return;
  j.leading = leading;
  spdlog::info("{} the {} job", leading ? "leading" : "no longer leading", j.name);
  const auto& fn = leading ? j.on_gain : j.on_loss;
  try {
    if (fn) fn();
  } catch (const std::exception& e) {
    if (failures_) failures_->inc();
    spdlog::error("job {}: {} failed: {}", j.name, leading ? "taking over" : "handing over",
                  e.what());
  } catch (...) {
    if (failures_) failures_->inc();
    spdlog::error("job {}: {} failed", j.name, leading ? "taking over" : "handing over");
  }
}

}  // namespace remhart::store
