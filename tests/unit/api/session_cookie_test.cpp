// The session cookie: found among others, malformed headers find nothing, attributes as promised.
#include <gtest/gtest.h>

#include "api/session_cookie.hpp"

using namespace remhart;

namespace {
std::optional<std::string> cookie_of(const std::string& header) {
  api::HttpRequest req;
  req.headers["cookie"] = header;
  return api::session_cookie(req);
}
}  // namespace

TEST(SessionCookie, FoundAmongOthersAndMalformedHeadersFindNothing) {
  EXPECT_EQ(cookie_of("remhart_refresh=rrt_abc"), "rrt_abc");
  EXPECT_EQ(cookie_of("theme=dark; remhart_refresh=rrt_abc; lang=en"), "rrt_abc");
  EXPECT_EQ(cookie_of("theme=dark;remhart_refresh=rrt_x"), "rrt_x");
  for (const char* bad : {"", ";;;", "remhart_refresh", "remhart_refresh=", "remhart_refreshX=1",
                          "xremhart_refresh=1", "=rrt", "theme=dark"}) {
    EXPECT_FALSE(cookie_of(bad)) << bad;
  }
  EXPECT_FALSE(cookie_of(std::string(100000, ';')));
  api::HttpRequest none;
  EXPECT_FALSE(api::session_cookie(none));
}

TEST(SessionCookie, AttributesScopeItToTheAuthPathsAndScriptsCannotReadIt) {
  const api::CookiePolicy tls{true, 60};
  const auto set = api::session_cookie_header("rrt_abc", tls);
  EXPECT_EQ(
      set,
      "remhart_refresh=rrt_abc; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
  EXPECT_EQ(api::cleared_session_cookie_header({false, 60}),
            "remhart_refresh=; Path=/api/auth; HttpOnly; SameSite=Strict; Max-Age=0");
}
