// Grid-model routes: upload and read the network model, power flow (with what-if changes) and
// N-1 contingency studies. Solves run on the job pool; the engines do the work.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"
#include "api/study_runner.hpp"
#include "core/error.hpp"
#include "core/measurement.hpp"
#include "core/time.hpp"
#include "grid/contingency.hpp"
#include "grid/io/json_network.hpp"
#include "grid/io/matpower.hpp"
#include "grid/powerflow.hpp"
#include "grid/state_estimation.hpp"
#include "store/network_repo.hpp"
#include "store/store.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {

std::shared_ptr<const grid::Network> active(ApiContext& ctx, std::int64_t* id = nullptr) {
  std::lock_guard lock(ctx.network->mu);
  if (!ctx.network->network) {
    throw Error(ErrorKind::not_found, "no network model yet: POST one to /api/grid/networks");
  }
  if (id) *id = ctx.network->id;
  return ctx.network->network;
}

const char* kind_name(grid::Violation::Kind k) {
  switch (k) {
    case grid::Violation::Kind::thermal:
      return "thermal";
    case grid::Violation::Kind::voltage_low:
      return "voltage_low";
    case grid::Violation::Kind::voltage_high:
      return "voltage_high";
  }
  return "?";
}

json violations_json(const grid::Network& net, const std::vector<grid::Violation>& vs) {
  json out = json::array();
  for (const auto& v : vs) {
    json j = {{"kind", kind_name(v.kind)}, {"value", v.value}, {"limit", v.limit}};
    if (v.kind == grid::Violation::Kind::thermal) {
      j["branch"] = v.element;
      j["from"] = net.branches[v.element].from;
      j["to"] = net.branches[v.element].to;
    } else {
      j["bus"] = net.buses[v.element].id;
    }
    out.push_back(std::move(j));
  }
  return out;
}

// Finds a branch by index or by its ends ({"from","to"}), naming `field` when it does not exist.
std::size_t branch_ref(const grid::Network& net, const json& j, const std::string& field) {
  if (j.is_number_integer()) {
    const auto k = j.get<std::int64_t>();
    if (k < 0 || static_cast<std::size_t>(k) >= net.branches.size()) {
      throw Error(ErrorKind::unprocessable, "no branch with this index", field);
    }
    return static_cast<std::size_t>(k);
  }
  if (j.is_object() && j.contains("from") && j.contains("to") && j["from"].is_number_integer() &&
      j["to"].is_number_integer()) {
    for (std::size_t k = 0; k < net.branches.size(); ++k) {
      if (net.branches[k].from == j["from"].get<std::int64_t>() &&
          net.branches[k].to == j["to"].get<std::int64_t>()) {
        return k;
      }
    }
    throw Error(ErrorKind::unprocessable, "no branch between these buses", field);
  }
  throw Error(ErrorKind::unprocessable, "must be a branch index or {\"from\", \"to\"}", field);
}

double number(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key) || !j[key].is_number() || !std::isfinite(j[key].get<double>())) {
    throw Error(ErrorKind::unprocessable, "must be a number", path + "." + key);
  }
  return j[key].get<double>();
}

// What-if changes applied to a copy of the model:
//   {"type":"scale_load","factor":1.1}                    every load (or "buses": [ids])
//   {"type":"set_load","bus":ID,"pd_mw":…,"qd_mvar":…}
//   {"type":"outage","branch":INDEX|{"from","to"}}
//   {"type":"set_generator","generator":INDEX,"pg_mw"?,"vg_pu"?,"in_service"?}
void apply_changes(grid::Network& net, const json& changes) {
  if (!changes.is_array()) throw Error(ErrorKind::unprocessable, "must be an array", "changes");
  std::map<std::int64_t, std::size_t> bus_index;
  for (std::size_t k = 0; k < net.buses.size(); ++k) bus_index[net.buses[k].id] = k;
  auto bus_of = [&](const json& j, const std::string& path) {
    if (!j.is_number_integer() || !bus_index.count(j.get<std::int64_t>())) {
      throw Error(ErrorKind::unprocessable, "is not a bus of the model", path);
    }
    return bus_index.at(j.get<std::int64_t>());
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const auto& c = changes[i];
    const std::string path = "changes[" + std::to_string(i) + "]";
    if (!c.is_object() || !c.contains("type") || !c["type"].is_string()) {
      throw Error(ErrorKind::unprocessable, "must be an object with a type", path);
    }
    const std::string type = c["type"].get<std::string>();
    if (type == "scale_load") {
      const double f = number(c, "factor", path);
      if (f < 0 || f > 100)
        throw Error(ErrorKind::unprocessable, "must be 0–100", path + ".factor");
      std::set<std::size_t> which;
      if (c.contains("buses")) {
        if (!c["buses"].is_array())
          throw Error(ErrorKind::unprocessable, "must be an array", path + ".buses");
        for (const auto& b : c["buses"]) which.insert(bus_of(b, path + ".buses"));
      }
      for (std::size_t k = 0; k < net.buses.size(); ++k) {
        if (!which.empty() && !which.count(k)) continue;
        net.buses[k].pd *= f;
        net.buses[k].qd *= f;
      }
    } else if (type == "set_load") {
      auto& b = net.buses[bus_of(c.value("bus", json()), path + ".bus")];
      if (c.contains("pd_mw")) b.pd = number(c, "pd_mw", path);
      if (c.contains("qd_mvar")) b.qd = number(c, "qd_mvar", path);
    } else if (type == "outage") {
      net.branches[branch_ref(net, c.value("branch", json()), path + ".branch")].in_service = false;
    } else if (type == "set_generator") {
      const auto& g = c.value("generator", json());
      if (!g.is_number_integer() || g.get<std::int64_t>() < 0 ||
          static_cast<std::size_t>(g.get<std::int64_t>()) >= net.gens.size()) {
        throw Error(ErrorKind::unprocessable, "no generator with this index", path + ".generator");
      }
      auto& gen = net.gens[static_cast<std::size_t>(g.get<std::int64_t>())];
      if (c.contains("pg_mw")) gen.pg = number(c, "pg_mw", path);
      if (c.contains("vg_pu")) {
        gen.vg = number(c, "vg_pu", path);
        if (!(gen.vg > 0.5 && gen.vg < 1.5)) {
          throw Error(ErrorKind::unprocessable, "must be 0.5–1.5", path + ".vg_pu");
        }
      }
      if (c.contains("in_service")) {
        if (!c["in_service"].is_boolean()) {
          throw Error(ErrorKind::unprocessable, "must be true or false", path + ".in_service");
        }
        gen.in_service = c["in_service"].get<bool>();
      }
    } else {
      throw Error(ErrorKind::unprocessable,
                  "type must be scale_load, set_load, outage or set_generator", path + ".type");
    }
  }
}

grid::PowerFlowOptions pf_options(const json& body) {
  grid::PowerFlowOptions opt;
  const std::string method = body.value("method", "nr");
  if (method == "fdxb") {
    opt.method = grid::Method::fast_decoupled_xb;
    opt.max_iterations = 100;
  } else if (method != "nr") {
    throw Error(ErrorKind::unprocessable, "must be nr or fdxb", "method");
  }
  if (body.contains("start")) {
    const auto start = body["start"].is_string()
                           ? grid::start_from_name(body["start"].get<std::string>())
                           : std::nullopt;
    if (!start) throw Error(ErrorKind::unprocessable, "must be auto, case or dc", "start");
    opt.start = *start;
  }
  if (body.contains("enforce_q_limits")) {
    if (!body["enforce_q_limits"].is_boolean()) {
      throw Error(ErrorKind::unprocessable, "must be true or false", "enforce_q_limits");
    }
    opt.enforce_q_limits = body["enforce_q_limits"].get<bool>();
  }
  return opt;
}

json result_json(const grid::Network& net, const grid::PowerFlowResult& r) {
  json buses = json::array(), branches = json::array(), gens = json::array();
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    buses.push_back({{"id", net.buses[k].id}, {"vm_pu", r.vm[k]}, {"va_deg", r.va_deg[k]}});
  }
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& br = net.branches[k];
    const auto& f = r.flows[k];
    const double s = std::max(std::hypot(f.p_from, f.q_from), std::hypot(f.p_to, f.q_to));
    branches.push_back({{"index", k},
                        {"from", br.from},
                        {"to", br.to},
                        {"in_service", br.in_service},
                        {"p_from_mw", f.p_from},
                        {"q_from_mvar", f.q_from},
                        {"p_to_mw", f.p_to},
                        {"q_to_mvar", f.q_to},
                        {"loading", br.rate_a > 0 ? json(s / br.rate_a) : json(nullptr)}});
  }
  for (std::size_t g = 0; g < net.gens.size(); ++g) {
    gens.push_back(
        {{"index", g}, {"bus", net.gens[g].bus}, {"pg_mw", r.pg[g]}, {"qg_mvar", r.qg[g]}});
  }
  json out = {{"converged", r.converged},       {"iterations", r.iterations},
              {"max_mismatch", r.max_mismatch}, {"time_ms", r.seconds * 1e3},
              {"losses_mw", r.losses_mw},       {"buses", buses},
              {"branches", branches},           {"generators", gens}};
  if (!r.switched_to_pq.empty()) out["switched_to_pq"] = r.switched_to_pq;
  if (r.slack_mw != 0) out["slack_mw"] = r.slack_mw;
  if (r.converged) {
    out["violations"] = violations_json(net, grid::find_violations(net, r, 1.0));
  } else {
    out["message"] = r.message;
  }
  return out;
}

// Where a device measures, from its `element`: "bus:<id>" (a meter at a bus; power drawn at the
// bus is positive) or "branch:<from>-<to>:from|to" (a meter on a branch at one end; power flowing
// into the branch is positive). Anything else is not a state-estimation input.
struct Placement {
  bool branch = false;
  std::size_t index = 0;  // bus or branch index
  bool at_from = true;
};

std::optional<Placement> placement(const grid::Network& net, const std::string& element) {
  auto num = [](std::string_view s, std::int64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  std::string_view e = element;
  if (e.starts_with("bus:")) {
    std::int64_t id = 0;
    if (!num(e.substr(4), id)) return std::nullopt;
    for (std::size_t k = 0; k < net.buses.size(); ++k) {
      if (net.buses[k].id == id) return Placement{false, k, true};
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
  if (!num(e.substr(0, dash), f) || !num(e.substr(dash + 1, colon - dash - 1), t))
    return std::nullopt;
  const auto end = e.substr(colon + 1);
  if (end != "from" && end != "to") return std::nullopt;
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    if (net.branches[k].from == f && net.branches[k].to == t)
      return Placement{true, k, end == "from"};
  }
  return std::nullopt;
}

HttpResponse state_response(ApiContext& ctx, const std::string& origin, core::TimeUs max_age) {
  std::int64_t id = 0;
  const auto net = active(ctx, &id);
  const auto devices = ctx.store.devices();
  const auto now = core::now_us();
  std::unordered_map<std::int64_t, std::size_t> bus_index;
  for (std::size_t k = 0; k < net->buses.size(); ++k) bus_index[net->buses[k].id] = k;
  std::vector<grid::Measurement> ms;
  std::vector<std::string> source;  // device of each measurement
  std::size_t used = 0;
  for (const auto& latest : ctx.store.latest_all(origin)) {
    const auto d = devices->find(latest.device);
    if (d == devices->end()) continue;
    const auto where = placement(*net, d->second.element);
    if (!where || now - latest.record.ts > max_age) continue;
    const auto derived = core::derive(latest.record.values);
    if (!std::isfinite(derived.v_avg) || !std::isfinite(derived.p_total) ||
        !std::isfinite(derived.q_total)) {
      continue;
    }
    ++used;
    using K = grid::Measurement::Kind;
    const double base_w = net->base_mva * 1e6;
    std::size_t bus = where->index;
    if (where->branch) {
      const auto& br = net->branches[where->index];
      bus = bus_index.at(where->at_from ? br.from : br.to);
    }
    // Default accuracies: 0.4 % on |V|, 1 % of the base on P and Q.
    ms.push_back({K::vm, bus, derived.v_avg / d->second.nominal_voltage, 0.004});
    source.push_back(latest.device);
    if (where->branch) {
      ms.push_back({where->at_from ? K::p_flow_from : K::p_flow_to, where->index,
                    derived.p_total / base_w, 0.01});
      ms.push_back({where->at_from ? K::q_flow_from : K::q_flow_to, where->index,
                    derived.q_total / base_w, 0.01});
    } else {
      ms.push_back({K::p_injection, bus, -derived.p_total / base_w, 0.01});
      ms.push_back({K::q_injection, bus, -derived.q_total / base_w, 0.01});
    }
    source.push_back(latest.device);
    source.push_back(latest.device);
  }
  const auto t0 = std::chrono::steady_clock::now();
  grid::EstimationResult e;
  try {
    e = grid::estimate_state(*net, ms);
  } catch (const grid::NetworkError& err) {
    throw Error(
        ErrorKind::unprocessable,
        std::string(err.what()) + " (" + std::to_string(used) + " device(s) placed on the model)",
        "measurements");
  }
  json buses = json::array(), removed = json::array();
  for (std::size_t k = 0; k < net->buses.size(); ++k) {
    buses.push_back({{"id", net->buses[k].id}, {"vm_pu", e.vm[k]}, {"va_deg", e.va_deg[k]}});
  }
  static constexpr const char* kKinds[] = {
      "vm", "p_injection", "q_injection", "p_flow_from", "q_flow_from", "p_flow_to", "q_flow_to"};
  for (auto r : e.removed) {
    removed.push_back({{"device", source[r]}, {"kind", kKinds[static_cast<int>(ms[r].kind)]}});
  }
  json out = {
      {"network_id", id},
      {"origin", origin},
      {"devices", used},
      {"measurements", ms.size()},
      {"converged", e.converged},
      {"iterations", e.iterations},
      {"objective", e.objective},
      {"chi2_limit", e.chi2_limit},
      {"bad_data_detected", e.bad_data_detected},
      {"removed", removed},
      {"time_ms",
       std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()},
      {"buses", buses}};
  if (!e.converged) out["message"] = e.message;
  return json_response(200, dump_json(out));
}

}  // namespace

void add_network_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/grid/state", Permission::read, [&ctx](HttpRequest& req, Reply reply) {
    const std::string origin = req.arg("origin").value_or(std::string(core::kOriginReal));
    if (!core::valid_origin(origin)) {
      throw Error(ErrorKind::bad_request, "origin must be \"real\" or \"sim:<run>\"", "origin");
    }
    const auto max_age =
        int_arg(req, "max_age_s", 1, 30 * 86400).value_or(900) * core::kUsPerSecond;
    offload_study(ctx, req, std::move(reply), [&ctx, origin, max_age](const StudyControl&) {
      return state_response(ctx, origin, max_age);
    });
  });
  router.add(
      "POST", "/api/grid/networks", Permission::write,
      [&ctx](HttpRequest& req, Reply reply) {
        // MATPOWER (text) or the JSON network format, by Content-Type or ?format=.
        std::string format = req.arg("format").value_or("");
        if (format.empty()) {
          format = req.header("content-type").starts_with("application/json") ? "json" : "matpower";
        }
        if (format != "json" && format != "matpower") {
          throw Error(ErrorKind::bad_request, "must be json or matpower", "format");
        }
        // Parsing and checking a large model takes a while (and ~50× its size in memory while
        // the JSON tree is built): off the I/O thread, one upload at a time.
        static std::atomic<bool> parsing{false};
        if (parsing.exchange(true)) {
          throw Error(ErrorKind::unavailable, "another network upload is being processed", "", 5);
        }
        struct Release {  // the next upload may start once this one's parse is over
          ~Release() { parsing = false; }
        };
        offload(ctx, req, std::move(reply),
                [&ctx, format, body = std::move(req.body), name = req.arg("name"),
                 who = req.principal.actor(), parse = std::make_shared<Release>()]() mutable {
                  const auto parsed = std::move(parse);  // released when this job returns
                  auto net = std::make_shared<grid::Network>();
                  try {
                    *net = format == "json" ? grid::io::parse_network_json(body)
                                            : grid::io::parse_matpower(body, "upload");
                    grid::PowerFlow check(*net);  // islands, references: refuse the unsolvable
                  } catch (const grid::NetworkError& e) {
                    throw Error(ErrorKind::unprocessable, e.what(), "body");
                  }
                  if (name) net->name = *name;
                  if (net->name.empty()) net->name = "network";
                  const auto id = ctx.networks->add(net->name, grid::io::network_to_json(*net), who,
                                                    core::now_us());
                  {
                    std::lock_guard lock(ctx.network->mu);
                    ctx.network->id = id;
                    ctx.network->network = net;
                  }
                  return json_response(201, dump_json({{"id", id},
                                                       {"name", net->name},
                                                       {"buses", net->buses.size()},
                                                       {"branches", net->branches.size()},
                                                       {"generators", net->gens.size()},
                                                       {"active", true}}));
                });
      },
      Router::kLargeBody);
  router.add("GET", "/api/grid/networks", Permission::read, [&ctx](HttpRequest& req, Reply reply) {
    offload(ctx, req, std::move(reply), [&ctx] {
      json items = json::array();
      for (const auto& v : ctx.networks->list()) {
        items.push_back({{"id", v.id},
                         {"name", v.name},
                         {"uploaded_at", core::format_rfc3339(v.uploaded_at)},
                         {"uploaded_by", v.uploaded_by},
                         {"active", v.active}});
      }
      return json_response(200, dump_json({{"items", items}}));
    });
  });
  router.add("GET", "/api/grid/network", Permission::read, [&ctx](HttpRequest& req, Reply reply) {
    std::int64_t id = 0;
    auto net = active(ctx, &id);
    offload(ctx, req, std::move(reply), [net = std::move(net), id] {
      auto r = json_response(200, grid::io::network_to_json(*net));
      r.headers.emplace_back("X-Network-Id", std::to_string(id));
      return r;
    });
  });
  router.add("POST", "/api/grid/powerflow", Permission::run, [&ctx](HttpRequest& req, Reply reply) {
    const json body = json_object_body(req.body, true);
    const auto opt = pf_options(body);
    const std::string slack = body.value("slack", "single");
    if (slack != "single" && slack != "distributed") {
      throw Error(ErrorKind::unprocessable, "must be single or distributed", "slack");
    }
    // The what-if copy of the model is made with the solve, off the I/O thread.
    offload_study(
        ctx, req, std::move(reply),
        [base = active(ctx), body, opt, distributed = slack == "distributed"](const StudyControl&) {
          grid::Network net = *base;
          if (body.contains("changes")) apply_changes(net, body["changes"]);
          try {
            grid::PowerFlow pf(net, distributed);
            return json_response(200, dump_json(result_json(net, pf.solve(opt))));
          } catch (const grid::NetworkError& e) {
            throw Error(ErrorKind::unprocessable, e.what(), "changes");
          }
        });
  });
  router.add(
      "POST", "/api/grid/contingency", Permission::run, [&ctx](HttpRequest& req, Reply reply) {
        const json body = json_object_body(req.body, true);
        const auto net = active(ctx);
        grid::ContingencyOptions opt;
        opt.power_flow = pf_options(body);
        opt.threads = 1;  // one study thread
        if (body.contains("branches")) {
          if (!body["branches"].is_array())
            throw Error(ErrorKind::unprocessable, "must be an array", "branches");
          for (std::size_t i = 0; i < body["branches"].size(); ++i) {
            opt.branches.push_back(
                branch_ref(*net, body["branches"][i], "branches[" + std::to_string(i) + "]"));
          }
        }
        if (body.contains("loading_limit")) {
          opt.loading_limit = number(body, "loading_limit", "body");
          if (!(opt.loading_limit > 0))
            throw Error(ErrorKind::unprocessable, "must be positive", "loading_limit");
        }
        offload_study(ctx, req, std::move(reply), [net, opt](const StudyControl& control) mutable {
          std::optional<std::string> stopped;
          opt.stop = [&] {
            stopped = control.stop_reason();
            return stopped.has_value();
          };
          const auto rep = grid::run_n1(*net, opt);
          json outages = json::array();
          for (const auto& c : rep.outages) {
            json o = {{"branch", c.branch},
                      {"from", net->branches[c.branch].from},
                      {"to", net->branches[c.branch].to},
                      {"converged", c.converged},
                      {"islanded", c.islanded},
                      {"iterations", c.iterations},
                      {"violations", violations_json(*net, c.violations)}};
            if (c.islanded) o["islanded_buses"] = c.islanded_buses;
            if (!c.message.empty()) o["message"] = c.message;
            outages.push_back(std::move(o));
          }
          json base = {{"converged", rep.base.converged}, {"iterations", rep.base.iterations}};
          if (rep.base.converged)
            base["violations"] =
                violations_json(*net, grid::find_violations(*net, rep.base, opt.loading_limit));
          json out = {{"base", base},
                      {"outages", outages},
                      {"complete", rep.complete},
                      {"time_ms", rep.seconds * 1e3}};
          if (!rep.complete && stopped) out["stopped"] = *stopped;
          return json_response(200, dump_json(out));
        });
      });
}

}  // namespace remhart::api
