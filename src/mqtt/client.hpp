#pragma once
// An MQTT 3.1.1 subscriber on Asio that acknowledges a QoS 1 message only when its owner says so
// — after the message's samples are durable — which libmosquitto cannot (it sends PUBACK before
// its callback runs). It keeps a persistent session (fixed client id, clean session off), so a
// message not acknowledged before a disconnect or a restart is delivered again; reconnects with
// exponential backoff; pings at half the keep-alive; bounds every packet it reads. One thread of
// its own; the handler runs on it and must not block (hand the work on, acknowledge later).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "mqtt/packet.hpp"

namespace remhart::obs {
class Registry;
}

namespace remhart::mqtt {

/// TLS to the broker (mqtts://): the broker's certificate is verified against `ca_file` (or the
/// system's trusted CAs when empty) and its host name; a client certificate when `cert_file`
/// and `key_file` are given.
struct TlsOptions {
  std::string ca_file, cert_file, key_file;
};

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::optional<TlsOptions> tls;  ///< set by mqtts:// URLs
  ConnectOptions connect;
  std::string filter;  ///< the one subscription, at QoS 1
  std::size_t max_packet_bytes = 1 << 20;
  std::chrono::milliseconds backoff_min{500}, backoff_max{30'000};
};

struct Message {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool dup = false;  ///< the broker has sent it before (unacknowledged then)
};

/// Acknowledges one message (PUBACK for QoS 1, nothing for QoS 0). Callable from any thread, at
/// most once; after a reconnect it does nothing (the broker sends the message again).
using Ack = std::function<void()>;
using Handler = std::function<void(Message, Ack)>;

class Client {
 public:
  /// Throws std::invalid_argument naming a TLS file that cannot be used.
  Client(ClientOptions options, Handler handler, obs::Registry* metrics = nullptr);
  ~Client();  ///< stops
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// Connects (and keeps reconnecting) on the client's thread.
  void start();
  /// Sends DISCONNECT when connected and joins the thread.
  void stop();
  /// Publishes at QoS 0 when connected (dropped otherwise): the dead-letter copies.
  void publish(std::string topic, std::string payload);
  /// Runs `fn` on the client's thread after `delay` (a retry of an unacknowledged message).
  void after(std::chrono::milliseconds delay, std::function<void()> fn);
  bool connected() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// Parses `mqtt://host[:port]` (port 1883) or `mqtts://host[:port]` (TLS, port 8883); throws
/// std::invalid_argument naming what is wrong.
ClientOptions options_from_url(const std::string& url);

}  // namespace remhart::mqtt
