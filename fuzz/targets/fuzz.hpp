#pragma once
// Shared by the fuzz targets. Each target file defines LLVMFuzzerTestOneInput: built with
// libFuzzer by `make fuzz` (clang), and renamed to remhart_fuzz_<target> for the corpus replay
// that `make test` runs (GCC). A target catches only the errors its parser documents; anything
// else — another exception, a crash, a sanitizer report — is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace remhart::fuzz {

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace remhart::fuzz
