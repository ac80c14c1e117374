#include "ingest/validate.hpp"

#include <cmath>

#include <fmt/format.h>

namespace remhart::ingest {
namespace {

std::string phase_field(const char* name, std::size_t k) {
  return fmt::format("{}[{}]", name, k);
}

}  // namespace

std::optional<ItemError> validate(const core::Sample& s, const core::Device& device,
                                  core::TimeUs now, const ValidationLimits& limits) {
  auto fail = [](std::string field, std::string message) {
    return std::optional<ItemError>(ItemError{0, std::move(field), std::move(message), {}});
  };
  const auto& v = s.values;
  if (s.ts > now + limits.max_future_skew) {
    return fail("ts", "is too far in the future (more than the allowed clock skew)");
  }
  if (s.ts < limits.min_ts) return fail("ts", "is before the earliest accepted time");
  const struct {
    const char* name;
    const std::array<double, 3>& values;
  } groups[] = {{"v", v.v}, {"i", v.i}, {"p", v.p}, {"q", v.q}};
  for (const auto& g : groups) {
    for (std::size_t k = 0; k < 3; ++k) {
      if (!std::isfinite(g.values[k])) return fail(phase_field(g.name, k), "must be finite");
    }
  }
  if (!std::isfinite(v.f)) return fail("f", "must be finite");
  const double vmax = 2.0 * device.nominal_voltage;
  const double imax = 10.0 * device.rated_current;
  for (std::size_t k = 0; k < 3; ++k) {
    if (v.v[k] < 0 || v.v[k] > vmax) {
      return fail(phase_field("v", k),
                  fmt::format("must be between 0 and {} V (2 × nominal)", vmax));
    }
    if (v.i[k] < 0 || v.i[k] > imax) {
      return fail(phase_field("i", k),
                  fmt::format("must be between 0 and {} A (10 × rated)", imax));
    }
    const double s_max = 1.5 * v.v[k] * v.i[k];
    if (std::fabs(v.p[k]) > s_max) {
      return fail(phase_field("p", k),
                  fmt::format("|p| must not exceed 1.5 × V·I of the phase ({} W)", s_max));
    }
    if (std::fabs(v.q[k]) > s_max) {
      return fail(phase_field("q", k),
                  fmt::format("|q| must not exceed 1.5 × V·I of the phase ({} var)", s_max));
    }
  }
  if (v.f < 40 || v.f > 70) return fail("f", "must be between 40 and 70 Hz");
  for (std::size_t k = 0; k < 3; ++k) {
    if (core::is_present(v.thd_v[k]) && !(v.thd_v[k] >= 0 && v.thd_v[k] <= 100)) {
      return fail(phase_field("thd_v", k), "must be between 0 and 100 %");
    }
    if (core::is_present(v.thd_i[k]) && !(v.thd_i[k] >= 0 && v.thd_i[k] <= 100)) {
      return fail(phase_field("thd_i", k), "must be between 0 and 100 %");
    }
  }
  if (core::is_present(v.temp) && !(v.temp >= -60 && v.temp <= 250)) {
    return fail("temp", "must be between -60 and 250 °C");
  }
  return std::nullopt;
}

}  // namespace remhart::ingest
