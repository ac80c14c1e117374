// Ingest: the original system's single-point shape.
#include "core/error.hpp"
#include "fuzz.hpp"
#include "ingest/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)remhart::ingest::parse_legacy_point(remhart::fuzz::text(data, size), "m1",
                                              1'800'000'000'000'000);
  } catch (const remhart::core::Error&) {
  }
  return 0;
}
