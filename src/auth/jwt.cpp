#include "auth/jwt.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "auth/crypto.hpp"
#include "core/json_depth.hpp"

namespace remhart::auth {

using nlohmann::json;

JwtCodec::JwtCodec(std::vector<SigningKey> keys, std::string issuer)
    : keys_(std::move(keys)), issuer_(std::move(issuer)) {
  if (keys_.empty()) throw std::invalid_argument("JWT key ring is empty");
  for (const auto& k : keys_) {
    if (k.secret.size() < 32) throw std::invalid_argument("JWT secret shorter than 32 bytes");
    if (k.kid.empty()) throw std::invalid_argument("JWT key without an id");
  }
}

const SigningKey* JwtCodec::key(std::string_view kid) const {
  for (const auto& k : keys_) {
    if (k.kid == kid) return &k;
  }
  return nullptr;
}

std::string JwtCodec::sign(const Claims& c) const {
  const SigningKey& k = keys_.front();
  json payload = {{"iss", c.iss.empty() ? issuer_ : c.iss},
                  {"sub", c.sub},
                  {"role", c.role},
                  {"iat", c.iat},
                  {"exp", c.exp},
                  {"jti", c.jti}};
  if (c.nbf) payload["nbf"] = *c.nbf;
  if (c.ver) payload["ver"] = *c.ver;
  std::string out =
      base64url_encode(json{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", k.kid}}.dump()) + "." +
      base64url_encode(payload.dump());
  const auto mac = hmac_sha256(k.secret, out);
  out += ".";
  out += base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return out;
}

VerifyResult JwtCodec::verify(std::string_view token, std::int64_t now_s) const {
  auto fail = [](std::string why) { return VerifyResult{std::nullopt, std::move(why)}; };
  if (token.size() > 4096) return fail("token too long");
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return fail("not a JWS compact token");
  }
  const auto header_text = base64url_decode(token.substr(0, d1));
  const auto payload_text = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
  const auto sig = base64url_decode(token.substr(d2 + 1));
  if (!header_text || !payload_text || !sig) return fail("bad base64url");
  if (core::json_too_deep(*header_text, 4) || core::json_too_deep(*payload_text, 4)) {
    return fail("nested too deeply");
  }

  const json header = json::parse(*header_text, nullptr, false);
  if (!header.is_object()) return fail("header is not a JSON object");
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get<std::string>() != "HS256") {
    return fail("algorithm not accepted (only HS256)");
  }
  if (header.contains("crit")) return fail("critical header extensions not supported");
  if (const auto typ = header.find("typ");
      typ != header.end() && (!typ->is_string() || typ->get<std::string>() != "JWT")) {
    return fail("typ must be JWT");
  }
  const auto kid = header.find("kid");
  if (kid == header.end() || !kid->is_string()) return fail("no key id");
  const SigningKey* k = key(kid->get<std::string>());
  if (!k) return fail("unknown key id");
  const auto mac = hmac_sha256(k->secret, token.substr(0, d2));
  if (!constant_time_equal(
          *sig, std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()))) {
    return fail("bad signature");
  }

  const json p = json::parse(*payload_text, nullptr, false);
  if (!p.is_object()) return fail("payload is not a JSON object");
  Claims c;
  auto str = [&](const char* name, std::string& out) {
    const auto it = p.find(name);
    if (it == p.end() || !it->is_string() || it->get<std::string>().empty()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto num = [&](const char* name, std::int64_t& out) {
    const auto it = p.find(name);
    if (it == p.end() || !it->is_number_integer()) return false;
    out = it->get<std::int64_t>();
    return true;
  };
  if (!str("sub", c.sub) || !str("role", c.role) || !str("iss", c.iss) || !str("jti", c.jti) ||
      !num("iat", c.iat) || !num("exp", c.exp)) {
    return fail("missing or malformed claim (sub, role, iss, jti, iat, exp are required)");
  }
  if (c.iss != issuer_) return fail("wrong issuer");
  if (p.contains("ver")) {
    std::int64_t ver = 0;
    if (!num("ver", ver)) return fail("malformed ver");
    c.ver = ver;
  }
  if (p.contains("nbf")) {
    std::int64_t nbf = 0;
    if (!num("nbf", nbf)) return fail("malformed nbf");
    c.nbf = nbf;
    if (nbf > now_s + kLeewayS) return fail("token not yet valid");
  }
  if (c.iat > now_s + kLeewayS) return fail("token issued in the future");
  if (c.exp <= now_s - kLeewayS) return fail("token expired");
  return {std::move(c), {}};
}

}  // namespace remhart::auth
