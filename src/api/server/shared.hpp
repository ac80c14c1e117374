#pragma once
// Private to api/server.cpp (the one translation unit that compiles Beast): what every
// connection shares — options, the router, the live hub, the gate, requests in flight — and the
// stream types.
#include <utility>  // before asio under C++20 (see DESIGN.md)

#include <atomic>
#include <cstdint>
#include <random>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>

#include "api/server.hpp"

namespace remhart::obs {
class Registry;
}

namespace remhart::api {

class Router;
class LiveHub;
class SecurityGate;

namespace server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

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

}  // namespace server
}  // namespace remhart::api
