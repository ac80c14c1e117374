#include "auth/password.hpp"

#include <sodium.h>

#include <stdexcept>

#include "auth/crypto.hpp"

namespace remhart::auth {

std::string hash_password(std::string_view password, const PasswordCost& cost) {
  crypto_init();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost.ops, cost.memory_kib * 1024,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return out;
}

bool verify_password(const std::string& hash, std::string_view password) {
  crypto_init();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string password_problem(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return "must be at least " + std::to_string(kMinPasswordLength) + " characters";
  }
  if (password.size() > kMaxPasswordLength) {
    return "must be at most " + std::to_string(kMaxPasswordLength) + " characters";
  }
  if (password.find('\0') != std::string_view::npos) return "must not contain NUL characters";
  return {};
}

std::string generate_password() {
  return base64url_encode(random_bytes(18));
}

}  // namespace remhart::auth
