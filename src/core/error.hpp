#pragma once
// Request-ending errors: a small typed hierarchy mapped to HTTP status in one place (api/).
#include <stdexcept>
#include <string>

namespace remhart::core {

enum class ErrorKind {
  bad_request,
  unauthorized,  ///< no or invalid credentials (401)
  forbidden,     ///< valid credentials, not allowed (403)
  rate_limited,  ///< over a budget (429, with retry_after_s)
  not_found,
  conflict,
  too_large,
  unprocessable,
  unavailable,
  internal
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
