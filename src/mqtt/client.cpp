#include <utility>  // before asio under C++20 (see DESIGN.md)

#include "mqtt/client.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <deque>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "obs/metrics.hpp"

namespace remhart::mqtt {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
  Impl(ClientOptions o, Handler h, obs::Registry* metrics)
      : opt(std::move(o)),
        handler(std::move(h)),
        reader(opt.max_packet_bytes),
        resolver(io),
        retry(io),
        ping(io),
        backoff(opt.backoff_min) {
    if (opt.tls) {
      tls_ctx.emplace(ssl::context::tls_client);
      tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1);
      tls_ctx->set_verify_mode(ssl::verify_peer);
      // A file that cannot be used is named (asio's own message says only "asio.ssl error").
      const auto load = [](const std::string& what, const std::string& path, auto&& fn) {
        boost::system::error_code ec;
        fn(ec);
        if (ec) throw std::invalid_argument(what + ": cannot use " + path + " (PEM)");
      };
      if (opt.tls->ca_file.empty()) {
        tls_ctx->set_default_verify_paths();
      } else {
        load("mqtt.ca_file", opt.tls->ca_file,
             [&](auto& ec) { tls_ctx->load_verify_file(opt.tls->ca_file, ec); });
      }
      if (!opt.tls->cert_file.empty()) {
        load("mqtt.cert_file", opt.tls->cert_file,
             [&](auto& ec) { tls_ctx->use_certificate_chain_file(opt.tls->cert_file, ec); });
        load("mqtt.key_file", opt.tls->key_file, [&](auto& ec) {
          tls_ctx->use_private_key_file(opt.tls->key_file, ssl::context::pem, ec);
        });
      }
    }
    if (metrics) {
      messages = &metrics->counter("remhart_mqtt_messages_total",
                                   "MQTT messages received from the broker");
      reconnects = &metrics->counter("remhart_mqtt_connection_failures_total",
                                     "MQTT connections lost or refused (logged; reconnected)");
      failures = &metrics->counter("remhart_background_failures_total",
                                   "Background jobs that failed", "pool=\"mqtt\"");
      dropped = &metrics->counter(
          "remhart_mqtt_publishes_dropped_total",
          "Dead-letter copies not sent: the connection's unsent bytes were at their bound");
      metrics->gauge_fn("remhart_mqtt_connected", "1 while subscribed to the broker",
                        [this] { return up.load() ? 1.0 : 0.0; });
    }
  }

  ClientOptions opt;
  Handler handler;
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::thread thread;
  PacketReader reader;
  std::optional<ssl::context> tls_ctx;
  // One per connection; every pending operation's handler holds it, so a connection given up
  // (closed) lives until its aborted operations have finished with it.
  struct Connection {
    explicit Connection(net::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::optional<ssl::stream<tcp::socket&>> tls;  // over `socket`
  };
  std::shared_ptr<Connection> conn;
  tcp::resolver resolver;
  net::steady_timer retry, ping;
  std::array<char, 65536> chunk{};
  // Bytes waiting to be written, bounded for what this client adds on its own (dead-letter
  // copies, up to a message each); acknowledgements and pings always go (a few bytes, and as
  // many as the broker has messages outstanding).
  static constexpr std::size_t kMaxOutboxBytes = 8 << 20;
  std::deque<std::string> outbox;
  std::size_t outbox_bytes = 0;
  std::vector<std::weak_ptr<net::steady_timer>> delayed;  // Client::after's, cancelled at stop
  bool writing = false, stopping = false, awaiting_pong = false;
  std::uint64_t generation = 0;  // one per connection: acknowledgements of an older one are void
  std::atomic<bool> up{false};
  // Work is posted only while the thread runs: a handler queued after it stopped would hold the
  // client (and the io_context holding the handler) alive for ever.
  std::atomic<bool> running{false};
  std::chrono::milliseconds backoff;
  Clock::time_point last_warning{};
  std::uint64_t warnings_held = 0;
  obs::Counter *messages = nullptr, *reconnects = nullptr, *failures = nullptr, *dropped = nullptr;

  template <typename F>
  void post(F&& fn) {
    if (running) net::post(io, std::forward<F>(fn));
  }

  // Logs at most once every 10 s (a broker that is down would otherwise flood the log).
  void warn(const std::string& what) {
    const auto now = Clock::now();
    if (now - last_warning < std::chrono::seconds(10)) {
      ++warnings_held;
      return;
    }
    spdlog::warn("mqtt {}:{}: {}{}", opt.host, opt.port, what,
                 warnings_held ? " (" + std::to_string(warnings_held) + " more held back)" : "");
    last_warning = now;
    warnings_held = 0;
  }

  void connect() {
    if (stopping) return;
    resolver.async_resolve(
        opt.host, std::to_string(opt.port),
        [self = shared_from_this(), gen = generation](const boost::system::error_code& ec,
                                                      tcp::resolver::results_type results) {
          if (gen != self->generation) return;
          if (ec) return self->fail("resolving: " + ec.message());
          self->conn = std::make_shared<Connection>(self->io);
          net::async_connect(self->conn->socket, results,
                             [self, gen, c = self->conn](const boost::system::error_code& ec2,
                                                         const tcp::endpoint&) {
                               if (gen != self->generation) return;
                               if (ec2) return self->fail("connecting: " + ec2.message());
                               self->handshake();
                             });
        });
  }

  void handshake() {
    if (!tls_ctx) return on_connected();
    auto& tls = conn->tls.emplace(conn->socket, *tls_ctx);
    SSL_set_tlsext_host_name(tls.native_handle(), opt.host.c_str());  // SNI
    tls.set_verify_callback(ssl::host_name_verification(opt.host));
    tls.async_handshake(ssl::stream_base::client, [self = shared_from_this(), gen = generation,
                                                   c = conn](const boost::system::error_code& ec) {
      if (gen != self->generation) return;
      if (ec) return self->fail("TLS handshake: " + ec.message());
      self->on_connected();
    });
  }

  // Runs `fn` with the connection's stream (TLS over the socket, or the socket) and the
  // connection, for its handler to hold.
  template <typename F>
  void with_stream(F&& fn) {
    if (conn->tls) {
      fn(*conn->tls, conn);
    } else {
      fn(conn->socket, conn);
    }
  }

  void close() {
    if (!conn) return;
    boost::system::error_code ignored;
    conn->socket.shutdown(tcp::socket::shutdown_both, ignored);
    conn->socket.close(ignored);
    conn.reset();
  }

  void on_connected() {
    reader = PacketReader(opt.max_packet_bytes);
    outbox.clear();
    outbox_bytes = 0;
    writing = false;
    awaiting_pong = false;
    send(encode_connect(opt.connect));
    read();
  }

  // Every failure leaves through here: close, count, come back after the backoff.
  void fail(const std::string& why) {
    if (stopping) return;
    ++generation;
    up = false;
    if (reconnects) reconnects->inc();
    warn(why + "; reconnecting in " + std::to_string(backoff.count()) + " ms");
    close();
    resolver.cancel();
    ping.cancel();
    outbox.clear();
    outbox_bytes = 0;
    writing = false;
    retry.expires_after(backoff);
    backoff = std::min(backoff * 2, opt.backoff_max);
    retry.async_wait(
        [self = shared_from_this(), gen = generation](const boost::system::error_code& ec) {
          if (ec || gen != self->generation) return;
          self->connect();
        });
  }

  void read() {
    with_stream([&](auto& stream, const auto& c) {
      stream.async_read_some(net::buffer(chunk), [self = shared_from_this(), gen = generation, c](
                                                     const boost::system::error_code& ec,
                                                     std::size_t n) { self->on_read(gen, ec, n); });
    });
  }

  void on_read(std::uint64_t gen, const boost::system::error_code& ec, std::size_t n) {
    if (gen != generation) return;
    if (ec) return fail("reading: " + ec.message());
    try {
      reader.feed({chunk.data(), n});
      while (auto p = reader.next()) {
        handle(*p);
        if (gen != generation) return;  // the packet ended the connection
      }
    } catch (const MalformedPacket& e) {
      return fail(std::string("malformed packet from the broker: ") + e.what());
    }
    read();
  }

  void handle(const Packet& p) {
    switch (static_cast<PacketType>(p.type)) {
      case PacketType::connack: {
        const auto c = parse_connack(p);
        if (c.return_code != 0) {
          return fail("broker refused the connection: " +
                      std::string(connack_reason(c.return_code)));
        }
        send(encode_subscribe(1, opt.filter, 1));
        return;
      }
      case PacketType::suback: {
        const auto s = parse_suback(p);
        if (s.granted.empty() || s.granted.front() == 0x80) {
          return fail("broker refused the subscription to " + opt.filter);
        }
        up = true;
        backoff = opt.backoff_min;
        spdlog::info("mqtt {}:{}: subscribed to {} (QoS {})", opt.host, opt.port, opt.filter,
                     s.granted.front());
        schedule_ping();
        return;
      }
      case PacketType::publish:
        return deliver(parse_publish(p));
      case PacketType::pingresp:
        awaiting_pong = false;
        return;
      case PacketType::puback:  // this client publishes at QoS 0 only
        return;
      default:
        return fail("unexpected packet type " + std::to_string(p.type));
    }
  }

  void deliver(Publish m) {
    if (messages) messages->inc();
    Ack ack = [] {};
    if (m.qos == 1) {
      auto once = std::make_shared<std::atomic<bool>>(false);
      ack = [weak = weak_from_this(), gen = generation, id = m.packet_id, once] {
        if (once->exchange(true)) return;
        if (auto self = weak.lock()) {
          self->post([self, gen, id] {
            if (gen == self->generation && !self->stopping) self->send(encode_puback(id));
          });
        }
      };
    }
    try {
      handler({std::move(m.topic), std::move(m.payload), m.qos, m.dup}, std::move(ack));
    } catch (const std::exception& e) {  // unacknowledged: the broker sends it again
      if (failures) failures->inc();
      warn(std::string("message handler failed: ") + e.what());
    }
  }

  void schedule_ping() {
    const auto every = std::chrono::seconds(std::max<int>(1, opt.connect.keepalive_s / 2));
    ping.expires_after(every);
    ping.async_wait(
        [self = shared_from_this(), gen = generation](const boost::system::error_code& ec) {
          if (ec || gen != self->generation) return;
          if (self->awaiting_pong) return self->fail("no PINGRESP within half the keep-alive");
          self->awaiting_pong = true;
          self->send(encode_pingreq());
          self->schedule_ping();
        });
  }

  void send(std::string bytes) {
    outbox_bytes += bytes.size();
    outbox.push_back(std::move(bytes));
    if (!writing) write_next();
  }

  void write_next() {
    if (outbox.empty()) {
      writing = false;
      return;
    }
    writing = true;
    with_stream([&](auto& stream, const auto& c) {
      net::async_write(stream, net::buffer(outbox.front()),
                       [self = shared_from_this(), gen = generation, c](
                           const boost::system::error_code& ec, std::size_t) {
                         if (gen != self->generation) return;
                         if (ec) return self->fail("writing: " + ec.message());
                         self->outbox_bytes -= self->outbox.front().size();
                         self->outbox.pop_front();
                         self->write_next();
                       });
    });
  }

  void shutdown() {
    stopping = true;
    ++generation;
    if (up.exchange(false) && conn) {  // a polite goodbye; the session stays on the broker
      boost::system::error_code ignored;
      const auto bye = encode_disconnect();
      conn->socket.non_blocking(true, ignored);
      with_stream([&](auto& stream, const auto&) { stream.write_some(net::buffer(bye), ignored); });
    }
    close();
    resolver.cancel();
    retry.cancel();
    ping.cancel();
    for (const auto& t : delayed) {
      if (auto timer = t.lock()) timer->cancel();
    }
    work.reset();
  }
};

Client::Client(ClientOptions options, Handler handler, obs::Registry* metrics)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(handler), metrics)) {}

Client::~Client() {
  stop();
}

void Client::start() {
  if (impl_->thread.joinable()) return;
  impl_->work.emplace(net::make_work_guard(impl_->io));
  impl_->running = true;
  impl_->post([impl = impl_] { impl->connect(); });
  impl_->thread = std::thread([impl = impl_] {
    for (;;) {
      try {
        impl->io.run();
        return;
      } catch (const std::exception& e) {  // a bug: logged and counted, the loop goes on
        if (impl->failures) impl->failures->inc();
        spdlog::error("mqtt: {}", e.what());
      }
    }
  });
}

void Client::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->running = false;
  net::post(impl_->io, [impl = impl_] { impl->shutdown(); });
  impl_->thread.join();
  impl_->io.restart();  // what slipped in meanwhile runs (and sees `stopping`) and is freed
  impl_->io.poll();
}

void Client::publish(std::string topic, std::string payload) {
  impl_->post([impl = impl_, topic = std::move(topic), payload = std::move(payload)] {
    if (!impl->up || impl->stopping) return;
    auto packet = encode_publish(topic, payload, 0);
    if (impl->outbox_bytes + packet.size() > Impl::kMaxOutboxBytes) {
      if (impl->dropped) impl->dropped->inc();
      return impl->warn("a dead-letter copy dropped: the connection is " +
                        std::to_string(impl->outbox_bytes) + " bytes behind");
    }
    impl->send(std::move(packet));
  });
}

void Client::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  impl_->post([impl = impl_, delay, fn = std::move(fn)]() mutable {
    if (impl->stopping) return;
    auto timer = std::make_shared<net::steady_timer>(impl->io, delay);
    std::erase_if(impl->delayed, [](const auto& t) { return t.expired(); });
    impl->delayed.push_back(timer);
    timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (!ec) fn();
    });
  });
}

bool Client::connected() const {
  return impl_->up;
}

ClientOptions options_from_url(const std::string& url) {
  ClientOptions o;
  std::string rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    rest = url.substr(8);
    o.port = 8883;
    o.tls = TlsOptions{};
  } else {
    throw std::invalid_argument("must start with mqtt:// or mqtts://");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) throw std::invalid_argument("must not have a path");
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string::npos) throw std::invalid_argument("an IPv6 host needs its ]");
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') throw std::invalid_argument("expected :port after ]");
      port_text = rest.substr(close + 2);
    }
    o.host = rest.substr(1, close - 1);
  } else if (const auto colon = rest.find(':'); colon != std::string::npos) {
    port_text = rest.substr(colon + 1);
    o.host = rest.substr(0, colon);
  } else {
    o.host = rest;
  }
  if (o.host.empty()) throw std::invalid_argument("must name a host");
  if (!port_text.empty() || rest.ends_with(":")) {
    int port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      throw std::invalid_argument("port must be 1–65535");
    }
    o.port = static_cast<std::uint16_t>(port);
  }
  return o;
}

}  // namespace remhart::mqtt
