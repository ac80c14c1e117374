// Boost.Beast glue: sessions per connection (a strand each), the router for HTTP, the live hub
// for WebSocket. Follows Beast's advanced-server and chat-multi examples' patterns.
#include <utility>  // before asio under C++20 (see DESIGN.md)

#include "api/server.hpp"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>

#include "api/errors.hpp"
#include "api/json_out.hpp"
#include "api/live_hub.hpp"
#include "api/router.hpp"
#include "api/security.hpp"
#include "api/ws_frame.hpp"
#include "obs/metrics.hpp"

namespace remhart::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

struct Shared {
  ServerOptions opt;
  const Router& router;
  LiveHub& hub;
  SecurityGate& gate;
  obs::Registry* metrics;
  std::atomic<int> in_flight{0};
  std::atomic<std::uint64_t> request_seq{0};
  std::uint64_t request_salt = std::random_device{}() * 0x9E3779B97F4A7C15ULL;
};

std::string make_request_id(Shared& sh, std::string_view incoming) {
  if (!incoming.empty() && incoming.size() <= 64 &&
      incoming.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
          std::string_view::npos) {
    return std::string(incoming);
  }
  const std::uint64_t n = sh.request_seq.fetch_add(1) + sh.request_salt;
  std::uint64_t x = n * 0xD6E8FEB86659FD93ULL;
  x ^= x >> 32;
  char buf[17];
  static constexpr char kHex[] = "0123456789abcdef";
  for (int k = 15; k >= 0; --k) {
    buf[k] = kHex[x & 15];
    x >>= 4;
  }
  return std::string(buf, 16);
}

// ---- WebSocket ------------------------------------------------------------------------------

std::string remote_ip_of(const beast::tcp_stream& s) {
  beast::error_code ec;
  const auto ep = s.socket().remote_endpoint(ec);
  return ec ? std::string() : ep.address().to_string();
}

/// A complete HTTP error reply for a refused WebSocket upgrade, with the request id and the
/// headers every response carries.
std::shared_ptr<http::response<http::string_body>> upgrade_refusal(const Shared& sh,
                                                                   const std::string& request_id,
                                                                   HttpResponse r) {
  auto res =
      std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), 11);
  res->set(http::field::server, "remhart");
  res->set("X-Request-Id", request_id);
  res->set(http::field::content_type, r.content_type);
  for (const auto& [k, v] : sh.opt.response_headers) res->set(k, v);
  for (auto& [k, v] : r.headers) res->set(k, v);
  res->set(http::field::connection, "close");
  res->body() = std::move(r.body);
  res->prepare_payload();
  return res;
}

template <class Stream>
class WsSession : public LiveClient, public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, Shared& sh, std::string remote_ip)
      : stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        ping_timer_(stream_.get_executor()),
        write_timer_(stream_.get_executor()),
        sh_(sh),
        remote_ip_(std::move(remote_ip)),
        parser_(sh.opt.ws_message_limit),
        outbox_(sh.opt.ws_queue_limit, sh.opt.ws_queue_bytes) {}

  ~WsSession() override {
    if (id_) sh_.hub.remove(id_);
    release_slots();
  }

  /// Answers the upgrade request: 101, or an error (400 bad handshake, 401 bad token, 429/503
  /// over the connection caps) and close.
  void start(http::request<http::string_body> req) {
    const auto incoming_id = req["X-Request-Id"];
    request_id_ =
        make_request_id(sh_, std::string_view(incoming_id.data(), incoming_id.size()));
    const auto key = req[http::field::sec_websocket_key];
    if (key.empty() || req[http::field::sec_websocket_version] != "13") {
      return refuse(core::Error(core::ErrorKind::bad_request, "not a WebSocket handshake"));
    }
    const std::string_view target(req.target().data(), req.target().size());
    if (const auto q = target.find('?'); q != std::string_view::npos) {
      for (auto& [k, v] : parse_query(target.substr(q + 1))) {
        if (k == "token") token_ = v;
      }
    }
    // A connection without a token waits for its auth message in a slot of the unauthenticated
    // share, capped per address.
    const bool with_token = !token_.empty() || !sh_.gate.options().auth_enabled;
    if (auto refused = sh_.gate.acquire_stream(remote_ip_, with_token)) return refuse(*refused);
    slot_ = with_token ? Slot::authenticated : Slot::pending;
    if (with_token) {
      if (auto refused = authenticate(token_)) return refuse(*refused);
    }
    auto res = std::make_shared<http::response<http::empty_body>>();
    res->version(11);
    res->result(http::status::switching_protocols);
    res->set(http::field::upgrade, "websocket");
    res->set(http::field::connection, "Upgrade");
    res->set(http::field::sec_websocket_accept,
             ws::accept_key(std::string_view(key.data(), key.size())));
    res->set(http::field::server, "remhart");
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        self->on_open();
                      });
  }

  void deliver(std::vector<LiveMessage> messages) override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this(), messages = std::move(messages)] {
                if (self->closed_) return;
                const auto now = Outbox::Clock::now();
                for (const auto& m : messages)
                  self->count_drops(self->outbox_.push(m.device, m.text, now));
                self->arm_timer();
                self->do_write();
              });
  }

 private:
  static constexpr auto kPingEvery = std::chrono::seconds(30);
  static constexpr auto kAuthWithin = std::chrono::seconds(10);
  static constexpr std::size_t kMaxFramesPerWrite = 64;
  static constexpr auto kCloseTimeout = std::chrono::seconds(2);
  static constexpr int kMaxPingsWhileBlocked = 1000;
  static constexpr double kMessagesPerS = 20, kMessageBurst = 60;

  void refuse(const core::Error& e) {
    release_slots();  // a refused client holds no connection slot while its answer is written
    auto r = error_response(e, request_id_);
    sh_.gate.stream_call(principal_, remote_ip_, r.status);
    auto res = upgrade_refusal(sh_, request_id_, std::move(r));
    http::async_write(
        stream_, *res,
        [self = this->shared_from_this(), res](beast::error_code, std::size_t) { self->close(); });
  }

  /// Checks a token and takes the user's connection slot; the refusal when it may not.
  std::optional<core::Error> authenticate(const std::string& token) {
    auto r = sh_.gate.authenticate_stream(token);
    if (!r.principal) {
      sh_.gate.security_event("auth_failed", {}, remote_ip_, "live stream: " + r.error);
      return core::Error(core::ErrorKind::unauthorized, r.error, "token");
    }
    if (authed_ && r.principal->user_id != principal_.user_id) {
      return core::Error(core::ErrorKind::forbidden, "a connection cannot change user", "token");
    }
    if (!authed_ && r.principal->user_id != 0) {  // 0: authentication is switched off
      if (auto refused = sh_.gate.acquire_user_stream(r.principal->user_id)) return refused;
      user_slot_ = r.principal->user_id;
    }
    if (slot_ == Slot::pending) {
      sh_.gate.stream_authenticated(remote_ip_);
      slot_ = Slot::authenticated;
    }
    principal_ = std::move(*r.principal);
    token_ = token;
    authed_ = true;
    return std::nullopt;
  }

  void release_slots() {
    if (user_slot_) sh_.gate.release_user_stream(user_slot_);
    if (slot_ != Slot::none) sh_.gate.release_stream(remote_ip_, slot_ == Slot::authenticated);
    user_slot_ = 0;
    slot_ = Slot::none;
  }

  void on_open() {
    do_read();
    if (authed_) {
      on_authenticated();
    } else {
      // Unauthenticated clients get a short grace period to send {"type":"auth"}.
      ping_timer_.expires_after(kAuthWithin);
      ping_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
        if (ec || self->closed_ || self->authed_) return;
        self->close_with(1008, "authentication required");
      });
    }
  }

  void on_authenticated() {
    sh_.gate.stream_call(principal_, remote_ip_, 101);
    id_ = sh_.hub.add(this->weak_from_this());
    send_text(sh_.hub.snapshot(sub_));
    schedule_ping();
  }

  // A ping every 30 s; a client silent for two periods (no data, no pong) is closed, and so is
  // one whose token expired or was revoked meanwhile.
  void schedule_ping() {
    ping_timer_.expires_after(kPingEvery);
    ping_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      if (++self->silent_periods_ > 2) return self->close();
      if (!self->sh_.gate.authenticate_stream(self->token_).principal) {
        return self->close_with(1008, "token expired or revoked");
      }
      self->ping_due_ = true;
      self->do_write();
      self->schedule_ping();
    });
  }

  void do_read() {
    stream_.async_read_some(net::buffer(read_buf_),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->on_read(ec, n);
                            });
  }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec) return close();
    silent_periods_ = 0;
    std::vector<ws::Message> messages;
    if (auto err = parser_.feed(std::string_view(read_buf_.data(), n), messages)) {
      return close_with(parser_.close_code(), *err);
    }
    for (auto& m : messages) {
      if (closing_) break;
      switch (m.op) {
        case ws::Opcode::text:
        case ws::Opcode::binary:
          if (!messages_.take(Budget::Clock::now())) {
            return close_with(1008, "too many messages");
          }
          if (m.op == ws::Opcode::text) {
            on_text(m.payload);
          } else {
            send_error("binary messages are not supported");
          }
          break;
        case ws::Opcode::ping:
          // RFC 6455 §5.5.3: only the latest ping needs its pong, so one is ever pending. A
          // client that keeps pinging while not reading what we send is cut off.
          if (++pings_while_blocked_ > kMaxPingsWhileBlocked) return close();
          pong_ = std::move(m.payload);
          break;
        case ws::Opcode::close:
          close_frame_ = ws::frame(ws::Opcode::close, m.payload.substr(0, 2));
          closing_ = true;
          break;
        default:
          break;
      }
    }
    do_write();
    if (!closing_) do_read();
  }

  /// Sends a close frame with `code` and `why`, then closes.
  void close_with(int code, const std::string& why) {
    std::string payload;
    payload.push_back(static_cast<char>(code >> 8));
    payload.push_back(static_cast<char>(code & 0xff));
    payload += why.substr(0, 120);
    close_frame_ = ws::frame(ws::Opcode::close, payload);
    closing_ = true;
    arm_write_deadline();  // a client that does not read gets no longer to take the close
    do_write();
  }

  void on_text(const std::string& text) {
    const Subscription previous = sub_;
    const auto cmd = apply_client_message(text, sub_);
    using Kind = ClientCommand::Kind;
    if (cmd.kind == Kind::auth) {
      const bool first = !authed_;
      if (auto err = authenticate(cmd.token)) {
        send_error(err->what());
        return close_with(1008, "authentication failed");
      }
      if (first) on_authenticated();
      return;
    }
    if (!authed_) {
      send_error("authenticate first: {\"type\":\"auth\",\"token\":\"…\"}");
      return close_with(1008, "authentication required");
    }
    switch (cmd.kind) {
      case Kind::subscribe:
        // Each subscribe answers with a snapshot of every device it covers: bounded per
        // connection, so re-sending it cannot take the I/O threads from other clients.
        if (!snapshots_.take(Budget::Clock::now())) {
          sub_ = previous;
          return send_error("too many subscribe messages: at most one a second");
        }
        outbox_.set_rate(sub_.max_rate_hz);
        sh_.hub.update(id_, sub_);
        send_text(sh_.hub.snapshot(sub_));
        break;
      case Kind::unsubscribe:
        sh_.hub.update(id_, sub_);
        break;
      case Kind::ping:
        send_text(R"({"type":"pong"})");
        break;
      case Kind::auth:
        break;
      case Kind::error:
        send_error(cmd.error);
        break;
    }
  }

  void send_error(const std::string& message) {
    std::string m = R"({"type":"error","data":{"message":)";
    append_json_string(m, message);
    m += "}}";
    send_text(std::move(m));
  }

  void send_text(std::string text) {
    count_drops(outbox_.push_reply(std::make_shared<const std::string>(std::move(text))));
    do_write();
  }

  void count_drops(std::size_t n) {
    if (n && sh_.hub.dropped_counter()) sh_.hub.dropped_counter()->inc(n);
  }

  void arm_timer() {
    if (timer_armed_) return;
    const auto due = outbox_.next_due();
    if (!due) return;
    timer_armed_ = true;
    timer_.expires_at(*due);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      self->timer_armed_ = false;
      if (ec || self->closed_) return;
      self->count_drops(self->outbox_.release_due(Outbox::Clock::now()));
      self->arm_timer();
      self->do_write();
    });
  }

  // A write that the client does not take within the timeout (or, once closing, within a few
  // seconds) ends the connection: a socket that stopped reading never holds its slot.
  void arm_write_deadline() {
    write_timer_.expires_after(closing_ ? kCloseTimeout : sh_.opt.ws_write_timeout);
    write_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      if (self->writing_ || self->closing_) self->close();
    });
  }

  // One write in flight; each write carries the pending control frames (a pong, a ping, a
  // close — at most one of each) and up to kMaxFramesPerWrite queued messages (one gathered
  // send, frames back to back).
  void do_write() {
    if (writing_ || closed_) return;
    headers_.clear();
    payloads_.clear();
    buffers_.clear();
    if (pong_) {
      payloads_.push_back(std::make_shared<const std::string>(ws::frame(ws::Opcode::pong, *pong_)));
      pong_.reset();
    }
    if (ping_due_) {
      payloads_.push_back(std::make_shared<const std::string>(ws::frame(ws::Opcode::ping, {})));
      ping_due_ = false;
    }
    if (close_frame_) {
      payloads_.push_back(std::make_shared<const std::string>(std::move(*close_frame_)));
      close_frame_.reset();
      close_sent_ = true;
    }
    const std::size_t controls = payloads_.size();
    if (!closing_) {
      while (payloads_.size() < controls + kMaxFramesPerWrite) {
        auto m = outbox_.pop();
        if (!m) break;
        payloads_.push_back(std::move(m));
      }
    }
    if (payloads_.empty()) return;
    headers_.resize(payloads_.size() - controls);
    for (std::size_t k = 0; k < payloads_.size(); ++k) {
      if (k >= controls) {
        auto& h = headers_[k - controls];
        ws::append_frame_header(h, ws::Opcode::text, payloads_[k]->size());
        buffers_.emplace_back(h.data(), h.size());
      }
      buffers_.emplace_back(payloads_[k]->data(), payloads_[k]->size());
    }
    writing_ = true;
    arm_write_deadline();
    net::async_write(stream_, buffers_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->writing_ = false;
                       self->pings_while_blocked_ = 0;
                       if (ec) return self->close();
                       if (self->closing_ && self->close_sent_) return self->close();
                       if (!self->closing_) self->write_timer_.cancel();
                       self->do_write();
                     });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    ping_timer_.cancel();
    write_timer_.cancel();
    if (id_) sh_.hub.remove(id_);
    id_ = 0;
    release_slots();
    beast::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  Stream stream_;
  net::steady_timer timer_;
  net::steady_timer ping_timer_;
  net::steady_timer write_timer_;
  Shared& sh_;
  std::string remote_ip_;
  std::string token_;
  std::string request_id_;  // of the upgrade request
  auth::Principal principal_;
  std::int64_t user_slot_ = 0;
  enum class Slot { none, pending, authenticated } slot_ = Slot::none;
  bool authed_ = false;
  ws::FrameParser parser_;
  Outbox outbox_;
  Subscription sub_;
  std::array<char, 8192> read_buf_{};
  std::optional<std::string> pong_;  ///< payload of the latest unanswered ping
  std::optional<std::string> close_frame_;
  bool ping_due_ = false;
  bool close_sent_ = false;
  int pings_while_blocked_ = 0;  ///< pings since the last completed write
  Budget messages_{kMessagesPerS, kMessageBurst};
  Budget snapshots_{1.0, 3.0};
  std::vector<std::shared_ptr<const std::string>> payloads_;
  std::vector<std::string> headers_;
  std::vector<net::const_buffer> buffers_;
  std::uint64_t id_ = 0;
  int silent_periods_ = 0;
  bool writing_ = false;
  bool timer_armed_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

// ---- HTTP -----------------------------------------------------------------------------------

bool is_websocket_upgrade(const http::request<http::string_body>& req) {
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

}  // namespace

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

  // TLS 1.2 at least (1.3 is negotiated when the client offers it), no compression or
  // renegotiation, the server's cipher order.
  void setup_tls() {
    tls.emplace(ssl::context::tls_server);
    SSL_CTX* native = tls->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(
        native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5:!SHA1");
    try {
      tls->use_certificate_chain_file(sh.opt.tls_cert);
    } catch (const std::exception& e) {
      throw std::runtime_error("TLS certificate " + sh.opt.tls_cert + ": " + e.what());
    }
    try {
      tls->use_private_key_file(sh.opt.tls_key, ssl::context::pem);
    } catch (const std::exception& e) {
      throw std::runtime_error("TLS key " + sh.opt.tls_key + ": " + e.what());
    }
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
