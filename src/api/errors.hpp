#pragma once
// The one place that turns errors into HTTP statuses and JSON bodies
// `{error, message, field?, request_id}`.
#include <exception>
#include <string>

#include "api/http.hpp"

namespace remhart::api {

HttpResponse error_response(int status, std::string_view code, std::string_view message,
                            std::string_view field, std::string_view request_id);

/// Maps the exception in flight (core::Error → its status; anything else → 500).
HttpResponse error_from_exception(std::exception_ptr e, std::string_view request_id);

/// A JSON body response with the given status.
HttpResponse json_response(int status, std::string body);

}  // namespace remhart::api
