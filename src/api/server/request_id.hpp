#pragma once
// Private to api/server.cpp: request ids — the client's X-Request-Id when it is short and plain,
// else 16 hex digits from a per-process salted counter (unique within the process, not guessable
// across restarts).
#include <string>
#include <string_view>

#include "api/server/shared.hpp"

namespace remhart::api::server {

inline std::string make_request_id(Shared& sh, std::string_view incoming) {
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

}  // namespace remhart::api::server
