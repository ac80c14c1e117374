#pragma once
// Small cryptographic helpers on libsodium: randomness, SHA-256, HMAC-SHA-256, base64url and a
// constant-time comparison. Nothing here allocates secrets on the heap longer than needed.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace remhart::auth {

using Digest = std::array<std::uint8_t, 32>;

/// Initialises libsodium (idempotent, thread-safe); throws when it cannot.
void crypto_init();

std::string random_bytes(std::size_t n);
/// `prefix` + base64url of `bytes` random bytes (e.g. "rdk_…").
std::string random_token(std::string_view prefix, std::size_t bytes = 32);

Digest sha256(std::string_view data);
Digest hmac_sha256(std::string_view key, std::string_view data);
std::string hex(const Digest& d);

/// Equal lengths and contents, in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string base64url_encode(std::string_view data);

/// A Mosquitto (2.x) password-file hash of `password`: `$7$<iterations>$<base64 salt>$<base64
/// PBKDF2-HMAC-SHA512(password, salt, iterations, 64 bytes)>`, as `mosquitto_passwd` writes it.
/// `salt` is 12 random bytes when not given.
std::string mosquitto_password_hash(std::string_view password, int iterations = 101,
                                    std::optional<std::string> salt = std::nullopt);
/// Strict: unpadded base64url only; nullopt on any other character or a bad length.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace remhart::auth
