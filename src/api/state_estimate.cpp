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

// A device's sample as a meter reading; false when it lacks |V|, P or Q.
bool reading_of(const core::Device& dev, const core::Record& rec, grid::MeterReading& out) {
  const auto derived = core::derive(rec.values);
  if (!std::isfinite(derived.v_avg) || !std::isfinite(derived.p_total) ||
      !std::isfinite(derived.q_total)) {
    return false;
  }
  out = {dev.element,        derived.v_avg / dev.nominal_voltage,
         derived.p_total,    derived.q_total,
         dev.accuracy_class, 3 * dev.nominal_voltage * dev.rated_current};
  return true;
}

struct Readings {
  std::vector<grid::MeterReading> readings;
  std::vector<std::string> devices;  // who gave each
};

// The latest reading of every device, fresher than `max_age`.
Readings latest_readings(ApiContext& ctx, const std::string& origin, core::TimeUs max_age) {
  const auto registry = ctx.store.devices();
  const auto now = core::now_us();
  Readings out;
  grid::MeterReading r;
  for (const auto& latest : ctx.store.latest_all(origin)) {
    const auto d = registry->find(latest.device);
    if (d == registry->end() || now - latest.record.ts > max_age) continue;
    if (!reading_of(d->second, latest.record, r)) continue;
    out.readings.push_back(r);
    out.devices.push_back(latest.device);
  }
  return out;
}

// Every device's reading taken at `ts` exactly (a simulation run's step).
Readings readings_at(ApiContext& ctx, const std::string& origin, core::TimeUs ts) {
  const auto registry = ctx.store.devices();
  Readings out;
  grid::MeterReading r;
  for (const auto& [id, dev] : *registry) {
    store::DataQuery q;
    q.device = id;
    q.origin = origin;
    q.from = ts;
    q.to = ts + 1;
    q.limit = 1;
    const auto page = ctx.store.query(q);
    if (page.records.empty() || !reading_of(dev, page.records.front(), r)) continue;
    out.readings.push_back(r);
    out.devices.push_back(id);
  }
  return out;
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

namespace {

struct Estimate {
  json body;
  grid::EstimationResult result;
  std::vector<bool> metered;  // per bus: a meter measures its |V|
};

Estimate estimate(ApiContext& ctx, const grid::Network& net, const Readings& in, core::TimeUs at,
                  bool use_pseudo) {
  const auto meters = grid::meter_measurements(net, in.readings);
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<double> head_scale;
  std::vector<grid::Measurement> pseudo;
  if (use_pseudo) {
    auto forecast = forecast_for(ctx.simulator.twin(), net, at);
    head_scale = grid::scale_to_feeder_head(net, meters.measurements, forecast);
    pseudo = grid::pseudo_measurements(net, forecast, meters.measurements);
  }
  Estimate out;
  out.result = grid::estimate_from_meters(net, meters, pseudo);
  out.body = estimation_json(net, meters, pseudo, in.devices, out.result);
  out.body["time_ms"] =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.body["pseudo_measurements"] = pseudo.size();
  out.body["head_scale"] = head_scale ? json(*head_scale) : json(nullptr);
  out.metered.assign(net.buses.size(), false);
  for (const auto& m : meters.measurements) {
    if (m.kind == grid::Measurement::Kind::vm) out.metered[m.element] = true;
  }
  return out;
}

}  // namespace

ActiveEstimate estimate_active_network(ApiContext& ctx, const std::string& origin,
                                       core::TimeUs max_age, bool use_pseudo) {
  const auto model = ctx.networks.current();
  const auto now = core::now_us();
  auto e = estimate(ctx, *model.network, latest_readings(ctx, origin, max_age), now, use_pseudo);
  ActiveEstimate out{std::move(e.body), model.network, model.id, std::move(e.result), now};
  out.body["network_id"] = model.id;
  out.body["origin"] = origin;
  out.body["estimated_at"] = core::format_rfc3339(now);
  return out;
}

json estimate_network_state(ApiContext& ctx, const std::string& origin, core::TimeUs max_age,
                            bool use_pseudo) {
  return estimate_active_network(ctx, origin, max_age, use_pseudo).body;
}

json score_run_estimates(ApiContext& ctx, const std::string& run, std::size_t limit) {
  const auto model = ctx.networks.current();
  const auto& net = *model.network;
  const auto truth = ctx.simulator.newest_truth(run, limit);
  json items = json::array();
  double sq = 0;
  std::size_t points = 0, inside = 0;
  for (const auto& snap : truth) {
    if (snap.bus.size() != net.buses.size() ||
        !std::equal(snap.bus.begin(), snap.bus.end(), net.buses.begin(),
                    [](std::int64_t id, const grid::Bus& b) { return id == b.id; })) {
      throw grid::NetworkError("the active model is not the run's network: its buses differ",
                               "network");
    }
    json item = {{"ts", core::format_rfc3339(snap.ts)}};
    try {
      const auto e = estimate(ctx, net, readings_at(ctx, "sim:" + run, snap.ts), snap.ts, true);
      double s2 = 0;
      std::size_t n = 0, in3 = 0;
      for (std::size_t k = 0; k < net.buses.size(); ++k) {
        if (e.metered[k] || net.buses[k].type == grid::BusType::ref) continue;
        const double err = e.result.vm[k] - snap.vm_pu[k];
        s2 += err * err;
        in3 += std::fabs(err) <= 3 * e.result.vm_sigma[k];
        ++n;
      }
      sq += s2;
      points += n;
      inside += in3;
      item["converged"] = e.result.converged;
      item["unmetered_buses"] = n;
      item["rmse_vm_pu"] = n ? std::sqrt(s2 / static_cast<double>(n)) : 0.0;
      item["inside_3sigma"] = n ? static_cast<double>(in3) / static_cast<double>(n) : 1.0;
    } catch (const grid::NetworkError& err) {
      item["error"] = err.what();  // this step's samples do not observe the network
    }
    items.push_back(std::move(item));
  }
  return {
      {"run", run},
      {"snapshots", items.size()},
      {"rmse_vm_pu", points ? json(std::sqrt(sq / static_cast<double>(points))) : json(nullptr)},
      {"inside_3sigma",
       points ? json(static_cast<double>(inside) / static_cast<double>(points)) : json(nullptr)},
      {"items", items}};
}

}  // namespace remhart::api
