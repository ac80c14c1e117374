#include "grid/meter_placement.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <unordered_map>

namespace remhart::grid {

namespace {
bool integer(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// A power deviation is taken of |S|, but of no less than these.
constexpr double kRatingFloor = 0.05;  // of the meter's rating
constexpr double kBaseFloor = 1e-3;    // p.u., without a rating
}  // namespace

std::optional<MeterPlacement> place_meter(const Network& net, std::string_view e) {
  if (e.starts_with("bus:")) {
    std::int64_t id = 0;
    if (!integer(e.substr(4), id)) return std::nullopt;
    for (std::size_t k = 0; k < net.buses.size(); ++k) {
      if (net.buses[k].id == id) return MeterPlacement{false, k, true};
    }
    return std::nullopt;
  }
  if (!e.starts_with("branch:")) return std::nullopt;
  e.remove_prefix(7);
  const auto dash = e.find('-'), colon = e.find(':');
  if (dash == std::string_view::npos || colon == std::string_view::npos || colon < dash) {
    return std::nullopt;
  }
  std::int64_t f = 0, t = 0;
  if (!integer(e.substr(0, dash), f) || !integer(e.substr(dash + 1, colon - dash - 1), t)) {
    return std::nullopt;
  }
  const auto end = e.substr(colon + 1);
  if (end != "from" && end != "to") return std::nullopt;
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    if (net.branches[k].from == f && net.branches[k].to == t) {
      return MeterPlacement{true, k, end == "from"};
    }
  }
  return std::nullopt;
}

MeterMeasurements meter_measurements(const Network& net, std::span<const MeterReading> readings) {
  std::unordered_map<std::int64_t, std::size_t> bus_index;
  for (std::size_t k = 0; k < net.buses.size(); ++k) bus_index[net.buses[k].id] = k;
  const double base_w = net.base_mva * 1e6;
  using K = Measurement::Kind;
  MeterMeasurements out;
  for (std::size_t r = 0; r < readings.size(); ++r) {
    const auto& reading = readings[r];
    const auto where = place_meter(net, reading.element);
    if (!where) continue;
    ++out.placed;
    auto add = [&](Measurement m) {
      out.measurements.push_back(m);
      out.reading_of.push_back(r);
    };
    std::size_t bus = where->index;
    if (where->branch) {
      const auto& br = net.branches[where->index];
      bus = bus_index.at(where->at_from ? br.from : br.to);
    }
    const double rel = reading.accuracy_class / 100 / 3;
    const double s_floor =
        reading.rated_va > 0 ? kRatingFloor * reading.rated_va / base_w : kBaseFloor;
    const double sigma_v = std::max(rel * reading.v_pu, 1e-4);
    const double sigma_s = rel * std::max(std::hypot(reading.p_w, reading.q_var) / base_w, s_floor);
    add({K::vm, bus, reading.v_pu, sigma_v});
    if (where->branch) {
      add({where->at_from ? K::p_flow_from : K::p_flow_to, where->index, reading.p_w / base_w,
           sigma_s});
      add({where->at_from ? K::q_flow_from : K::q_flow_to, where->index, reading.q_var / base_w,
           sigma_s});
    } else {
      add({K::p_injection, bus, -reading.p_w / base_w, sigma_s});
      add({K::q_injection, bus, -reading.q_var / base_w, sigma_s});
    }
  }
  return out;
}

EstimationResult estimate_from_meters(const Network& net, const MeterMeasurements& meters,
                                      std::span<const Measurement> pseudo,
                                      const EstimationOptions& options) {
  auto all = meters.measurements;
  all.insert(all.end(), pseudo.begin(), pseudo.end());
  try {
    return estimate_state(net, std::move(all), options);
  } catch (const NetworkError& e) {
    throw NetworkError(std::string(e.what()) + " (" + std::to_string(meters.placed) +
                           " device(s) placed on the model, " + std::to_string(pseudo.size()) +
                           " pseudo-measurements)",
                       "measurements");
  }
}

}  // namespace remhart::grid
