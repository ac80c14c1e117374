#include "grid/contingency.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

namespace remhart::grid {

std::vector<Violation> find_violations(const Network& net, const PowerFlowResult& r,
                                       double loading_limit) {
  std::vector<Violation> out;
  for (std::size_t k = 0; k < net.branches.size(); ++k) {
    const auto& br = net.branches[k];
    if (!br.in_service || br.rate_a <= 0) continue;
    const auto& f = r.flows[k];
    const double s = std::max(std::hypot(f.p_from, f.q_from), std::hypot(f.p_to, f.q_to));
    const double loading = s / br.rate_a;
    if (loading > loading_limit) {
      out.push_back({Violation::Kind::thermal, k, loading, loading_limit});
    }
  }
  for (std::size_t b = 0; b < net.buses.size(); ++b) {
    const auto& bus = net.buses[b];
    if (bus.type == BusType::isolated) continue;
    if (r.vm[b] < bus.vmin) out.push_back({Violation::Kind::voltage_low, b, r.vm[b], bus.vmin});
    if (r.vm[b] > bus.vmax) out.push_back({Violation::Kind::voltage_high, b, r.vm[b], bus.vmax});
  }
  return out;
}

ContingencyReport run_n1(const Network& net, const ContingencyOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  ContingencyReport report;
  PowerFlow base(net);
  report.base = base.solve(opt.power_flow);
  if (!report.base.converged) return report;
  const auto base_v = base.voltages();

  std::vector<std::size_t> outages = opt.branches;
  if (outages.empty()) {
    for (std::size_t k = 0; k < net.branches.size(); ++k) {
      if (net.branches[k].in_service) outages.push_back(k);
    }
  }
  for (auto k : outages) {
    if (k >= net.branches.size()) throw NetworkError("no branch " + std::to_string(k + 1));
  }
  report.outages.resize(outages.size());

  unsigned threads = opt.threads ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = static_cast<unsigned>(
      std::min<std::size_t>(threads, std::max<std::size_t>(1, outages.size())));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stopped{false};
  std::vector<char> done(outages.size(), 0);
  auto work = [&](PowerFlow& pf) {
    for (;;) {
      if (stopped.load(std::memory_order_relaxed)) return;
      if (opt.stop && opt.stop()) {
        stopped = true;
        return;
      }
      const std::size_t i = next.fetch_add(1);
      if (i >= outages.size()) return;
      done[i] = 1;
      const std::size_t k = outages[i];
      ContingencyResult& c = report.outages[i];
      c.branch = k;
      if (!net.branches[k].in_service) {
        c.converged = true;  // nothing changes
        continue;
      }
      pf.set_branch_in_service(k, false);
      const auto cut = pf.unreachable_buses();
      if (!cut.empty()) {
        c.islanded = true;
        c.islanded_buses = cut.size();
        c.message =
            std::to_string(cut.size()) + " bus(es) lose their connection to a reference bus";
      } else {
        pf.set_voltages(base_v);  // every outage starts from the base case
        const auto r = pf.solve(opt.power_flow, true);
        c.converged = r.converged;
        c.iterations = r.iterations;
        c.message = r.message;
        if (r.converged) c.violations = find_violations(pf.network(), r, opt.loading_limit);
        if (opt.keep_voltages && r.converged) {
          c.vm = r.vm;
          c.va_deg = r.va_deg;
        }
      }
      pf.set_branch_in_service(k, true);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    pool.emplace_back([&] {
      PowerFlow pf(net);  // each worker compiles its own model
      work(pf);
    });
  }
  work(base);
  for (auto& t : pool) t.join();
  if (stopped) {
    report.complete = false;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < outages.size(); ++i) {
      if (done[i]) report.outages[kept++] = std::move(report.outages[i]);
    }
    report.outages.resize(kept);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace remhart::grid
