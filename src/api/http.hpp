#pragma once
// Transport-neutral HTTP types: what handlers see and return. No Beast here.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/principal.hpp"

namespace remhart::api {

using auth::Permission;

struct HttpRequest {
  std::string method;
  std::string path;  ///< decoded path, without the query
  std::vector<std::pair<std::string, std::string>> query;
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::map<std::string, std::string> params;   ///< path parameters from the route pattern
  std::string body;
  std::string request_id;
  std::string remote_ip;
  /// Who is calling; set by the security gate before the handler runs.
  auth::Principal principal;
  /// Set by the server: starts watching the connection while the request is answered; the flag
  /// it returns turns true if the client goes away meanwhile (long studies stop then).
  std::function<std::shared_ptr<const std::atomic<bool>>()> watch_disconnect;

  /// First value of a query parameter.
  std::optional<std::string> arg(std::string_view name) const;
  std::string header(const std::string& lower_name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// A response with a JSON body.
HttpResponse json_response(int status, std::string body);
/// 204 No Content.
HttpResponse no_content();

/// Sends the response. Call exactly once, from any thread.
using Reply = std::function<void(HttpResponse)>;
using Handler = std::function<void(HttpRequest&, Reply)>;

/// The client's address: the TCP peer, or — when the peer is one of `trusted_proxies` — the
/// rightmost address in X-Forwarded-For that is not itself a trusted proxy.
std::string client_address(const std::string& peer, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies);

/// Splits and percent-decodes a query string.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q);
std::string percent_decode(std::string_view s);

}  // namespace remhart::api
