// The security gate without a socket: authentication, permissions, rate limits, CORS, the
// device-key write scope and the live stream's connection caps.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/security.hpp"
#include "auth/audit.hpp"
#include "auth/authenticator.hpp"
#include "auth/identity_store.hpp"
#include "store/sqlite_store.hpp"
#include "testkit.hpp"

using namespace remhart;
using api::HttpRequest;
using api::HttpResponse;
using api::Permission;

namespace {

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef-gate-test";

struct Gate : ::testing::Test {
  testkit::TempDir dir;
  std::unique_ptr<store::SqliteStore> devices;
  std::unique_ptr<auth::IdentityStore> identities;
  std::unique_ptr<auth::AuditLog> audit;
  std::unique_ptr<auth::Authenticator> accounts;
  std::unique_ptr<api::SecurityGate> gate;
  const auth::Actor who{"tester", std::nullopt, "127.0.0.1", "rid"};
  api::Route read_route{"GET", "/api/things", Permission::read, nullptr, {}, nullptr, nullptr, 0};
  api::Route write_route{"POST", "/api/things", Permission::write, nullptr,
                         {},     nullptr,       nullptr,           0};
  api::Route probe_route{"GET", "/health", Permission::probe, nullptr, {}, nullptr, nullptr, 0};

  void start(api::SecurityOptions o = {}) {
    devices = std::make_unique<store::SqliteStore>(store::SqliteOptions{dir.path() + "/data.db"});
    identities = std::make_unique<auth::SqliteIdentityStore>(dir.path() + "/id.db");
    audit = std::make_unique<auth::AuditLog>(dir.path() + "/id.db", auth::AuditOptions{});
    auth::AuthOptions ao;
    ao.password_cost = {1, 8192};
    accounts = std::make_unique<auth::Authenticator>(
        *identities, *audit, std::vector<auth::SigningKey>{{"k1", kSecret}}, ao);
    gate = std::make_unique<api::SecurityGate>(o, accounts.get(), *audit, *devices);
  }
  void SetUp() override { start(); }

  std::string token_of(const std::string& role) {
    auth::User u;
    u.username = role + "-user";
    u.role = role;
    accounts->create_user(u, "a-long-password-" + role, who);
    return accounts->login(u.username, "a-long-password-" + role, who).access_token;
  }

  // Whether the gate lets the request through; otherwise its answer.
  std::optional<HttpResponse> admit(const api::Route& route, const std::string& token,
                                    std::map<std::string, std::string> headers = {}) {
    HttpRequest req;
    req.method = route.method;
    req.path = route.pattern;
    req.remote_ip = "192.0.2.1";
    req.request_id = "rid-7";
    req.headers = std::move(headers);
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    std::optional<HttpResponse> answer;
    api::Reply reply = [&](HttpResponse r) { answer = std::move(r); };
    if (gate->admit(req, &route, reply)) return std::nullopt;
    return answer;
  }

  static std::string header(const HttpResponse& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
};

}  // namespace

TEST_F(Gate, AuthenticatesChecksPermissionsAndNamesTheRefusal) {
  auto anonymous = admit(read_route, "");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(header(*anonymous, "WWW-Authenticate"), "Bearer");
  EXPECT_EQ(nlohmann::json::parse(anonymous->body)["request_id"], "rid-7");
  EXPECT_FALSE(admit(probe_route, ""));  // probes need no token

  const auto viewer = token_of("viewer");
  EXPECT_FALSE(admit(read_route, viewer));
  auto denied = admit(write_route, viewer);
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_EQ(nlohmann::json::parse(denied->body)["error"], "forbidden");
  EXPECT_FALSE(admit(write_route, token_of("operator")));

  auto forged = admit(read_route, viewer.substr(0, viewer.size() - 2) + "xx");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
}

TEST_F(Gate, ABudgetPerCallerThen429WithRetryAfter) {
  api::SecurityOptions o;
  o.user_per_min = 3;
  start(o);
  const auto viewer = token_of("viewer");
  for (int k = 0; k < 3; ++k) EXPECT_FALSE(admit(read_route, viewer)) << k;
  auto limited = admit(read_route, viewer);
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_GE(std::stoi(header(*limited, "Retry-After")), 1);
  EXPECT_FALSE(admit(read_route, token_of("analyst")));  // another user has its own budget
}

TEST_F(Gate, CorsPreflightOnlyForListedOrigins) {
  api::SecurityOptions o;
  o.cors_origins = {"https://ops.example.org"};
  start(o);
  api::Route options{"OPTIONS", "/api/things", Permission::read, nullptr, {}, nullptr, nullptr, 0};
  auto ok =
      admit(options, "",
            {{"origin", "https://ops.example.org"}, {"access-control-request-method", "GET"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 204);
  auto refused = admit(
      options, "", {{"origin", "https://evil.example"}, {"access-control-request-method", "GET"}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
}

TEST_F(Gate, DeviceKeysWriteOnlyTheirDeviceOrSite) {
  core::Device north;
  north.id = "n1";
  north.site = "north";
  devices->create_device(north);
  core::Device south = north;
  south.id = "s1";
  south.site = "south";
  devices->create_device(south);
  auth::DeviceKey by_site;
  by_site.name = "gw";
  by_site.site = "north";
  const auto site_key = accounts->create_device_key(by_site, who);
  const auto caller = accounts->authenticate(site_key.secret).principal;
  ASSERT_TRUE(caller);
  auto sample = [](const std::string& device) {
    core::Sample s;
    s.device = device;
    return s;
  };
  EXPECT_NO_THROW(gate->check_write_scope(*caller, {sample("n1")}));
  try {
    gate->check_write_scope(*caller, {sample("n1"), sample("s1")});
    FAIL() << "a north key wrote a south device";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::forbidden);
    EXPECT_NE(std::string(e.what()).find("item 1"), std::string::npos);
  }
  EXPECT_THROW(gate->check_write_scope(*caller, {sample("unregistered")}), core::Error);
  auth::Principal person;
  person.kind = auth::Principal::Kind::user;
  EXPECT_NO_THROW(gate->check_write_scope(person, {sample("s1")}));  // users are not scoped
}

TEST_F(Gate, LiveStreamCapsPerAddressInTotalAndPerUser) {
  api::SecurityOptions o;
  o.ws_total = 8;
  o.ws_unauthenticated_per_ip = 2;
  o.ws_per_user = 1;
  start(o);
  EXPECT_FALSE(gate->acquire_stream("a", false));
  EXPECT_FALSE(gate->acquire_stream("a", false));
  const auto third = gate->acquire_stream("a", false);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->kind(), core::ErrorKind::rate_limited);
  // Token-less connections never take the quarter kept for token holders (8 → 6 open).
  for (const char* ip : {"b", "b", "c", "c"}) EXPECT_FALSE(gate->acquire_stream(ip, false)) << ip;
  const auto share = gate->acquire_stream("d", false);
  ASSERT_TRUE(share);
  EXPECT_EQ(share->kind(), core::ErrorKind::unavailable);
  EXPECT_FALSE(gate->acquire_stream("d", true));
  EXPECT_FALSE(gate->acquire_stream("d", true));
  const auto full = gate->acquire_stream("e", true);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->kind(), core::ErrorKind::unavailable);
  gate->release_stream("a", false);
  EXPECT_FALSE(gate->acquire_stream("e", true));

  EXPECT_FALSE(gate->acquire_user_stream(42));
  const auto second = gate->acquire_user_stream(42);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->kind(), core::ErrorKind::rate_limited);
  gate->release_user_stream(42);
  EXPECT_FALSE(gate->acquire_user_stream(42));
}
