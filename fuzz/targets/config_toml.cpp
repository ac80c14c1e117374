// The configuration file (TOML), with its checks.
#include "app/config.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)remhart::app::config_from_toml(remhart::fuzz::text(data, size));
  } catch (const remhart::app::ConfigError&) {
  }
  return 0;
}
