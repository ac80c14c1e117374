#pragma once
// The security gate in front of every route: CORS, authentication (access tokens and device
// keys), rate limits, the permission check (deny by default) and the audit record of every call.
// Also answers the live stream's questions: may this token connect, and how many may.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "api/router.hpp"
#include "auth/authenticator.hpp"

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
};

class SecurityGate : public Guard {
 public:
  /// `auth` may be null only when authentication is disabled.
  SecurityGate(SecurityOptions options, auth::Authenticator* auth, auth::AuditLog& audit,
               obs::Registry* metrics = nullptr);

  bool admit(HttpRequest& req, const Route* route, Reply& reply) const override;

  /// Authenticates a live-stream client (users only; device keys may not read).
  auth::AuthResult authenticate_stream(std::string_view token) const;
  /// Counts a live-stream connection of `user_id` (0 before authentication) against the caps;
  /// false, with `why`, when over.
  bool acquire_stream(std::int64_t user_id, std::string& why);
  void release_stream(std::int64_t user_id);

  /// Audits a security event seen outside a route (the live stream).
  void security_event(std::string event, const auth::Principal& p, const std::string& ip,
                      std::string detail) const;
  /// Audits a live-stream connection attempt like an API call (status 101 when accepted).
  void stream_call(const auth::Principal& p, const std::string& ip, int status) const;

  const SecurityOptions& options() const { return opt_; }

 private:
  bool origin_allowed(const std::string& origin) const;

  SecurityOptions opt_;
  auth::Authenticator* auth_;
  auth::AuditLog& audit_;
  mutable auth::RateLimiter limiter_;
  mutable std::atomic<std::int64_t> last_prune_{0};
  std::mutex ws_mu_;
  int ws_total_ = 0;
  std::unordered_map<std::int64_t, int> ws_by_user_;
  obs::Counter* denied_ = nullptr;
  obs::Counter* limited_ = nullptr;
};

}  // namespace remhart::api
