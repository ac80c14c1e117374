// Ingest: a JSON body (parse_batch, then validation of every sample).
#include "fuzz.hpp"
#include "ingest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  remhart::fuzz::ingest_body(remhart::fuzz::text(data, size), remhart::ingest::Format::json);
  return 0;
}
