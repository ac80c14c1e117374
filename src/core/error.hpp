#pragma once
// Request-ending errors: a small typed hierarchy mapped to HTTP status in one place (api/).
#include <stdexcept>
#include <string>

namespace remhart::core {

/// What went wrong, as the caller should hear it; api/errors.cpp holds the one table from kind
/// to HTTP status and `error` code.
enum class ErrorKind {
  bad_request,
  unauthorized,  ///< no or invalid credentials (401)
  forbidden,     ///< valid credentials, not allowed (403)
  not_found,
  method_not_allowed,
  conflict,
  too_large,         ///< the body (413)
  header_too_large,  ///< the request head (431)
  unprocessable,     ///< well-formed but invalid (422)
  rate_limited,      ///< over a budget (429, with retry_after_s)
  internal,
  unavailable,  ///< try again later (503, with retry_after_s)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string field = {}, int retry_after_s = 0)
      : std::runtime_error(std::move(message)),
        kind_(kind),
        field_(std::move(field)),
        retry_after_s_(retry_after_s) {}
  ErrorKind kind() const { return kind_; }
  const std::string& field() const { return field_; }
  /// Seconds a client should wait before retrying (rate_limited, unavailable); 0 = unset.
  int retry_after_s() const { return retry_after_s_; }

 private:
  ErrorKind kind_;
  std::string field_;
  int retry_after_s_;
};

}  // namespace remhart::core
