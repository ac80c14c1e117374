#include "api/state_estimate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <vector>

#include "api/active_network.hpp"
#include "api/grid_json.hpp"
#include "core/measurement.hpp"
#include "grid/meter_placement.hpp"
#include "grid/pseudo_measurements.hpp"
#include "runs/simulation_runs.hpp"
#include "sim/forecast.hpp"
#include "store/store.hpp"

namespace remhart::api {

using nlohmann::json;

namespace {

// The latest reading of every device placed on the model, fresher than `max_age`.
std::vector<grid::MeterReading> meter_readings(ApiContext& ctx, const std::string& origin,
                                               core::TimeUs max_age,
                                               std::vector<std::string>& devices) {
  const auto registry = ctx.store.devices();
  const auto now = core::now_us();
  std::vector<grid::MeterReading> readings;
  for (const auto& latest : ctx.store.latest_all(origin)) {
    const auto d = registry->find(latest.device);
    if (d == registry->end() || now - latest.record.ts > max_age) continue;
    const auto derived = core::derive(latest.record.values);
    if (!std::isfinite(derived.v_avg) || !std::isfinite(derived.p_total) ||
        !std::isfinite(derived.q_total)) {
      continue;
    }
    const auto& dev = d->second;
    readings.push_back({dev.element, derived.v_avg / dev.nominal_voltage, derived.p_total,
                        derived.q_total, dev.accuracy_class,
                        3 * dev.nominal_voltage * dev.rated_current});
    devices.push_back(latest.device);
  }
  return readings;
}

// The twin's forecasts when the model is the twin's network (the same buses), else the model's
// own loads.
std::vector<grid::BusForecast> forecast_for(const sim::Twin& twin, const grid::Network& net,
                                            core::TimeUs at) {
  const auto& tb = twin.network.buses;
  const bool twins = tb.size() == net.buses.size() &&
                     std::equal(tb.begin(), tb.end(), net.buses.begin(),
                                [](const auto& a, const auto& b) { return a.id == b.id; });
  return twins ? sim::bus_forecast(twin, net, at) : grid::model_forecast(net);
}

}  // namespace

json estimate_network_state(ApiContext& ctx, const std::string& origin, core::TimeUs max_age,
                            bool use_pseudo) {
  const auto model = ctx.networks.current();
  const auto& net = *model.network;
  std::vector<std::string> devices;
  const auto readings = meter_readings(ctx, origin, max_age, devices);
  const auto meters = grid::meter_measurements(net, readings);
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<double> head_scale;
  std::vector<grid::Measurement> pseudo;
  if (use_pseudo) {
    auto forecast = forecast_for(ctx.simulator.twin(), net, core::now_us());
    head_scale = grid::scale_to_feeder_head(net, meters.measurements, forecast);
    pseudo = grid::pseudo_measurements(net, forecast, meters.measurements);
  }
  const auto estimate = grid::estimate_from_meters(net, meters, pseudo);
  json out = estimation_json(net, meters, pseudo, devices, estimate);
  out["time_ms"] =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out["pseudo_measurements"] = pseudo.size();
  out["head_scale"] = head_scale ? json(*head_scale) : json(nullptr);
  out["network_id"] = model.id;
  out["origin"] = origin;
  out["estimated_at"] = core::format_rfc3339(core::now_us());
  return out;
}

}  // namespace remhart::api
