// Grid-model routes: upload and read the network model, power flow (with what-if changes), N-1
// contingency studies and state estimation. Studies run on the study pool; the engines (grid/)
// do the work, grid_json names the results.
#include <optional>

#include <nlohmann/json.hpp>

#include "api/active_network.hpp"
#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/grid_json.hpp"
#include "api/query_params.hpp"
#include "api/router.hpp"
#include "api/state_estimate.hpp"
#include "api/state_service.hpp"
#include "api/study_runner.hpp"
#include "core/error.hpp"
#include "grid/io/json_network.hpp"
#include "grid/io/what_if_json.hpp"
#include "grid/what_if.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

void state(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const std::string origin = origin_arg(req);
  const auto max_age = int_arg(req, "max_age_s", 1, 30 * 86400).value_or(900) * core::kUsPerSecond;
  const auto pseudo_arg = req.arg("pseudo").value_or("true");
  if (pseudo_arg != "true" && pseudo_arg != "false") {
    throw Error(ErrorKind::bad_request, "must be true or false", "pseudo");
  }
  // The estimator's own latest estimate of this origin, while fresh, unless asked otherwise.
  if (ctx.state && !req.arg("max_age_s") && pseudo_arg == "true") {
    if (const auto kept = ctx.state->fresh(origin, ctx.networks.current().id)) {
      return reply(json_response(200, *kept));
    }
  }
  offload_study(ctx, req, std::move(reply),
                [&ctx, origin, max_age, use_pseudo = pseudo_arg == "true"](const StudyControl&) {
                  return json_response(
                      200, dump_json(estimate_network_state(ctx, origin, max_age, use_pseudo)));
                });
}

// MATPOWER (text) or the JSON network format, by Content-Type or ?format=; parsed off the I/O
// thread, one upload at a time.
void upload_network(ApiContext& ctx, HttpRequest& req, Reply reply) {
  std::string format = req.arg("format").value_or("");
  if (format.empty()) {
    format = req.header("content-type").starts_with("application/json") ? "json" : "matpower";
  }
  if (format != "json" && format != "matpower") {
    throw Error(ErrorKind::bad_request, "must be json or matpower", "format");
  }
  offload(ctx, req, std::move(reply),
          [&ctx, format, body = std::move(req.body), name = req.arg("name"),
           who = req.principal.actor(), ticket = ctx.networks.begin_upload()]() mutable {
            const auto held = std::move(ticket);  // the next upload may start when this returns
            const auto up = ctx.networks.upload(*held, format, body, name, who);
            return json_response(201, dump_json({{"id", up.id},
                                                 {"name", up.network->name},
                                                 {"buses", up.network->buses.size()},
                                                 {"branches", up.network->branches.size()},
                                                 {"generators", up.network->gens.size()},
                                                 {"active", true}}));
          });
}

void list_networks(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx] {
    return json_response(200, dump_json(network_versions_json(ctx.networks.versions())));
  });
}

void get_network(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [model = ctx.networks.current()] {
    auto r = json_response(200, grid::io::network_to_json(*model.network));
    r.headers.emplace_back("X-Network-Id", std::to_string(model.id));
    return r;
  });
}

// A power flow of the active model, or of a what-if copy (the copy is made with the solve, off
// the I/O thread).
void power_flow(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const json body = json_object_body(req.body, true);
  const auto opt = power_flow_options(body);
  const std::string slack = body.value("slack", "single");
  if (slack != "single" && slack != "distributed") {
    throw Error(ErrorKind::unprocessable, "must be single or distributed", "slack");
  }
  auto changes = body.contains("changes") ? grid::io::parse_changes(body["changes"])
                                          : std::vector<grid::ModelChange>{};
  offload_study(ctx, req, std::move(reply),
                [model = ctx.networks.current(), changes = std::move(changes), opt,
                 distributed = slack == "distributed"](const StudyControl&) {
                  grid::Network net = *model.network;
                  grid::apply_changes(net, changes);
                  const auto result = grid::solve_what_if(net, distributed, opt);
                  json out = power_flow_json(net, result);
                  out["network_id"] = model.id;
                  return json_response(200, dump_json(out));
                });
}

void contingency(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const json body = json_object_body(req.body, true);
  const auto model = ctx.networks.current();
  auto opt = contingency_options(*model.network, body);
  opt.threads = 1;  // one study thread
  offload_study(ctx, req, std::move(reply), [model, opt](const StudyControl& control) mutable {
    const auto& net = model.network;
    std::optional<std::string> stopped;
    opt.stop = [&] {
      stopped = control.stop_reason();
      return stopped.has_value();
    };
    const auto report = grid::run_n1(*net, opt);
    json out = contingency_json(*net, report, opt.loading_limit, stopped);
    out["network_id"] = model.id;
    return json_response(200, dump_json(out));
  });
}

}  // namespace

void add_network_routes(Router& router, ApiContext& ctx) {
  const auto bind = [&ctx](auto fn) { return bound(ctx, fn); };
  using P = Permission;
  router.add("GET", "/api/grid/state", P::read, bind(state));
  router.add("POST", "/api/grid/networks", P::write, bind(upload_network), Router::kLargeBody);
  router.add("GET", "/api/grid/networks", P::read, bind(list_networks));
  router.add("GET", "/api/grid/network", P::read, bind(get_network));
  router.add("POST", "/api/grid/powerflow", P::run, bind(power_flow));
  router.add("POST", "/api/grid/contingency", P::run, bind(contingency));
}

}  // namespace remhart::api
