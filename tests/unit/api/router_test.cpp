#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "api/router.hpp"
#include "core/error.hpp"
#include "obs/metrics.hpp"

using namespace remhart;
using api::HttpRequest;
using api::HttpResponse;

namespace {
HttpResponse call(const api::Router& r, std::string method, std::string path) {
  HttpRequest req;
  req.method = std::move(method);
  req.path = std::move(path);
  req.request_id = "rid-1";
  HttpResponse out;
  r.dispatch(req, [&](HttpResponse res) { out = std::move(res); });
  return out;
}
}  // namespace

TEST(Router, MatchesPathParametersAndMapsErrors) {
  obs::Registry metrics;
  api::Router r(&metrics);
  r.add("GET", "/api/things/{id}", api::Permission::read, [](HttpRequest& req, api::Reply reply) {
    if (req.params["id"] == "missing") throw core::Error(core::ErrorKind::not_found, "nope", "id");
    if (req.params["id"] == "boom") throw std::runtime_error("kaput");
    reply(api::json_response(200, nlohmann::json{{"id", req.params["id"]}}.dump()));
  });
  r.add("DELETE", "/api/things/{id}", api::Permission::write,
        [](HttpRequest&, api::Reply reply) { reply(api::json_response(204, "")); });

  auto res = call(r, "GET", "/api/things/42");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(nlohmann::json::parse(res.body)["id"], "42");

  res = call(r, "GET", "/api/things/missing");
  EXPECT_EQ(res.status, 404);
  auto body = nlohmann::json::parse(res.body);
  EXPECT_EQ(body["error"], "not_found");
  EXPECT_EQ(body["field"], "id");
  EXPECT_EQ(body["request_id"], "rid-1");

  EXPECT_EQ(call(r, "GET", "/api/things/boom").status, 500);
  EXPECT_EQ(call(r, "GET", "/api/things").status, 404);
  EXPECT_EQ(call(r, "GET", "/api/things/").status, 404);
  EXPECT_EQ(call(r, "PUT", "/api/things/1").status, 405);
  EXPECT_EQ(call(r, "DELETE", "/api/things/1").status, 204);
  EXPECT_NE(metrics.render().find("route=\"/api/things/{id}\",method=\"GET\",status=\"404\""),
            std::string::npos);
}

TEST(Router, ErrorKindsMapToStatuses) {
  using K = core::ErrorKind;
  const std::pair<K, int> cases[] = {
      {K::bad_request, 400},   {K::not_found, 404},   {K::conflict, 409}, {K::too_large, 413},
      {K::unprocessable, 422}, {K::unavailable, 503}, {K::internal, 500}};
  for (auto [kind, status] : cases) {
    const auto r = api::error_from_exception(std::make_exception_ptr(core::Error(kind, "m")), "x");
    EXPECT_EQ(r.status, status);
  }
  const auto r =
      api::error_from_exception(std::make_exception_ptr(core::Error(K::unavailable, "busy")), "x");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
}

TEST(Query, ParsesAndDecodes) {
  const auto q = api::parse_query("a=1&b=x%20y&c&d=%zz&e=1+2&");
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[1].second, "x y");
  EXPECT_EQ(q[2].first, "c");
  EXPECT_EQ(q[3].second, "%zz");
  EXPECT_EQ(q[4].second, "1 2");
  EXPECT_EQ(api::percent_decode("%2"), "%2");
}

TEST(ClientAddress, ForwardedForCountsOnlyFromTrustedProxies) {
  const std::vector<std::string> trusted = {"10.0.0.1", "10.0.0.2"};
  EXPECT_EQ(api::client_address("203.0.113.9", "1.2.3.4", trusted), "203.0.113.9");  // untrusted
  EXPECT_EQ(api::client_address("10.0.0.1", "", trusted), "10.0.0.1");
  EXPECT_EQ(api::client_address("10.0.0.1", "1.2.3.4", trusted), "1.2.3.4");
  // A client-supplied first hop cannot hide the address the gateway saw.
  EXPECT_EQ(api::client_address("10.0.0.1", "6.6.6.6, 1.2.3.4", trusted), "1.2.3.4");
  EXPECT_EQ(api::client_address("10.0.0.1", "1.2.3.4, 10.0.0.2", trusted), "1.2.3.4");
  EXPECT_EQ(api::client_address("10.0.0.1", " , ", trusted), "10.0.0.1");
}
