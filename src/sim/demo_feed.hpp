#pragma once
// A small stand-in feed so a fresh `make run` shows live data at once: plausible 3-phase
// samples for a few demo meters (a daily load shape, slight unbalance, load-dependent voltage
// drop, small frequency wander). The physics simulator replaces it in a later issue.
#include <cstdint>
#include <random>
#include <vector>

#include "core/measurement.hpp"

namespace remhart::sim {

class DemoFeed {
 public:
  DemoFeed(std::size_t devices, std::uint64_t seed);

  const std::vector<core::Device>& devices() const { return devices_; }
  /// One sample per demo device at time `t`.
  std::vector<core::Sample> step(core::TimeUs t);

 private:
  std::vector<core::Device> devices_;
  std::vector<double> base_kw_;  // per-device peak load per phase
  std::mt19937_64 rng_;
  double freq_ = 50.0;
};

}  // namespace remhart::sim
