#pragma once
// The OpenAPI 3.1 document of the API, generated from the route table (so a route cannot exist
// without its entry) and a table of descriptions: summary, parameters, request and response
// schemas, the error shape, and each route's permission (`x-permission`).
#include <string>
#include <vector>

#include "api/router.hpp"

namespace remhart::api {

/// The document for every route of `router`.
std::string openapi_document(const Router& router, const std::string& version);

/// Routes of `router` that have no description ("GET /api/…"): empty when the document is
/// complete (a test fails otherwise).
std::vector<std::string> undocumented_routes(const Router& router);

/// GET /api/openapi.json (public); built on its first request, once every route is registered.
void add_openapi_route(Router& router, std::string version);

}  // namespace remhart::api
