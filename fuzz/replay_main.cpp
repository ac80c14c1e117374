// Replays committed fuzz inputs through the fuzz targets without libFuzzer, so the test build
// (GCC, ASan+UBSan) runs every seed and every past finding:
//   fuzz_replay TARGET DIR...   (each regular file in each DIR, in name order)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#define REMHART_FUZZ_TARGET(name) \
  extern "C" int remhart_fuzz_##name(const std::uint8_t* data, std::size_t size);
#include "fuzz_targets.inc"
#undef REMHART_FUZZ_TARGET

int main(int argc, char** argv) {
  using Entry = int (*)(const std::uint8_t*, std::size_t);
  const std::map<std::string, Entry> targets = {
#define REMHART_FUZZ_TARGET(name) {#name, &remhart_fuzz_##name},
#include "fuzz_targets.inc"
#undef REMHART_FUZZ_TARGET
  };
  if (argc < 3 || !targets.count(argv[1])) {
    std::cerr << "usage: fuzz_replay TARGET DIR...\n";
    return 2;
  }
  std::vector<std::filesystem::path> files;
  for (int a = 2; a < argc; ++a) {
    if (!std::filesystem::is_directory(argv[a])) continue;
    for (const auto& e : std::filesystem::directory_iterator(argv[a])) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << argv[1] << ": no inputs to replay\n";
    return 1;
  }
  const Entry run = targets.at(argv[1]);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::cout << argv[1] << ": replayed " << files.size() << " inputs\n";
  return 0;
}
