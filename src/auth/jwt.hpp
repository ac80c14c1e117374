#pragma once
// JSON Web Tokens, HS256 only (RFC 7519 / 7515). Signing uses the current key; verification
// accepts any key still in the ring (rotation), chosen by the header's `kid`. Every other
// algorithm, `none` included, is rejected; signatures are compared in constant time.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remhart::auth {

struct Claims {
  std::string sub;  ///< the user id
  std::string role;
  std::string iss;
  std::string jti;
  std::int64_t iat = 0;  ///< seconds since the epoch
  std::int64_t exp = 0;
  std::optional<std::int64_t> nbf;
  /// The user's token version at issue ("ver"). Access tokens always carry it; the
  /// authenticator refuses one without it.
  std::optional<std::int64_t> ver;
};

struct SigningKey {
  std::string kid;
  std::string secret;  ///< at least 32 bytes
};

struct VerifyResult {
  std::optional<Claims> claims;
  std::string error;  ///< why it was rejected, for logs and the 401 message
};

class JwtCodec {
 public:
  /// `keys.front()` signs; all verify. Throws std::invalid_argument on an empty ring or a short
  /// secret.
  /// Clock skew tolerated on exp, nbf and iat, in seconds.
  static constexpr std::int64_t kLeewayS = 5;

  JwtCodec(std::vector<SigningKey> keys, std::string issuer);

  std::string sign(const Claims& c) const;
  /// Checks structure, algorithm, key id, signature, issuer, times and required claims.
  VerifyResult verify(std::string_view token, std::int64_t now_s) const;

  const std::string& issuer() const { return issuer_; }
  const std::string& current_kid() const { return keys_.front().kid; }

 private:
  const SigningKey* key(std::string_view kid) const;
  std::vector<SigningKey> keys_;
  std::string issuer_;
};

}  // namespace remhart::auth
