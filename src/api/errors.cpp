#include "api/errors.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "grid/network.hpp"
#include "sim/scenario.hpp"
#include "store/sqlite.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;

ErrorShape error_shape(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::bad_request:
      return {400, "bad_request"};
    case ErrorKind::unauthorized:
      return {401, "unauthorized"};
    case ErrorKind::forbidden:
      return {403, "forbidden"};
    case ErrorKind::not_found:
      return {404, "not_found"};
    case ErrorKind::method_not_allowed:
      return {405, "method_not_allowed"};
    case ErrorKind::conflict:
      return {409, "conflict"};
    case ErrorKind::too_large:
      return {413, "too_large"};
    case ErrorKind::header_too_large:
      return {431, "bad_request"};
    case ErrorKind::unprocessable:
      return {422, "unprocessable"};
    case ErrorKind::rate_limited:
      return {429, "rate_limited"};
    case ErrorKind::internal:
      return {500, "internal"};
    case ErrorKind::unavailable:
      return {503, "unavailable"};
  }
  return {500, "internal"};
}

HttpResponse error_response(const Error& e, std::string_view request_id) {
  const auto shape = error_shape(e.kind());
  nlohmann::json j = {{"error", shape.code}, {"message", e.what()}, {"request_id", request_id}};
  if (!e.field().empty()) j["field"] = e.field();
  auto r =
      json_response(shape.status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (e.kind() == ErrorKind::unauthorized) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  if (e.kind() == ErrorKind::rate_limited || e.kind() == ErrorKind::unavailable) {
    r.headers.emplace_back("Retry-After", std::to_string(std::max(1, e.retry_after_s())));
  }
  return r;
}

namespace {
HttpResponse hidden_internal(std::string_view request_id, std::string_view detail) {
  spdlog::error("request {} failed: {}", request_id, detail);
  return error_response(
      Error(ErrorKind::internal, "internal error; the server log has the details"), request_id);
}
}  // namespace

HttpResponse error_from_exception(std::exception_ptr e, std::string_view request_id) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& err) {
    return error_response(err, request_id);
  } catch (const grid::NetworkError& err) {
    return error_response(Error(ErrorKind::unprocessable, err.what(), err.field()), request_id);
  } catch (const sim::ParamError& err) {
    return error_response(Error(ErrorKind::unprocessable, err.what(), err.field()), request_id);
  } catch (const store::SqliteError& err) {
    if (err.disk_full()) {
      spdlog::warn("request {}: the disk is full", request_id);
      return error_response(
          Error(ErrorKind::unavailable, "the server's disk is full; nothing was changed", "", 30),
          request_id);
    }
    if (err.busy()) {
      return error_response(
          Error(ErrorKind::unavailable, "the database is busy; retry shortly", "", 1), request_id);
    }
    return hidden_internal(request_id, err.what());
  } catch (const nlohmann::json::exception& err) {
    return error_response(Error(ErrorKind::bad_request, err.what()), request_id);
  } catch (const std::exception& err) {
    return hidden_internal(request_id, err.what());
  } catch (...) {
    return hidden_internal(request_id, "an unknown exception");
  }
}

}  // namespace remhart::api
