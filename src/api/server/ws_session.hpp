#pragma once
// Private to api/server.cpp: a WebSocket session (RFC 6455 over the plain or the TLS stream) —
// admission at the upgrade (connection caps, token, refusals through the one error table), the
// auth message of token-less clients, the client's messages (budgeted), pings, one write in
// flight with every queued frame gathered, write deadlines, the closing handshake.
#include <sys/socket.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "api/errors.hpp"
#include "api/json_out.hpp"
#include "api/live_hub.hpp"
#include "api/security.hpp"
#include "api/server/request_id.hpp"
#include "api/server/shared.hpp"
#include "api/ws_frame.hpp"
#include "obs/metrics.hpp"

namespace remhart::api::server {

inline std::string remote_ip_of(const beast::tcp_stream& s) {
  beast::error_code ec;
  const auto ep = s.socket().remote_endpoint(ec);
  return ec ? std::string() : ep.address().to_string();
}

/// A complete HTTP error reply for a refused WebSocket upgrade, with the request id and the
/// headers every response carries.
inline std::shared_ptr<http::response<http::string_body>> upgrade_refusal(
    const Shared& sh, const std::string& request_id, HttpResponse r) {
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
    request_id_ = make_request_id(sh_, std::string_view(incoming_id.data(), incoming_id.size()));
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

}  // namespace remhart::api::server
