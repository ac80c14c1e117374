#pragma once
// Ingest targets: a body in one format, parsed into samples, each checked against a device.
#include "core/error.hpp"
#include "core/measurement.hpp"
#include "ingest/parse.hpp"
#include "ingest/validate.hpp"

namespace remhart::fuzz {

inline void ingest_body(std::string_view body, ingest::Format format) {
  try {
    const auto batch = ingest::parse_batch(body, format, 10000);
    core::Device device;
    device.id = "m1";
    for (const auto& s : batch.samples) {
      (void)ingest::validate(s, device, 1'800'000'000'000'000, ingest::ValidationLimits{});
    }
  } catch (const core::Error&) {
  }
}

}  // namespace remhart::fuzz
