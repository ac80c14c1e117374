#pragma once
// Password hashing with Argon2id (libsodium crypto_pwhash). Hashes are self-describing strings
// ("$argon2id$v=19$m=…,t=…,p=1$…"), so cost settings can change without invalidating old hashes.
#include <cstddef>
#include <string>
#include <string_view>

namespace remhart::auth {

struct PasswordCost {
  unsigned long long ops = 2;      ///< iterations (libsodium's "interactive" level)
  std::size_t memory_kib = 65536;  ///< 64 MiB
};

/// Minimum and maximum password length accepted for new passwords.
inline constexpr std::size_t kMinPasswordLength = 10;
inline constexpr std::size_t kMaxPasswordLength = 1024;

std::string hash_password(std::string_view password, const PasswordCost& cost);
bool verify_password(const std::string& hash, std::string_view password);

/// Empty when acceptable, else why not (for a 422 on field "password").
std::string password_problem(std::string_view password);

/// A random password for the initial admin (24 URL-safe characters).
std::string generate_password();

}  // namespace remhart::auth
