// Simulator routes: the scenario catalogue, runs (start, list, progress, stop, delete, pin) and
// their ground-truth labels; plus the original system's paths, answering at once.
#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "runs/simulation_runs.hpp"
#include "sim/io/scenario_json.hpp"
#include "store/sim_repo.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

json run_object(const store::SimRun& r) {
  json params = json::parse(r.params_json, nullptr, false);
  if (params.is_discarded()) params = json::object();
  return {{"id", r.id},
          {"scenario", r.scenario},
          {"mode", r.mode},
          {"status", r.status},
          {"progress", r.progress},
          {"samples", r.samples},
          {"rejected", r.rejected},
          {"steps", r.steps},
          {"origin", "sim:" + r.id},
          {"seed", r.seed},
          {"start", core::format_rfc3339(r.start)},
          {"duration_s", r.duration_s},
          {"step_s", r.step_s},
          {"speed", r.speed},
          {"params", params},
          {"created_at", core::format_rfc3339(r.created_at)},
          {"created_by", r.created_by},
          {"finished_at", r.finished_at ? json(core::format_rfc3339(r.finished_at)) : json()},
          {"error", r.error.empty() ? json() : json(r.error)},
          {"pinned", r.pinned}};
}

runs::RunRequest parse_request(const std::string& body, const sim::Twin& twin,
                                 const auth::Principal& who) {
  const json j = json_object_body(body);
  auto unprocessable = [](const std::string& field, const std::string& message) {
    return Error(ErrorKind::unprocessable, field + ": " + message, field);
  };
  for (const auto& item : j.items()) {
    const std::string& k = item.key();  // named, not bound: lambdas capture it (clang 14)
    static const char* known[] = {"scenario",   "scenario_type", "mode",  "start",
                                  "duration_s", "step_s",        "speed", "seed",
                                  "params",     "parameters",    "name",  "description"};
    if (std::none_of(std::begin(known), std::end(known), [&](const char* n) { return k == n; })) {
      throw unprocessable(k, "is not a known field");
    }
  }
  runs::RunRequest rq;
  rq.created_by = who.actor();
  rq.created_by_id = who.is_user() ? who.user_id : 0;
  const char* scenario_key = j.contains("scenario") ? "scenario" : "scenario_type";
  if (!j.contains(scenario_key) || !j[scenario_key].is_string()) {
    throw unprocessable("scenario", "is required (a scenario id, see /api/simulator/scenarios)");
  }
  rq.scenario = j[scenario_key].get<std::string>();
  if (j.contains("mode")) {
    if (!j["mode"].is_string()) throw unprocessable("mode", "must be a string");
    rq.mode = j["mode"].get<std::string>();
  }
  auto number = [&](const char* key) -> std::optional<double> {
    if (!j.contains(key) || j[key].is_null()) return std::nullopt;
    if (!j[key].is_number()) throw unprocessable(key, "must be a number");
    return j[key].get<double>();
  };
  rq.duration_s = number("duration_s");
  rq.step_s = number("step_s");
  rq.speed = number("speed");
  if (j.contains("seed") && !j["seed"].is_null()) {
    if (!j["seed"].is_number_unsigned())
      throw unprocessable("seed", "must be a non-negative integer");
    rq.seed = j["seed"].get<std::uint64_t>();
  }
  if (j.contains("start") && !j["start"].is_null()) {
    const auto& s = j["start"];
    std::optional<core::TimeUs> t;
    if (s.is_string()) t = core::parse_time_param(s.get<std::string>());
    if (s.is_number_integer()) t = s.get<std::int64_t>() * 1000;
    if (!t) throw unprocessable("start", "must be RFC 3339 or Unix milliseconds");
    rq.start = t;
  }
  const char* params_key = j.contains("params") ? "params" : "parameters";
  const json params = j.contains(params_key) ? j[params_key] : json::object();
  try {
    rq.params = sim::io::parse_scenario_params(params, twin);
  } catch (const sim::ParamError& e) {
    throw unprocessable(e.field(), e.what());
  }
  rq.params_json = dump_json(params);
  return rq;
}

runs::SimulationRuns& manager(ApiContext& ctx) {
  if (!ctx.simulator) throw Error(ErrorKind::unavailable, "the simulator is not available");
  return *ctx.simulator;
}

store::SimRun found(std::optional<store::SimRun> r) {
  if (!r) throw Error(ErrorKind::not_found, "no such simulation run");
  return *r;
}

}  // namespace

std::string run_json(const store::SimRun& run) {
  return dump_json(run_object(run));
}

void add_simulator_routes(Router& router, ApiContext& ctx) {
  auto scenarios = [](HttpRequest&, Reply reply) {
    reply(json_response(200, dump_json(sim::io::scenario_catalogue_json())));
  };
  auto start = [&ctx](HttpRequest& req, Reply reply) {
    offload(ctx, req, std::move(reply), [&ctx, body = std::move(req.body), who = req.principal] {
      auto& m = manager(ctx);
      const auto run = m.start(parse_request(body, m.twin(), who));
      return json_response(202, dump_json({{"id", run.id},
                                           {"status", run.status},
                                           {"origin", "sim:" + run.id},
                                           {"run", run_object(run)}}));
    });
  };
  auto list = [&ctx](HttpRequest& req, Reply reply) {
    offload(ctx, req, std::move(reply), [&ctx] {
      json items = json::array();
      for (const auto& r : manager(ctx).list()) items.push_back(run_object(r));
      return json_response(200, dump_json({{"items", items}}));
    });
  };
  auto get = [&ctx](HttpRequest& req, Reply reply) {
    offload(ctx, req, std::move(reply), [&ctx, id = req.params.at("id")] {
      return json_response(200, run_json(found(manager(ctx).get(id))));
    });
  };
  // Stopping, deleting and pinning change a run: its creator's or an admin's call.
  auto owned = [&ctx](auto action) {
    return [&ctx, action](HttpRequest& req, Reply reply) {
      offload(ctx, req, std::move(reply),
              [&ctx, action, id = req.params.at("id"), who = req.principal] {
                const auto run = found(manager(ctx).get(id));
                if (!who.may_change_owned_by(run.created_by_id)) {
                  throw Error(ErrorKind::forbidden,
                              "run " + id + " was created by " + run.created_by +
                                  "; only its creator or an admin may change it");
                }
                return action(manager(ctx), id);
              });
    };
  };
  auto pin = owned([](runs::SimulationRuns& m, const std::string& id) {
    return json_response(200, run_json(found(m.pin(id))));
  });
  auto active = [&ctx](HttpRequest& req, Reply reply) {
    offload(ctx, req, std::move(reply), [&ctx] {
      const auto r = manager(ctx).pinned();
      if (!r) throw Error(ErrorKind::not_found, "no run is pinned as the active one");
      return json_response(200, run_json(*r));
    });
  };

  router.add("GET", "/api/simulator/scenarios", Permission::read, scenarios);
  router.add("GET", "/api/simulator/runs", Permission::read, list);
  router.add("POST", "/api/simulator/runs", Permission::run, start);
  router.add("GET", "/api/simulator/runs/{id}", Permission::read, get);
  router.add("POST", "/api/simulator/runs/{id}/stop", Permission::run,
             owned([](runs::SimulationRuns& m, const std::string& id) {
               return json_response(200, run_json(found(m.stop(id))));
             }));
  router.add("DELETE", "/api/simulator/runs/{id}", Permission::run,
             owned([](runs::SimulationRuns& m, const std::string& id) {
               if (!m.remove(id)) throw Error(ErrorKind::not_found, "no such simulation run");
               return no_content();
             }));
  router.add("POST", "/api/simulator/runs/{id}/pin", Permission::run, pin);
  router.add("GET", "/api/simulator/runs/{id}/labels", Permission::read,
             [&ctx](HttpRequest& req, Reply reply) {
               const auto from = time_arg(req, "from").value_or(0);
               const auto to =
                   time_arg(req, "to").value_or(std::numeric_limits<core::TimeUs>::max());
               const auto limit = int_arg(req, "limit", 1, 100000).value_or(10000);
               offload(ctx, req, std::move(reply),
                       [&ctx, id = req.params.at("id"), device = req.arg("device").value_or(""),
                        from, to, limit] {
                         found(manager(ctx).get(id));
                         json items = json::array();
                         for (const auto& l : manager(ctx).labels(
                                  id, device, from, to, static_cast<std::size_t>(limit))) {
                           items.push_back({{"device", l.device},
                                            {"from", core::format_rfc3339(l.t0)},
                                            {"to", core::format_rfc3339(l.t1)},
                                            {"event", l.event},
                                            {"severity", l.severity},
                                            {"data_fault", l.data_fault}});
                         }
                         return json_response(200, dump_json({{"items", items}}));
                       });
             });
  router.add("GET", "/api/simulator/active", Permission::read, active);

  // The original system's paths.
  router.add("POST", "/api/simulator/run", Permission::run, start);
  router.add("GET", "/api/simulator/list", Permission::read, list);
  router.add("GET", "/api/simulator/templates/list", Permission::read, scenarios);
  router.add("GET", "/api/simulator/{id}", Permission::read, get);
  router.add("POST", "/api/simulator/{id}/activate", Permission::run, pin);
}

}  // namespace remhart::api
