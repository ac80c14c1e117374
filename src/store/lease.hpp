#pragma once
// One leader per periodic job among the replicas sharing a database. A lease is a row naming its
// holder and an expiry on the database's clock (no replica's clock matters); the holder renews
// it well before it expires, another replica takes it only once it has expired. The holder
// counts its own lease as held only until a local deadline measured from *before* its last
// successful renewal was sent — earlier than the database's expiry — so two replicas never
// both think they lead: a replica cut off from the database stops leading before anyone else can
// start.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/periodic.hpp"

namespace remhart::obs {
class Registry;
class Counter;
class Gauge;
}  // namespace remhart::obs

namespace remhart::store {

namespace maria {
class Pool;
}

/// Named leases.
class Leases {
 public:
  virtual ~Leases() = default;
  /// Takes or renews `name` for `holder` until `ttl` from now when it is free, expired or
  /// `holder`'s already; returns whether `holder` holds it. Throws when the database fails.
  virtual bool acquire(const std::string& name, const std::string& holder,
                       std::chrono::milliseconds ttl) = 0;
  /// Gives `name` up if `holder` has it (a clean shutdown: the next leader need not wait).
  virtual void release(const std::string& name, const std::string& holder) = 0;
  /// Who holds `name` now; empty when nobody does.
  virtual std::string holder(const std::string& name) = 0;
};

/// One process alone (the embedded SQLite installation): every lease is granted.
class LocalLeases final : public Leases {
 public:
  bool acquire(const std::string&, const std::string&, std::chrono::milliseconds) override {
    return true;
  }
  void release(const std::string&, const std::string&) override {}
  std::string holder(const std::string&) override { return {}; }
};

/// Leases in the shared MariaDB/MySQL database (table `leases`, migrated on construction).
class MariadbLeases final : public Leases {
 public:
  /// Connects and migrates; throws std::runtime_error naming what failed.
  explicit MariadbLeases(const std::string& url);
  ~MariadbLeases() override;
  bool acquire(const std::string& name, const std::string& holder,
               std::chrono::milliseconds ttl) override;
  void release(const std::string& name, const std::string& holder) override;
  std::string holder(const std::string& name) override;

 private:
  std::unique_ptr<maria::Pool> pool_;
};

/// Keeps this replica's leases of the registered jobs: a thread renews them every `renew`
/// (taking the free ones), runs a job's `on_gain` when this replica becomes its leader and
/// `on_loss` when it stops being one — both on that thread. A failed renewal is logged and
/// counted; the lease then lapses at its local deadline. Metric: `remhart_leader{job}` (1 while
/// leading).
class Leadership {
 public:
  struct Options {
    std::string holder;                     ///< this replica's name (unique among the replicas)
    std::chrono::milliseconds ttl{15000};   ///< how long a lease lasts without renewal
    std::chrono::milliseconds renew{5000};  ///< how often it is renewed (well below ttl)
  };
  Leadership(Leases& leases, Options options, obs::Registry* metrics = nullptr);
  /// Stops renewing, runs `on_loss` of the jobs led and releases their leases.
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  /// Registers a job (before start(); leads() may be called meanwhile from other threads).
  void add(std::string job, std::function<void()> on_gain = {}, std::function<void()> on_loss = {});
  /// Takes the first leases at once (so a single replica leads from its first moment), then
  /// renews them in the background.
  void start();
  /// Whether this replica leads `job` now (false for a job never registered, and before start()).
  bool leads(std::string_view job) const;

 private:
  struct Job {
    std::string name;
    std::function<void()> on_gain, on_loss;
    std::atomic<std::int64_t> deadline_ns{0};  ///< steady clock; leads while now < deadline
    bool leading = false;                      ///< as the callbacks were told (thread only)
    obs::Gauge* gauge = nullptr;
  };
  void round();
  void set_leading(Job& j, bool leading);
  void renewal_failed(Job& j, const char* what);

  Leases& leases_;
  Options opt_;
  obs::Registry* metrics_;
  obs::Counter* failures_ = nullptr;
  std::vector<std::unique_ptr<Job>> jobs_;  // grows under jobs_mu_, only before start()
  mutable std::mutex jobs_mu_;
  std::unique_ptr<core::Periodic> renewer_;  // from start() on
};

}  // namespace remhart::store
