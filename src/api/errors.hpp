#pragma once
// The one place that turns errors into HTTP statuses and JSON bodies
// `{error, message, field?, request_id}`: the router, the security gate, WebSocket refusals,
// session-level failures and storage failures all answer through it (src/README.md, "Errors").
#include <exception>
#include <string>
#include <string_view>

#include "api/http.hpp"
#include "core/error.hpp"

namespace remhart::api {

/// The status and `error` code of a kind: the table.
struct ErrorShape {
  int status;
  std::string_view code;
};
ErrorShape error_shape(core::ErrorKind kind);

/// The reply for `e`: its kind's status and code, its message and field, and the headers the
/// kind calls for (WWW-Authenticate on 401; Retry-After on 429 and 503, at least 1 s).
HttpResponse error_response(const core::Error& e, std::string_view request_id);

/// Maps the exception in flight. core::Error → its kind; the domain's own exceptions are
/// translated here and nowhere else: grid::NetworkError and sim::ParamError → unprocessable
/// (naming their field), a full disk → unavailable (Retry-After 30), a busy database →
/// unavailable (Retry-After 1), a JSON type error → bad_request; anything else → internal, with
/// the details in the log only (the client gets the request id to quote).
HttpResponse error_from_exception(std::exception_ptr e, std::string_view request_id);

}  // namespace remhart::api
