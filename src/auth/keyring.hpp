#pragma once
// The JWT signing keys kept in the data directory (`jwt-keys.json`, mode 0600) when no secret is
// configured. The first key signs; older ones still verify until rotated out.
#include <string>
#include <vector>

#include "auth/jwt.hpp"

namespace remhart::auth {

/// How many keys a ring keeps: the signing key and the ones before it (tokens they signed live
/// at most the access-token lifetime).
inline constexpr std::size_t kKeysKept = 3;

/// Reads the ring, creating it with one new key when the file does not exist. Throws with the
/// path in the message when the file is unreadable, malformed or readable by others.
std::vector<SigningKey> load_or_create_keyring(const std::string& path);
/// Puts a new signing key first and drops the oldest beyond kKeysKept; returns the new ring.
std::vector<SigningKey> rotate_keyring(const std::string& path);
/// A key from a configured secret (kid derived from the secret's hash).
SigningKey key_from_secret(const std::string& secret);

}  // namespace remhart::auth
