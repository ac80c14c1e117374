#include "auth/crypto.hpp"

#include <sodium.h>

#include <cstring>
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

std::string mosquitto_password_hash(std::string_view password, int iterations,
                                    std::optional<std::string> salt) {
  crypto_init();
  const std::string s = salt ? *salt : random_bytes(12);
  // PBKDF2 (RFC 8018 §5.2) with HMAC-SHA-512: one 64-byte block, T = U1 ⊕ … ⊕ Uc,
  // U1 = PRF(P, S ‖ INT(1)), Ui = PRF(P, Ui−1).
  const auto prf = [&](const unsigned char* in, std::size_t n, unsigned char* out) {
    crypto_auth_hmacsha512_state st;
    crypto_auth_hmacsha512_init(&st, reinterpret_cast<const unsigned char*>(password.data()),
                                password.size());
    crypto_auth_hmacsha512_update(&st, in, n);
    crypto_auth_hmacsha512_final(&st, out);
  };
  std::string first = s + std::string("\0\0\0\1", 4);
  unsigned char u[64], t[64];
  prf(reinterpret_cast<const unsigned char*>(first.data()), first.size(), u);
  std::memcpy(t, u, sizeof t);
  for (int k = 1; k < iterations; ++k) {
    prf(u, sizeof u, u);
    for (std::size_t j = 0; j < sizeof t; ++j) t[j] ^= u[j];
  }
  const auto b64 = [](const unsigned char* data, std::size_t n) {
    std::string out(sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), data, n, sodium_base64_VARIANT_ORIGINAL);
    out.resize(std::strlen(out.c_str()));
    return out;
  };
  sodium_memzero(u, sizeof u);
  const std::string hash = b64(t, sizeof t);
  sodium_memzero(t, sizeof t);
  return "$7$" + std::to_string(iterations) + "$" +
         b64(reinterpret_cast<const unsigned char*>(s.data()), s.size()) + "$" + hash;
}

}  // namespace remhart::auth
