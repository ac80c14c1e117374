#include "api/session_cookie.hpp"

#include <string_view>

namespace remhart::api {

std::optional<std::string> session_cookie(const HttpRequest& req) {
  const std::string header = req.header("cookie");
  std::string_view rest = header;
  while (!rest.empty()) {
    const std::size_t semi = rest.find(';');
    std::string_view pair = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != kSessionCookie) continue;
    const auto value = pair.substr(eq + 1);
    if (value.empty()) return std::nullopt;
    return std::string(value);
  }
  return std::nullopt;
}

namespace {
std::string attributes(const CookiePolicy& p, std::int64_t max_age) {
  return "; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
         (p.secure ? "; Secure" : "");
}
}  // namespace

std::string session_cookie_header(const std::string& refresh_token, const CookiePolicy& policy) {
  return std::string(kSessionCookie) + "=" + refresh_token + attributes(policy, policy.max_age_s);
}

std::string cleared_session_cookie_header(const CookiePolicy& policy) {
  return std::string(kSessionCookie) + "=" + attributes(policy, 0);
}

}  // namespace remhart::api
