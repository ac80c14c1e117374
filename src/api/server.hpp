#pragma once
// The HTTP/1.1 + WebSocket server. Beast lives only in server.cpp; this header is plain C++.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace remhart::obs {
class Registry;
}

namespace remhart::api {

class Router;
class LiveHub;
class SecurityGate;

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int threads = 2;
  std::size_t body_limit = 16 * 1024 * 1024;
  std::size_t header_limit = 16 * 1024;
  std::chrono::seconds header_timeout{30};  ///< whole request header, including keep-alive idle
  std::chrono::seconds body_timeout{60};
  std::size_t ws_queue_limit = 1024;  ///< messages per client; beyond it the oldest are dropped
  std::size_t ws_queue_bytes = 4 * 1024 * 1024;  ///< bytes per client, likewise
  /// A live-stream write (the client not reading) longer than this closes the connection.
  std::chrono::seconds ws_write_timeout{30};
  std::size_t ws_message_limit = 64 * 1024;  ///< largest client message
  std::chrono::milliseconds shutdown_grace{10000};
  std::string tls_cert;  ///< PEM certificate chain; TLS is on when set
  std::string tls_key;   ///< PEM private key
  /// Peers whose X-Forwarded-For is believed (the gateway's addresses).
  std::vector<std::string> trusted_proxies;
  /// Sent on every response (security headers); a handler's own header of the same name wins.
  std::vector<std::pair<std::string, std::string>> response_headers;
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, const Router& router, LiveHub& hub, SecurityGate& gate,
             obs::Registry* metrics = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts accepting; returns the bound port (useful with port 0).
  std::uint16_t listen();
  /// Runs the I/O threads until shutdown; SIGINT/SIGTERM start a graceful shutdown.
  void run();
  /// Stops accepting, waits (up to the grace period) for requests in flight to be answered,
  /// then stops. Safe from any thread.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace remhart::api
