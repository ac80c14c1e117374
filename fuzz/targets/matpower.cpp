// Network files: MATPOWER case text, then the network checks a solve would run.
#include "grid/io/matpower.hpp"
#include "fuzz.hpp"
#include "grid/network.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto net = remhart::grid::io::parse_matpower(remhart::fuzz::text(data, size));
    (void)remhart::grid::validate(net);
  } catch (const remhart::grid::NetworkError&) {
  }
  return 0;
}
