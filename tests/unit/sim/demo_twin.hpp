#pragma once
// What the simulator's tests share: the demo twin, read once, and the hours they run it at.
#include <filesystem>

#include "core/time.hpp"
#include "sim/io/twin_json.hpp"
#include "sim/twin.hpp"

namespace remhart::sim::testing {

inline const Twin& demo() {
  static const Twin twin = io::read_twin_file(
      (std::filesystem::path(REMHART_SOURCE_DIR) / "share" / "twins" / "demo-feeder.json")
          .string());
  return twin;
}

// A summer noon (2026-06-15 12:00 UTC, light load and strong sun), a winter weekday evening peak
// (2026-01-14 18:00) and a summer night (2026-06-15 03:30).
constexpr core::TimeUs kSummerNoon = 1'781'524'800'000'000;
constexpr core::TimeUs kWinterEvening = 1'768'413'600'000'000;
constexpr core::TimeUs kNight = 1'781'494'200'000'000;
constexpr core::TimeUs kTimes[] = {kSummerNoon, kWinterEvening, kNight};

}  // namespace remhart::sim::testing
