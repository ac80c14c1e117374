// The configuration file (TOML), with its checks.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "app/config.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path =
      "/tmp/remhart-fuzz-config-" + std::to_string(::getpid()) + ".toml";
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  try {
    (void)remhart::app::load_config(path, [](const char*) -> const char* { return nullptr; }, {});
  } catch (const remhart::app::ConfigError&) {
  }
  return 0;
}
