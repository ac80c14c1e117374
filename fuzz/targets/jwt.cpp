// Bearer tokens: JWT parse and verify (the key ring's secret is fixed, the input is the token).
#include "auth/jwt.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const remhart::auth::JwtCodec codec({{"k1", std::string(32, 'k')}}, "remhart");
  (void)codec.verify(remhart::fuzz::text(data, size), 1'800'000'000);
  return 0;
}
