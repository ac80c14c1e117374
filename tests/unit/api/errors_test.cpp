// The one mapping from errors to statuses and bodies, domain exceptions included.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/errors.hpp"
#include "grid/network.hpp"
#include "sim/scenario.hpp"
#include "store/sqlite.hpp"

using namespace remhart;
using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {
api::HttpResponse from(std::exception_ptr e) {
  return api::error_from_exception(e, "rid-3");
}

std::string header(const api::HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}
}  // namespace

TEST(Errors, EveryKindHasItsStatusAndCode) {
  const std::pair<ErrorKind, int> table[] = {
      {ErrorKind::bad_request, 400},        {ErrorKind::unauthorized, 401},
      {ErrorKind::forbidden, 403},          {ErrorKind::not_found, 404},
      {ErrorKind::method_not_allowed, 405}, {ErrorKind::conflict, 409},
      {ErrorKind::too_large, 413},          {ErrorKind::header_too_large, 431},
      {ErrorKind::unprocessable, 422},      {ErrorKind::rate_limited, 429},
      {ErrorKind::internal, 500},           {ErrorKind::unavailable, 503}};
  for (const auto& [kind, status] : table) {
    const auto r = api::error_response(Error(kind, "why", "field"), "rid-1");
    EXPECT_EQ(r.status, status);
    const auto body = json::parse(r.body);
    EXPECT_EQ(body["error"], api::error_shape(kind).code);
    EXPECT_EQ(body["message"], "why");
    EXPECT_EQ(body["field"], "field");
    EXPECT_EQ(body["request_id"], "rid-1");
  }
  EXPECT_EQ(
      header(api::error_response(Error(ErrorKind::unauthorized, "x"), ""), "WWW-Authenticate"),
      "Bearer");
  EXPECT_EQ(
      header(api::error_response(Error(ErrorKind::rate_limited, "x", "", 7), ""), "Retry-After"),
      "7");
  EXPECT_EQ(header(api::error_response(Error(ErrorKind::unavailable, "x"), ""), "Retry-After"),
            "1");
  EXPECT_FALSE(json::parse(api::error_response(Error(ErrorKind::not_found, "x"), "").body)
                   .contains("field"));
}

TEST(Errors, DomainExceptionsAreTranslatedHere) {
  auto r = from(std::make_exception_ptr(grid::NetworkError("no reference bus", "changes")));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(json::parse(r.body)["field"], "changes");
  r = from(std::make_exception_ptr(sim::ParamError("params.depth", "must be 0–1")));
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(json::parse(r.body)["field"], "params.depth");
  r = from(std::make_exception_ptr(store::SqliteError(13, "database or disk is full")));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(header(r, "Retry-After"), "30");
  r = from(std::make_exception_ptr(store::SqliteError(5, "database is locked")));
  EXPECT_EQ(r.status, 503);
  r = from(std::make_exception_ptr(json::parse_error::create(101, 1, "bad", nullptr)));
  EXPECT_EQ(r.status, 400);
}

TEST(Errors, AnythingElseIsA500WithoutItsDetails) {
  for (auto e : {std::make_exception_ptr(std::runtime_error("/var/lib/secret.db: I/O error")),
                 std::make_exception_ptr(store::SqliteError(10, "disk I/O error at /var/lib")),
                 std::make_exception_ptr(42)}) {
    const auto r = from(e);
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body.find("/var/lib"), std::string::npos) << r.body;
    EXPECT_EQ(json::parse(r.body)["request_id"], "rid-3");
  }
}

// A 500 names the request id and never the storage engine's text (it said "step: database is
// locked" to the client).
TEST(Errors, InternalErrorsHideTheirDetails) {
  const auto r = api::error_from_exception(
      std::make_exception_ptr(std::runtime_error("step: database is locked")), "rid-42");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("database"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("rid-42"), std::string::npos) << r.body;
}
