// The simulator's twin file.
#include "sim/io/twin_json.hpp"
#include "fuzz.hpp"
#include "grid/network.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)remhart::sim::io::parse_twin_json(remhart::fuzz::text(data, size));
  } catch (const remhart::grid::NetworkError&) {
  }
  return 0;
}
