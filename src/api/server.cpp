// The HTTP/1.1 + WebSocket server: the acceptor (with back-off when descriptors run out), the I/O
// threads, graceful shutdown. Boost.Beast is compiled here only, in one translation unit; the
// sessions are private headers beside it (server/): request ids, the TLS context, the HTTP
// session and the WebSocket session with its admission. They follow Beast's advanced-server and
// chat-multi examples: a session per connection on its own strand, one write in flight.
#include "api/server.hpp"

#include <thread>

#include <spdlog/spdlog.h>

#include "api/server/http_session.hpp"
#include "api/server/shared.hpp"
#include "api/server/tls.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

using namespace server;

struct HttpServer::Impl {
  Impl(ServerOptions opt, const Router& router, LiveHub& hub, SecurityGate& gate,
       obs::Registry* metrics)
      : sh{std::move(opt), router, hub, gate, metrics},
        ioc(sh.opt.threads),
        acceptor(net::make_strand(ioc)),
        signals(ioc, SIGINT, SIGTERM) {
    if (!sh.opt.tls_cert.empty()) setup_tls();
    if (metrics) {
      handler_failures = &metrics->counter("remhart_io_handler_failures_total",
                                           "I/O handlers that threw (logged; the thread goes on)");
    }
  }

  void setup_tls() {
    tls.emplace(ssl::context::tls_server);
    configure_tls(*tls, sh.opt.tls_cert, sh.opt.tls_key);
  }

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
        // Out of file descriptors: the pending connection stays in the backlog, so accepting
        // again at once would spin. Wait a little (connections closing free descriptors), and
        // say so once a minute at most.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_accept_warning > std::chrono::minutes(1)) {
          spdlog::warn("accept failed: {} ({} more since the last warning)", ec.message(),
                       accept_failures);
          last_accept_warning = now;
          accept_failures = 0;
        } else {
          ++accept_failures;
        }
        accept_backoff.expires_after(std::chrono::milliseconds(100));
        accept_backoff.async_wait([this](beast::error_code e) {
          if (!e) accept();
        });
        return;
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        if (tls) {
          std::make_shared<HttpSession<TlsStream>>(std::move(socket), sh, *tls)->run();
        } else {
          std::make_shared<HttpSession<PlainStream>>(std::move(socket), sh)->run();
        }
      }
      accept();
    });
  }

  void begin_shutdown() {
    if (stopping.exchange(true)) return;
    net::post(acceptor.get_executor(), [this] {
      beast::error_code ec;
      accept_backoff.cancel();
      acceptor.close(ec);
    });
    deadline = std::chrono::steady_clock::now() + sh.opt.shutdown_grace;
    poll_drained();
  }

  void poll_drained() {
    if (sh.in_flight.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      ioc.stop();
      return;
    }
    auto timer = std::make_shared<net::steady_timer>(ioc, std::chrono::milliseconds(20));
    timer->async_wait([this, timer](beast::error_code) { poll_drained(); });
  }

  Shared sh;
  std::optional<ssl::context> tls;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer accept_backoff{acceptor.get_executor()};
  obs::Counter* handler_failures = nullptr;
  std::chrono::steady_clock::time_point last_accept_warning{};
  long accept_failures = 0;
  net::signal_set signals;
  std::atomic<bool> stopping{false};
  std::chrono::steady_clock::time_point deadline;
};

HttpServer::HttpServer(ServerOptions options, const Router& router, LiveHub& hub,
                       SecurityGate& gate, obs::Registry* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, hub, gate, metrics)) {}

HttpServer::~HttpServer() = default;

std::uint16_t HttpServer::listen() {
  auto& a = impl_->acceptor;
  const tcp::endpoint ep(net::ip::make_address(impl_->sh.opt.host), impl_->sh.opt.port);
  a.open(ep.protocol());
  a.set_option(net::socket_base::reuse_address(true));
  a.bind(ep);
  a.listen(net::socket_base::max_listen_connections);
  impl_->accept();
  impl_->signals.async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received: finishing requests in flight, then stopping", sig);
    impl_->begin_shutdown();
  });
  return a.local_endpoint().port();
}

void HttpServer::run() {
  std::vector<std::thread> extra;
  // A handler that throws must not end the process: the exception is logged and counted, and
  // the thread goes back to serving (the connection whose handler failed is dropped).
  auto serve = [this] {
    for (;;) {
      try {
        impl_->ioc.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("an I/O handler failed: {}", e.what());
      } catch (...) {
        spdlog::error("an I/O handler failed with an unknown exception");
      }
      if (impl_->handler_failures) impl_->handler_failures->inc();
    }
  };
  for (int k = 1; k < impl_->sh.opt.threads; ++k) {
    extra.emplace_back([serve] {
      pthread_setname_np(pthread_self(), "rh-io");
      serve();
    });
  }
  serve();
  for (auto& t : extra) t.join();
}

void HttpServer::shutdown() {
  impl_->begin_shutdown();
}

}  // namespace remhart::api
