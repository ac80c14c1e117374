#include "api/grid_json.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/time.hpp"
#include "grid/io/what_if_json.hpp"

namespace remhart::api {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

namespace {
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

}  // namespace

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

grid::PowerFlowOptions power_flow_options(const json& body) {
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

grid::ContingencyOptions contingency_options(const grid::Network& net, const json& body) {
  grid::ContingencyOptions opt;
  opt.power_flow = power_flow_options(body);
  if (body.contains("branches")) {
    if (!body["branches"].is_array()) {
      throw Error(ErrorKind::unprocessable, "must be an array", "branches");
    }
    for (std::size_t i = 0; i < body["branches"].size(); ++i) {
      const std::string field = "branches[" + std::to_string(i) + "]";
      opt.branches.push_back(
          grid::find_branch(net, grid::io::parse_branch_ref(body["branches"][i], field), field));
    }
  }
  if (body.contains("loading_limit")) {
    const auto& v = body["loading_limit"];
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      throw Error(ErrorKind::unprocessable, "must be a number", "body.loading_limit");
    }
    opt.loading_limit = v.get<double>();
    if (!(opt.loading_limit > 0)) {
      throw Error(ErrorKind::unprocessable, "must be positive", "loading_limit");
    }
  }
  return opt;
}

namespace {

// Every branch's flows at both ends and its loading (the larger end's MVA over its rating).
json branches_json(const grid::Network& net, const std::vector<grid::BranchFlow>& flows) {
  json branches = json::array();
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& br = net.branches[k];
    const auto& f = flows[k];
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
  return branches;
}

}  // namespace

json power_flow_json(const grid::Network& net, const grid::PowerFlowResult& r) {
  json buses = json::array(), gens = json::array();
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    buses.push_back({{"id", net.buses[k].id}, {"vm_pu", r.vm[k]}, {"va_deg", r.va_deg[k]}});
  }
  const json branches = branches_json(net, r.flows);
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

json contingency_json(const grid::Network& net, const grid::ContingencyReport& rep,
                      double loading_limit, const std::optional<std::string>& stopped) {
  json outages = json::array();
  for (const auto& c : rep.outages) {
    json o = {{"branch", c.branch},
              {"from", net.branches[c.branch].from},
              {"to", net.branches[c.branch].to},
              {"converged", c.converged},
              {"islanded", c.islanded},
              {"iterations", c.iterations},
              {"violations", violations_json(net, c.violations)}};
    if (c.islanded) o["islanded_buses"] = c.islanded_buses;
    if (!c.message.empty()) o["message"] = c.message;
    outages.push_back(std::move(o));
  }
  json base = {{"converged", rep.base.converged}, {"iterations", rep.base.iterations}};
  if (rep.base.converged) {
    base["violations"] = violations_json(net, grid::find_violations(net, rep.base, loading_limit));
  }
  json out = {{"base", base},
              {"outages", outages},
              {"complete", rep.complete},
              {"time_ms", rep.seconds * 1e3}};
  if (!rep.complete && stopped) out["stopped"] = *stopped;
  return out;
}

json estimation_json(const grid::Network& net, const grid::MeterMeasurements& meters,
                     std::span<const grid::Measurement> pseudo,
                     const std::vector<std::string>& devices, const grid::EstimationResult& e) {
  json buses = json::array(), removed = json::array();
  for (std::size_t k = 0; k < net.buses.size(); ++k) {
    json b = {{"id", net.buses[k].id}, {"vm_pu", e.vm[k]}, {"va_deg", e.va_deg[k]}};
    if (k < e.vm_sigma.size()) {
      b["vm_sigma_pu"] = e.vm_sigma[k];
      b["va_sigma_deg"] = e.va_sigma_deg[k];
    }
    buses.push_back(std::move(b));
  }
  static constexpr const char* kKinds[] = {
      "vm", "p_injection", "q_injection", "p_flow_from", "q_flow_from", "p_flow_to", "q_flow_to"};
  for (auto r : e.removed) {
    if (r < meters.measurements.size()) {
      removed.push_back({{"device", devices[meters.reading_of[r]]},
                         {"kind", kKinds[static_cast<int>(meters.measurements[r].kind)]}});
    } else {  // a forecast the meters contradict
      const auto& m = pseudo[r - meters.measurements.size()];
      removed.push_back({{"pseudo", true},
                         {"bus", net.buses[m.element].id},
                         {"kind", kKinds[static_cast<int>(m.kind)]}});
    }
  }
  json out = {{"devices", meters.placed},
              {"measurements", meters.measurements.size()},
              {"converged", e.converged},
              {"iterations", e.iterations},
              {"objective", e.objective},
              {"chi2_limit", e.chi2_limit},
              {"bad_data_detected", e.bad_data_detected},
              {"removed", removed},
              {"buses", buses}};
  if (e.converged) {
    const auto flows = grid::branch_flows(net, e.vm, e.va_deg);
    out["losses_mw"] = flows.losses_mw;
    out["losses_sigma_mw"] = e.losses_sigma_mw;
    json branches = branches_json(net, flows.flows);
    for (std::size_t k = 0; k < branches.size() && k < e.p_from_sigma_mw.size(); ++k) {
      branches[k]["p_from_sigma_mw"] = e.p_from_sigma_mw[k];
      branches[k]["q_from_sigma_mvar"] = e.q_from_sigma_mvar[k];
      branches[k]["s_from_sigma_mva"] = e.s_from_sigma_mva[k];
      // The loading's deviation to first order: the from end's S over the rating (the two ends
      // differ by the losses, whose deviation is far smaller).
      const double rate = net.branches[k].rate_a;
      branches[k]["loading_sigma"] = rate > 0 ? json(e.s_from_sigma_mva[k] / rate) : json(nullptr);
    }
    out["branches"] = std::move(branches);
  } else {
    out["message"] = e.message;
  }
  return out;
}

json network_versions_json(const std::vector<store::NetworkVersion>& versions) {
  json items = json::array();
  for (const auto& v : versions) {
    items.push_back({{"id", v.id},
                     {"name", v.name},
                     {"uploaded_at", core::format_rfc3339(v.uploaded_at)},
                     {"uploaded_by", v.uploaded_by},
                     {"active", v.active}});
  }
  return {{"items", items}};
}

}  // namespace remhart::api
