#pragma once
// The security gate in front of every route: CORS, authentication (access tokens and device
// keys), rate limits, the permission check (deny by default) and the audit record of every call.
// Also answers the live stream's questions: may this token connect, and how many may.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/router.hpp"
#include "auth/audit.hpp"
#include "auth/authenticator.hpp"
#include "auth/shared_budget.hpp"
#include "core/error.hpp"
#include "core/measurement.hpp"

namespace remhart::store {
class Store;
}
namespace remhart::obs {
class Registry;
class Counter;
}  // namespace remhart::obs

namespace remhart::api {

struct SecurityOptions {
  /// Off only for measurements on a loopback address: every caller is then an admin.
  bool auth_enabled = true;
  int anonymous_per_min = 100;
  int user_per_min = 1000;
  int admin_per_min = 5000;
  int device_key_per_min = 6000;          ///< default for keys without their own budget
  std::vector<std::string> cors_origins;  ///< exact origins allowed to call from a browser
  int ws_per_user = 20;
  int ws_total = 10000;
  /// Connections still waiting for their auth message, per client address.
  int ws_unauthenticated_per_ip = 8;
  /// The share of `ws_total` that only connections with a valid token may take.
  static constexpr double kWsAuthenticatedShare = 0.25;
};

class SecurityGate : public Guard {
 public:
  /// `auth` may be null only when authentication is disabled. `devices` knows each device's
  /// site (for keys bound to a site).
  SecurityGate(SecurityOptions options, auth::Authenticator* auth, auth::AuditLog& audit,
               const store::Store& devices, obs::Registry* metrics = nullptr);

  bool admit(HttpRequest& req, const Route* route, Reply& reply) const override;
  /// Several replicas: what the local buckets let through is also counted across replicas, so a
  /// caller's budget holds however its requests are spread. Set before serving.
  void share_budgets(auth::SharedBudget* shared) { shared_ = shared; }

  /// A device key bound to a device or a site may write only there: throws
  /// core::Error(forbidden) naming the first sample outside its scope (the whole batch is
  /// refused). Other callers pass.
  void check_write_scope(const auth::Principal& caller,
                         const std::vector<core::Sample>& samples) const;

  /// Authenticates a live-stream client (users only; device keys may not read).
  auth::AuthResult authenticate_stream(std::string_view token) const;
  /// Counts a live-stream connection from `ip` against the total cap. One not yet
  /// `authenticated` (no token at the upgrade) may take only the slots outside the share kept
  /// for authenticated connections, and at most `ws_unauthenticated_per_ip` per address.
  /// Returns the refusal when over a cap (unavailable over the total, rate_limited over the
  /// address's cap).
  std::optional<core::Error> acquire_stream(const std::string& ip, bool authenticated);
  /// A connection counted as unauthenticated has authenticated.
  void stream_authenticated(const std::string& ip);
  void release_stream(const std::string& ip, bool authenticated);
  /// Counts a connection of `user_id` against the per-user cap; the refusal when over it.
  std::optional<core::Error> acquire_user_stream(std::int64_t user_id);
  void release_user_stream(std::int64_t user_id);

  /// Audits a security event seen outside a route (the live stream).
  void security_event(std::string event, const auth::Principal& p, const std::string& ip,
                      std::string detail) const;
  /// Audits a live-stream connection attempt like an API call (status 101 when accepted).
  void stream_call(const auth::Principal& p, const std::string& ip, int status) const;

  const SecurityOptions& options() const { return opt_; }

 private:
  using Headers = std::vector<std::pair<std::string, std::string>>;
  bool origin_allowed(const std::string& origin) const;
  /// Sets the request's principal; the reason when a token was given but not accepted.
  std::string identify(HttpRequest& req, const std::string& token) const;
  Headers cors_headers(bool allowed, const std::string& origin) const;
  /// Takes one request from the caller's budget (adding the RateLimit headers); the refusal when
  /// it is spent.
  std::optional<core::Error> take_budget(const HttpRequest& req, Headers& extra) const;
  std::optional<auth::AuditEntry> audit_record(const HttpRequest& req, const Route* route,
                                               bool probe) const;
  Reply answered_with(Reply reply, Headers extra, std::optional<auth::AuditEntry> record,
                      std::chrono::steady_clock::time_point start) const;
  HttpResponse preflight(bool allowed, const std::string& request_id) const;
  std::optional<core::Error> permission_refusal(const HttpRequest& req, const Route& route,
                                                const std::string& token,
                                                const std::string& auth_error) const;

  SecurityOptions opt_;
  auth::Authenticator* auth_;
  auth::AuditLog& audit_;
  const store::Store& devices_;
  mutable auth::RateLimiter limiter_;
  auth::SharedBudget* shared_ = nullptr;
  mutable std::atomic<std::int64_t> last_prune_{0};
  mutable std::mutex ws_mu_;
  int ws_total_ = 0, ws_unauthenticated_ = 0;
  std::unordered_map<std::int64_t, int> ws_by_user_;
  std::unordered_map<std::string, int> ws_unauthenticated_by_ip_;
  obs::Counter* denied_ = nullptr;
  obs::Counter* limited_ = nullptr;
  obs::Counter* audit_skipped_ = nullptr;
  static constexpr int kAnonymousAuditPerMin = 600;
  static constexpr int kStreamRetryS = 5;  ///< Retry-After of a refused live-stream connection
};

}  // namespace remhart::api
