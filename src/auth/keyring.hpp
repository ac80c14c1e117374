#pragma once
// The JWT signing keys generated for an installation when no secret is configured: in the data
// directory (`jwt-keys.json`, mode 0600), or in the shared database when several replicas serve
// one system. The first key signs; older ones still verify until rotated out.
#include <string>
#include <vector>

#include "auth/jwt.hpp"

namespace remhart::auth {

/// How many keys a ring keeps: the signing key and the ones before it (tokens they signed live
/// at most the access-token lifetime).
inline constexpr std::size_t kKeysKept = 3;

/// Where a ring is kept.
class Keyring {
 public:
  virtual ~Keyring() = default;
  /// The ring, made with one new key when there is none yet (by whoever asks first).
  virtual std::vector<SigningKey> load_or_create() = 0;
  /// Puts a new signing key first and drops the oldest beyond kKeysKept; returns the new ring.
  virtual std::vector<SigningKey> rotate() = 0;
};

/// A ring in a file of its own. Throws with the path in the message when the file is
/// unreadable, malformed or readable by others.
class FileKeyring final : public Keyring {
 public:
  explicit FileKeyring(std::string path) : path_(std::move(path)) {}
  std::vector<SigningKey> load_or_create() override;
  std::vector<SigningKey> rotate() override;

 private:
  std::string path_;
};

/// A ring of one new key.
std::vector<SigningKey> new_keyring();
/// `ring` with a new key first, the oldest beyond kKeysKept dropped.
std::vector<SigningKey> rotated(std::vector<SigningKey> ring);
/// The stored form, `{"keys": [{"kid", "secret" (base64url)}, …]}`.
std::string keyring_json(const std::vector<SigningKey>& keys);
/// Parses the stored form; throws std::runtime_error naming `where` and the fault.
std::vector<SigningKey> parse_keyring(const std::string& text, const std::string& where);
/// A key from a configured secret (kid derived from the secret's hash).
SigningKey key_from_secret(const std::string& secret);

}  // namespace remhart::auth
