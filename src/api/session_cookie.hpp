#pragma once
// The browser session: the dashboard keeps its access token in memory and its refresh token in
// an HttpOnly cookie scoped to /api/auth (SameSite=Strict, Secure when served over TLS), so a page
// reload signs nobody out and no script can read a long-lived secret. Refreshing from the cookie
// needs the header `X-Remhart-Session: 1` as well: a cross-site form cannot send it, and a
// cross-site script cannot either without passing the CORS allow-list.
#include <cstdint>
#include <optional>
#include <string>

#include "api/http.hpp"

namespace remhart::api {

inline constexpr const char* kSessionCookie = "remhart_refresh";
inline constexpr const char* kSessionHeader = "x-remhart-session";

struct CookiePolicy {
  bool secure = false;         ///< add `Secure` (TLS)
  std::int64_t max_age_s = 0;  ///< the refresh token's lifetime
};

/// The refresh token in the request's Cookie header, if any.
std::optional<std::string> session_cookie(const HttpRequest& req);
/// Set-Cookie values: the refresh token, and the cookie's removal.
std::string session_cookie_header(const std::string& refresh_token, const CookiePolicy& policy);
std::string cleared_session_cookie_header(const CookiePolicy& policy);

}  // namespace remhart::api
