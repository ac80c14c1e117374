// Simulator routes: the scenario catalogue, runs (start, list, progress, stop, delete, pin) and
// their ground-truth labels; plus the original system's paths, answering at once.
#include <nlohmann/json.hpp>

#include "api/analytics_service.hpp"
#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/query_params.hpp"
#include "api/router.hpp"
#include "api/state_estimate.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "runs/simulation_runs.hpp"
#include "sim/io/scenario_json.hpp"
#include "store/archive.hpp"
#include "store/ml_results.hpp"
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
  rq.params = sim::io::parse_scenario_params(params, twin);  // sim::ParamError → 422
  rq.params_json = dump_json(params);
  return rq;
}

store::SimRun found(std::optional<store::SimRun> r) {
  if (!r) throw Error(ErrorKind::not_found, "no such simulation run");
  return *r;
}

json labels_json(const std::vector<store::LabelInterval>& labels) {
  json items = json::array();
  for (const auto& l : labels) {
    items.push_back({{"device", l.device},
                     {"from", core::format_rfc3339(l.t0)},
                     {"to", core::format_rfc3339(l.t1)},
                     {"event", l.event},
                     {"severity", l.severity},
                     {"data_fault", l.data_fault}});
  }
  return {{"items", items}};
}

json truth_json(const std::vector<store::TruthSnapshot>& snapshots) {
  json items = json::array();
  for (const auto& s : snapshots) {
    json buses = json::array();
    for (std::size_t k = 0; k < s.bus.size() && k < s.vm_pu.size() && k < s.va_deg.size(); ++k) {
      buses.push_back({{"id", s.bus[k]}, {"vm_pu", s.vm_pu[k]}, {"va_deg", s.va_deg[k]}});
    }
    items.push_back({{"ts", core::format_rfc3339(s.ts)}, {"buses", std::move(buses)}});
  }
  return {{"items", items}};
}

void scenarios(ApiContext&, HttpRequest&, Reply reply) {
  reply(json_response(200, dump_json(sim::io::scenario_catalogue_json())));
}

void start(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, body = std::move(req.body), who = req.principal] {
    const auto run = ctx.simulator.start(parse_request(body, ctx.simulator.twin(), who));
    return json_response(202, dump_json({{"id", run.id},
                                         {"status", run.status},
                                         {"origin", "sim:" + run.id},
                                         {"run", run_object(run)}}));
  });
}

void list(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx] {
    json items = json::array();
    for (const auto& r : ctx.simulator.list()) items.push_back(run_object(r));
    return json_response(200, dump_json({{"items", items}}));
  });
}

void get(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, id = req.params.at("id")] {
    return json_response(200, run_json(found(ctx.simulator.get(id))));
  });
}

void active(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx] {
    const auto r = ctx.simulator.pinned();
    if (!r) throw Error(ErrorKind::not_found, "no run is pinned as the active one");
    return json_response(200, run_json(*r));
  });
}

void labels(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto from = time_arg(req, "from").value_or(0);
  const auto to = time_arg(req, "to").value_or(std::numeric_limits<core::TimeUs>::max());
  const auto limit = static_cast<std::size_t>(int_arg(req, "limit", 1, 100000).value_or(10000));
  offload(
      ctx, req, std::move(reply),
      [&ctx, id = req.params.at("id"), device = req.arg("device").value_or(""), from, to, limit] {
        found(ctx.simulator.get(id));
        return json_response(
            200, dump_json(labels_json(ctx.simulator.labels(id, device, from, to, limit))));
      });
}

// The run's true bus voltages (a snapshot each simulated minute), to score estimates against.
void truth(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto from = time_arg(req, "from").value_or(0);
  const auto to = time_arg(req, "to").value_or(std::numeric_limits<core::TimeUs>::max());
  const auto limit = static_cast<std::size_t>(int_arg(req, "limit", 1, 10000).value_or(1000));
  offload(ctx, req, std::move(reply), [&ctx, id = req.params.at("id"), from, to, limit] {
    found(ctx.simulator.get(id));
    return json_response(200, dump_json(truth_json(ctx.simulator.truth(id, from, to, limit))));
  });
}

// The run's state estimates scored against its true bus voltages (a study: on the study pool,
// within the caller's study limits).
void state_score(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto limit = static_cast<std::size_t>(int_arg(req, "limit", 1, 1000).value_or(30));
  offload_study(ctx, req, std::move(reply),
                [&ctx, id = req.params.at("id"), limit](const StudyControl&) {
                  found(ctx.simulator.get(id));
                  return json_response(200, dump_json(score_run_estimates(ctx, id, limit)));
                });
}

// Stopping, deleting and pinning change a run: its creator's or an admin's call. An action
// answers through `reply`, at once or later.
using RunAction = void (*)(ApiContext&, const std::string& id, const Reply& reply,
                           const std::string& request_id);
Handler owned(ApiContext& ctx, RunAction action) {
  return [&ctx, action](HttpRequest& req, Reply reply) {
    offload_async(ctx, req, std::move(reply),
                  [&ctx, action, id = req.params.at("id"), who = req.principal,
                   rid = req.request_id](const Reply& reply) {
                    const auto run = found(ctx.simulator.get(id));
                    if (!who.may_change_owned_by(run.created_by_id)) {
                      throw Error(ErrorKind::forbidden,
                                  "run " + id + " was created by " + run.created_by +
                                      "; only its creator or an admin may change it");
                    }
                    action(ctx, id, reply, rid);
                  });
  };
}

// Once the run has stopped — here, or on the replica running it, which no job thread waits for
// (SimulationRuns::stop_async) — `then` answers on the job pool.
void after_stop(ApiContext& ctx, const std::string& id, const Reply& reply, const std::string& rid,
                std::function<HttpResponse(const std::optional<store::SimRun>&)> then) {
  ctx.simulator.stop_async(id, [&ctx, reply, rid, then = std::move(then)](
                                   std::optional<store::SimRun> run, std::exception_ptr error) {
    if (error) {
      reply(error_from_exception(error, rid));
      return;
    }
    ctx.run_blocking([reply, rid, then, run = std::move(run)] {
      try {
        reply(then(run));
      } catch (...) {
        reply(error_from_exception(std::current_exception(), rid));
      }
    });
  });
}

void stop(ApiContext& ctx, const std::string& id, const Reply& reply, const std::string& rid) {
  after_stop(ctx, id, reply, rid, [](const std::optional<store::SimRun>& run) {
    return json_response(200, run_json(found(run)));
  });
}

// A deleted run takes its analytics along (stored history, latest results, feature state) and its
// archived samples.
void remove(ApiContext& ctx, const std::string& id, const Reply& reply, const std::string& rid) {
  after_stop(ctx, id, reply, rid, [&ctx, id](const std::optional<store::SimRun>&) {
    if (!ctx.simulator.remove(id)) throw Error(ErrorKind::not_found, "no such simulation run");
    if (ctx.ml_results) ctx.ml_results->delete_origin("sim:" + id);
    if (ctx.objects) store::remove_archives(*ctx.objects, "sim:" + id);
    if (ctx.analytics) ctx.analytics->forget("sim:" + id);
    return no_content();
  });
}

void pin(ApiContext& ctx, const std::string& id, const Reply& reply, const std::string&) {
  reply(json_response(200, run_json(found(ctx.simulator.pin(id)))));
}

}  // namespace

std::string run_json(const store::SimRun& run) {
  return dump_json(run_object(run));
}

void add_simulator_routes(Router& router, ApiContext& ctx) {
  const auto bind = [&ctx](auto fn) { return bound(ctx, fn); };
  using P = Permission;
  router.add("GET", "/api/simulator/scenarios", P::read, bind(scenarios));
  router.add("GET", "/api/simulator/runs", P::read, bind(list));
  router.add("POST", "/api/simulator/runs", P::run, bind(start));
  router.add("GET", "/api/simulator/runs/{id}", P::read, bind(get));
  router.add("POST", "/api/simulator/runs/{id}/stop", P::run, owned(ctx, stop));
  router.add("DELETE", "/api/simulator/runs/{id}", P::run, owned(ctx, remove));
  router.add("POST", "/api/simulator/runs/{id}/pin", P::run, owned(ctx, pin));
  router.add("GET", "/api/simulator/runs/{id}/labels", P::read, bind(labels));
  router.add("GET", "/api/simulator/runs/{id}/truth", P::read, bind(truth));
  router.add("GET", "/api/simulator/runs/{id}/state-score", P::read, bind(state_score));
  router.add("GET", "/api/simulator/active", P::read, bind(active));
  // The original system's paths.
  router.add("POST", "/api/simulator/run", P::run, bind(start));
  router.add("GET", "/api/simulator/list", P::read, bind(list));
  router.add("GET", "/api/simulator/templates/list", P::read, bind(scenarios));
  router.add("GET", "/api/simulator/{id}", P::read, bind(get));
  router.add("POST", "/api/simulator/{id}/activate", P::run, owned(ctx, pin));
}

}  // namespace remhart::api
