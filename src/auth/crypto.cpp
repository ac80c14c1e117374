#include "auth/crypto.hpp"

#include <sodium.h>

#include <stdexcept>

namespace remhart::auth {

void crypto_init() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string random_bytes(std::size_t n) {
  crypto_init();
  std::string out(n, '\0');
  randombytes_buf(out.data(), n);
  return out;
}

std::string random_token(std::string_view prefix, std::size_t bytes) {
  return std::string(prefix) + base64url_encode(random_bytes(bytes));
}

Digest sha256(std::string_view data) {
  Digest d;
  crypto_hash_sha256(d.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return d;
}

Digest hmac_sha256(std::string_view key, std::string_view data) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  Digest d;
  crypto_auth_hmacsha256_final(&st, d.data());
  sodium_memzero(&st, sizeof st);
  return d;
}

std::string hex(const Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (auto b : d) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64url_encode(std::string_view data) {
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()),
                    data.size(), variant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out(text.size() * 3 / 4 + 3, '\0');
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

}  // namespace remhart::auth
