#pragma once
// Request-ending errors: a small typed hierarchy mapped to HTTP status in one place (api/).
#include <stdexcept>
#include <string>

namespace remhart::core {

enum class ErrorKind {
  bad_request,
  not_found,
  conflict,
  too_large,
  unprocessable,
  unavailable,
  internal
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string field = {})
      : std::runtime_error(std::move(message)), kind_(kind), field_(std::move(field)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& field() const { return field_; }

 private:
  ErrorKind kind_;
  std::string field_;
};

}  // namespace remhart::core
