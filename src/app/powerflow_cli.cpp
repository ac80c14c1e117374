#include "app/powerflow_cli.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "grid/io/json_network.hpp"
#include "grid/io/matpower.hpp"
#include "grid/powerflow.hpp"

namespace remhart::app {

int run_powerflow(const std::string& file, bool json, const std::string& method,
                  const std::string& start, bool enforce_q_limits) {
  if (method != "nr" && method != "fdxb") {
    std::cerr << "remhart: --method must be nr (Newton-Raphson) or fdxb (fast-decoupled XB)\n";
    return 2;
  }
  const auto start_at = grid::start_from_name(start);
  if (!start_at) {
    std::cerr << "remhart: --start must be auto (the better of the case's voltages and a DC "
                 "estimate), case or dc\n";
    return 2;
  }
  grid::PowerFlowResult r;
  grid::Network net;
  try {
    if (file.ends_with(".json")) {
      std::ifstream in(file, std::ios::binary);
      if (!in) throw std::runtime_error(file + ": cannot be read");
      std::stringstream text;
      text << in.rdbuf();
      try {
        net = grid::io::parse_network_json(text.str());
      } catch (const grid::NetworkError& e) {
        throw std::runtime_error(file + ": " + e.what());
      }
    } else {
      net = grid::io::read_matpower(file);
    }
    grid::PowerFlow pf(net);
    grid::PowerFlowOptions opt;
    opt.enforce_q_limits = enforce_q_limits;
    opt.start = *start_at;
    if (method == "fdxb") {
      opt.method = grid::Method::fast_decoupled_xb;
      opt.max_iterations = 100;
    }
    r = pf.solve(opt);
  } catch (const std::exception& e) {
    std::cerr << "remhart: " << e.what() << "\n";
    return 1;
  }
  double gen = 0, load = 0;
  for (std::size_t g = 0; g < net.gens.size(); ++g) gen += net.gens[g].in_service ? r.pg[g] : 0;
  for (const auto& b : net.buses) load += b.pd;
  const auto [lo, hi] = std::minmax_element(r.vm.begin(), r.vm.end());
  const auto bus_of = [&](auto it) {
    return net.buses[static_cast<std::size_t>(it - r.vm.begin())].id;
  };
  if (json) {
    nlohmann::json buses = nlohmann::json::array();
    for (std::size_t k = 0; k < net.buses.size(); ++k) {
      buses.push_back({{"id", net.buses[k].id}, {"vm_pu", r.vm[k]}, {"va_deg", r.va_deg[k]}});
    }
    nlohmann::json out = {{"case", net.name},
                          {"method", method},
                          {"converged", r.converged},
                          {"iterations", r.iterations},
                          {"max_mismatch", r.max_mismatch},
                          {"time_ms", r.seconds * 1e3},
                          {"generation_mw", gen},
                          {"load_mw", load},
                          {"losses_mw", r.losses_mw},
                          {"vm_min", {{"bus", bus_of(lo)}, {"vm_pu", *lo}}},
                          {"vm_max", {{"bus", bus_of(hi)}, {"vm_pu", *hi}}},
                          {"buses", buses}};
    if (!r.converged) out["message"] = r.message;
    if (enforce_q_limits) out["switched_to_pq"] = r.switched_to_pq;
    std::cout << out.dump() << "\n";
  } else {
    std::printf("%s: %s in %d iterations, max mismatch %.3g p.u., %.3f ms\n", net.name.c_str(),
                r.converged ? "converged" : "NOT converged", r.iterations, r.max_mismatch,
                r.seconds * 1e3);
    if (!r.converged) std::printf("  %s\n", r.message.c_str());
    std::printf("%zu buses, %zu branches, %zu generators\n", net.buses.size(), net.branches.size(),
                net.gens.size());
    std::printf("generation %.3f MW, load %.3f MW, losses %.3f MW\n", gen, load, r.losses_mw);
    if (!r.switched_to_pq.empty()) {
      std::printf("held at reactive limits (PV -> PQ):");
      for (auto id : r.switched_to_pq) std::printf(" %lld", static_cast<long long>(id));
      std::printf("\n");
    }
    std::printf("voltage min %.5f p.u. (bus %lld), max %.5f p.u. (bus %lld)\n", *lo,
                static_cast<long long>(bus_of(lo)), *hi, static_cast<long long>(bus_of(hi)));
  }
  return r.converged ? 0 : 1;
}

}  // namespace remhart::app
