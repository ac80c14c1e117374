#pragma once
// Private to api/server.cpp: an HTTP/1.1 session — header and body timeouts, the route's body
// limit, the router, keep-alive, a disconnect watch while a long request is answered, a lingering
// close with one deadline after errors, and the WebSocket upgrade.
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <optional>
#include <string>

#include "api/errors.hpp"
#include "api/router.hpp"
#include "api/server/request_id.hpp"
#include "api/server/shared.hpp"
#include "api/server/ws_session.hpp"

namespace remhart::api::server {

inline bool is_websocket_upgrade(const http::request<http::string_body>& req) {
  const auto upgrade = req[http::field::upgrade];
  return req.method() == http::verb::get && beast::iequals(upgrade, "websocket");
}

template <class Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  /// `args` complete the stream's constructor (the TLS context for TlsStream).
  template <class... Args>
  HttpSession(tcp::socket&& socket, Shared& sh, Args&... args)
      : stream_(std::move(socket), args...), sh_(sh) {}

  ~HttpSession() {
    if (busy_) --sh_.in_flight;
  }

  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  void run() {
    remote_ip_ = remote_ip_of(lowest());
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
      if constexpr (kTls) {
        self->lowest().expires_after(self->sh_.opt.header_timeout);
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return;  // not TLS, or a failed handshake
          self->do_read();
        });
      } else {
        self->do_read();
      }
    });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // Ends the connection after the last reply: TLS close_notify first when encrypted.
  void shutdown_send() {
    beast::error_code ignored;
    if constexpr (kTls) {
      lowest().expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code ignored2;
        self->lowest().socket().shutdown(tcp::socket::shutdown_both, ignored2);
      });
    } else {
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  void do_read() {
    parser_.emplace();
    body_limit_ = sh_.opt.body_limit;
    parser_->body_limit(body_limit_);
    parser_->header_limit(static_cast<std::uint32_t>(sh_.opt.header_limit));
    lowest().expires_after(sh_.opt.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::on_header, this->shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec);
    if (is_websocket_upgrade(parser_->get())) {
      if (parser_->get().target() == "/ws/grid-data" ||
          parser_->get().target().starts_with("/ws/grid-data?")) {
        lowest().expires_never();
        const auto forwarded = parser_->get()["X-Forwarded-For"];
        auto client =
            client_address(remote_ip_, std::string_view(forwarded.data(), forwarded.size()),
                           sh_.opt.trusted_proxies);
        std::make_shared<WsSession<Stream>>(std::move(stream_), sh_, std::move(client))
            ->start(parser_->release());
        return;
      }
    }
    if (parser_->is_done()) return on_read({}, 0);
    // Each route's own body limit (small unless it takes data), known once the target is.
    const auto& msg = parser_->get();
    std::string_view target(msg.target().data(), msg.target().size());
    target = target.substr(0, target.find('?'));
    body_limit_ = sh_.router.body_limit(
        std::string_view(msg.method_string().data(), msg.method_string().size()), target,
        sh_.opt.body_limit);
    if (const auto length = parser_->content_length(); length && *length > body_limit_) {
      return fail(http::error::body_limit);
    }
    parser_->body_limit(body_limit_);
    lowest().expires_after(sh_.opt.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec);
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string().data(), msg.method_string().size());
    const std::string_view target(msg.target().data(), msg.target().size());
    const std::size_t qpos = target.find('?');
    req.path = percent_decode(target.substr(0, qpos));
    if (qpos != std::string_view::npos) req.query = parse_query(target.substr(qpos + 1));
    for (const auto& f : msg) {
      std::string name(f.name_string().data(), f.name_string().size());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers.emplace(std::move(name), std::string(f.value().data(), f.value().size()));
    }
    req.body = std::move(msg.body());
    req.request_id = make_request_id(sh_, req.header("x-request-id"));
    req.remote_ip =
        client_address(remote_ip_, req.header("x-forwarded-for"), sh_.opt.trusted_proxies);
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    request_id_ = req.request_id;
    head_ = req.method == "HEAD";
    busy_ = true;
    ++sh_.in_flight;
    lowest().expires_never();  // the handler may take a while (durable commit); no read pending
    req.watch_disconnect = [self = this->shared_from_this()] { return self->watch_disconnect(); };
    sh_.router.dispatch(req, [self = this->shared_from_this()](HttpResponse r) {
      net::post(self->stream_.get_executor(),
                [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
    });
  }

  // While a long request is answered no read is pending, so a client that leaves would go
  // unnoticed: wait for the socket to become readable, and if what is there is the end of the
  // stream, raise the flag. (Readable data instead is a pipelined request: left for later.)
  std::shared_ptr<const std::atomic<bool>> watch_disconnect() {
    auto flag = std::make_shared<std::atomic<bool>>(false);
    watching_ = true;
    lowest().socket().async_wait(
        tcp::socket::wait_read, [self = this->shared_from_this(), flag](beast::error_code ec) {
          if (ec || !self->watching_) return;
          char c;
          const auto n =
              ::recv(self->lowest().socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) flag->store(true);
        });
    return flag;
  }

  void write(HttpResponse r) {
    if (watching_) {
      watching_ = false;
      beast::error_code ignored;
      lowest().socket().cancel(ignored);
    }
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "remhart");
    res->set("X-Request-Id", request_id_);
    if (!r.content_type.empty()) res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : sh_.opt.response_headers) res->set(k, v);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_ && !close_after_);
    if (head_) {
      res->content_length(r.body.size());  // what GET would send; no body follows
    } else {
      res->body() = std::move(r.body);
      res->prepare_payload();
    }
    lowest().expires_after(sh_.opt.body_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        self->on_write(ec, res->need_eof());
                      });
  }

  void on_write(beast::error_code ec, bool close) {
    if (busy_) {
      busy_ = false;
      --sh_.in_flight;
    }
    if (ec) return;
    if (close) {
      shutdown_send();
      if (close_after_ && !kTls) drain();
      return;
    }
    do_read();
  }

  // Lingering close after an error reply: read and discard what the client is still sending
  // (bounded in bytes and time), so closing does not reset the connection before the client
  // has read the reply.
  void drain() {
    if (drained_ > kMaxDrain) return;
    // One deadline for the whole drain: a client trickling bytes does not extend it.
    if (drain_until_ == std::chrono::steady_clock::time_point{}) {
      drain_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    }
    lowest().expires_at(drain_until_);
    lowest().async_read_some(net::buffer(scratch_), [self = this->shared_from_this()](
                                                        beast::error_code ec, std::size_t n) {
      self->drained_ += n;
      if (!ec) self->drain();
    });
  }

  // A request that cannot be read: answer what can be answered, then close.
  void fail(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == ssl::error::stream_truncated) {
      shutdown_send();
      return;
    }
    request_id_ = make_request_id(sh_, {});
    keep_alive_ = false;
    close_after_ = true;
    version_ = 11;
    using core::ErrorKind;
    const core::Error e =
        ec == http::error::body_limit
            ? core::Error(ErrorKind::too_large,
                          "body exceeds " + std::to_string(body_limit_) + " bytes")
        : ec == http::error::header_limit
            ? core::Error(ErrorKind::header_too_large, "request header too large")
            : core::Error(ErrorKind::bad_request, "malformed HTTP request: " + ec.message());
    write(error_response(e, request_id_));
  }

  Stream stream_;
  Shared& sh_;
  std::string remote_ip_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string request_id_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool close_after_ = false;
  std::chrono::steady_clock::time_point drain_until_{};
  std::size_t body_limit_ = 0;  // of the request being read
  bool watching_ = false;       // a disconnect watch is pending
  bool head_ = false;
  bool busy_ = false;
  static constexpr std::size_t kMaxDrain = 64 * 1024 * 1024;
  std::size_t drained_ = 0;
  std::array<char, 16384> scratch_{};
};

}  // namespace remhart::api::server
