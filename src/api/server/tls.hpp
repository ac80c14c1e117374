#pragma once
// Private to api/server.cpp: the TLS context. TLS 1.2 at least (1.3 is negotiated when the client
// offers it), no compression or renegotiation, the server's cipher order; a certificate or key
// that cannot be read is a startup error naming the file.
#include <string>

#include "api/server/shared.hpp"

namespace remhart::api::server {

inline void configure_tls(ssl::context& tls, const std::string& cert, const std::string& key) {
  SSL_CTX* native = tls.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5:!SHA1");
  try {
    tls.use_certificate_chain_file(cert);
  } catch (const std::exception& e) {
    throw std::runtime_error("TLS certificate " + cert + ": " + e.what());
  }
  try {
    tls.use_private_key_file(key, ssl::context::pem);
  } catch (const std::exception& e) {
    throw std::runtime_error("TLS key " + key + ": " + e.what());
  }
}

}  // namespace remhart::api::server
