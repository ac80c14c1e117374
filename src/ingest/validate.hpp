#pragma once
// Physical plausibility checks of one sample against its device's ratings (SPEC §3).
#include <optional>

#include "core/measurement.hpp"
#include "ingest/parse.hpp"

namespace remhart::ingest {

struct ValidationLimits {
  core::TimeUs max_future_skew = 300 * core::kUsPerSecond;
  core::TimeUs min_ts = 0;  ///< samples before this are rejected (default: the Unix epoch)
};

/// Checks: every number finite; voltage 0–2 × nominal; current 0–10 × rated; frequency 40–70 Hz;
/// |p| and |q| of each phase ≤ 1.5 × V·I of that phase; THD 0–100 %; temperature −60–250 °C;
/// timestamp not after now + skew. Returns the first problem found, with its field.
std::optional<ItemError> validate(const core::Sample& s, const core::Device& device,
                                  core::TimeUs now, const ValidationLimits& limits);

}  // namespace remhart::ingest
