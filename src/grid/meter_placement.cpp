#include "grid/meter_placement.hpp"

#include <charconv>
#include <cstdint>
#include <unordered_map>

namespace remhart::grid {

namespace {
bool integer(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Default accuracies (meters do not state theirs yet): 0.4 % on |V|, 1 % of the base on P, Q.
constexpr double kSigmaVm = 0.004;
constexpr double kSigmaPower = 0.01;
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
    add({K::vm, bus, reading.v_pu, kSigmaVm});
    if (where->branch) {
      add({where->at_from ? K::p_flow_from : K::p_flow_to, where->index, reading.p_w / base_w,
           kSigmaPower});
      add({where->at_from ? K::q_flow_from : K::q_flow_to, where->index, reading.q_var / base_w,
           kSigmaPower});
    } else {
      add({K::p_injection, bus, -reading.p_w / base_w, kSigmaPower});
      add({K::q_injection, bus, -reading.q_var / base_w, kSigmaPower});
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
