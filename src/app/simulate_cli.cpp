#include "app/simulate_cli.hpp"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "app/serve.hpp"
#include "app/share_dir.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "runs/simulation_runs.hpp"
#include "sim/engine.hpp"
#include "sim/io/twin_json.hpp"
#include "store/sim_repo.hpp"

namespace remhart::app {
namespace {

struct Usage : std::runtime_error {
  using std::runtime_error::runtime_error;
};

sim::ScenarioParams parse_params(const std::vector<std::string>& given) {
  sim::ScenarioParams p;
  for (const auto& kv : given) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Usage("--param " + kv + ": expected NAME=VALUE");
    }
    const auto name = kv.substr(0, eq), value = kv.substr(eq + 1);
    double x = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
    if (value == "true" || value == "false") {
      p.numbers[name] = value == "true" ? 1 : 0;
    } else if (ec == std::errc{} && ptr == value.data() + value.size()) {
      p.numbers[name] = x;
    } else {
      p.texts[name] = value;
    }
  }
  return p;
}

// --duration, --step and --start; the start defaults to a whole step, `duration` before now.
struct Span {
  core::TimeUs duration = 0, step = 0;
  std::optional<core::TimeUs> start;
};

Span parse_span(const SimulateArgs& a) {
  Span s;
  const auto duration = core::parse_duration(a.duration);
  if (!duration || *duration <= 0) throw Usage("--duration: expected e.g. 3600, 90m, 6h or 1d");
  const auto step = core::parse_duration(a.step);
  if (!step || *step <= 0) throw Usage("--step: expected e.g. 1, 1s, 10s or 1m");
  s.duration = *duration;
  s.step = *step;
  if (!a.start.empty()) {
    s.start = core::parse_time_param(a.start);
    if (!s.start) throw Usage("--start: expected RFC 3339 or Unix milliseconds");
  }
  return s;
}

void draw_progress(double progress, std::int64_t samples) {
  const int bar = static_cast<int>(progress * 25);
  std::fprintf(stderr, "\r[%-25.*s] %3d%%  %lld samples", bar, "#########################",
               static_cast<int>(progress * 100), static_cast<long long>(samples));
}

// Runs a command body: usage errors exit 2, other failures 1, each with the message.
int guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const Usage& e) {
    std::cerr << "remhart simulate: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "remhart simulate: " << e.what() << "\n";
    return 1;
  }
}

// Quantised values printed without binary noise (0.83, not 0.8300000000000001).
std::string num(double x) {
  return fmt::format("{:.10g}", x);
}

std::string triple(const std::array<double, 3>& x) {
  return num(x[0]) + "," + num(x[1]) + "," + num(x[2]);
}

}  // namespace

int run_simulate(const SimulateArgs& a) {
  return guarded([&] {
    const bool csv = a.out.ends_with(".csv");
    if (!csv && !a.out.ends_with(".ndjson")) throw Usage("--out must end in .csv or .ndjson");
    const auto span = parse_span(a);
    const auto start =
        span.start.value_or((core::now_us() - span.duration) / span.step * span.step);
    const auto twin = sim::io::read_twin_file(a.twin.empty() ? demo_twin_path() : a.twin);
    sim::Scenario scenario;
    try {
      scenario = sim::build_scenario(a.scenario, parse_params(a.params), twin);
    } catch (const sim::ParamError& e) {
      const auto field =
          e.field() == "scenario" ? std::string("--scenario") : "--param " + e.field().substr(7);
      throw Usage(field + ": " + e.what());
    }
    scenario.duration_s = static_cast<double>(span.duration) / core::kUsPerSecond;
    const double step_s = static_cast<double>(span.step) / core::kUsPerSecond;
    const auto steps = (span.duration + span.step - 1) / span.step;

    std::ofstream out(a.out, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(a.out + ": cannot be written");
    if (csv) {
      out << "device,ts,va,vb,vc,ia,ib,ic,pa,pb,pc,qa,qb,qc,f,thd_va,thd_vb,thd_vc,thd_ia,thd_ib,"
             "thd_ic,temp,event,severity,data_fault\n";
    }
    sim::Simulator engine(twin, scenario, {start, step_s, a.seed});
    const bool tty = !a.quiet && isatty(STDERR_FILENO);
    std::int64_t written = 0, last_percent = -1;
    for (std::int64_t s = 0; s < steps; ++s) {
      const auto& r = engine.step();
      const auto ts = core::format_rfc3339(r.ts);
      for (std::size_t d = 0; d < r.readings.size(); ++d) {
        const auto& rd = r.readings[d];
        if (!rd.present) continue;
        const auto& v = rd.values;
        const auto& id = twin.devices[d].device.id;
        const auto event = rd.label.event;
        const auto severity = sim::severity_name(rd.label.severity);
        const auto fault = sim::data_fault_name(rd.label.data_fault);
        if (csv) {
          out << id << ',' << ts << ',' << triple(v.v) << ',' << triple(v.i) << ',' << triple(v.p)
              << ',' << triple(v.q) << ',' << num(v.f) << ',' << triple(v.thd_v) << ','
              << triple(v.thd_i) << ',' << (core::is_present(v.temp) ? num(v.temp) : "") << ','
              << event << ',' << severity << ',' << fault << '\n';
        } else {
          out << "{\"device\":\"" << id << "\",\"ts\":\"" << ts << "\",\"v\":[" << triple(v.v)
              << "],\"i\":[" << triple(v.i) << "],\"p\":[" << triple(v.p) << "],\"q\":["
              << triple(v.q) << "],\"f\":" << num(v.f) << ",\"thd_v\":[" << triple(v.thd_v)
              << "],\"thd_i\":[" << triple(v.thd_i) << "]";
          if (core::is_present(v.temp)) out << ",\"temp\":" << num(v.temp);
          out << ",\"label\":{\"event\":\"" << event << "\",\"severity\":\"" << severity
              << "\",\"data_fault\":\"" << fault << "\"}}\n";
        }
        ++written;
      }
      const auto percent = (s + 1) * 100 / steps;
      if (tty && percent != last_percent) {
        last_percent = percent;
        draw_progress(static_cast<double>(percent) / 100, written);
      }
    }
    if (tty) std::fprintf(stderr, "\n");
    out.close();
    if (!out) throw std::runtime_error(a.out + ": write failed");
    if (!a.quiet) {
      std::cout << fmt::format("{} samples, {} steps of {} s, scenario {}, seed {} → {}\n", written,
                               steps, step_s, scenario.id, a.seed, a.out);
    }
    return 0;
  });
}

int run_simulate_store(const Config& c, const SimulateArgs& a) {
  return guarded([&] {
    const auto span = parse_span(a);
    DataDirLock lock(c.data_dir);
    Config cfg = c;
    if (!a.twin.empty()) cfg.sim_twin = a.twin;
    const auto twin = load_twin(cfg);
    const auto so = store_options(c);
    const auto store_ptr = open_store(c);
    store::Store& store = *store_ptr;
    ingest::IngestService ingest(store, ingest_options(c));
    const auto repo = open_sim_runs(c);
    mark_interrupted_runs(c, *repo);
    runs::SimulationRuns runs(store, ingest, *repo, twin, nullptr, 1, sim_budget(c));

    runs::RunRequest rq;
    rq.scenario = a.scenario;
    rq.mode = a.mode;
    rq.duration_s = static_cast<double>(span.duration) / core::kUsPerSecond;
    rq.step_s = static_cast<double>(span.step) / core::kUsPerSecond;
    rq.start = span.start;
    rq.seed = a.seed;
    rq.created_by = "cli";
    rq.params = parse_params(a.params);
    nlohmann::json given = nlohmann::json::object();
    for (const auto& [k, v] : rq.params.numbers) given[k] = v;
    for (const auto& [k, v] : rq.params.texts) given[k] = v;
    rq.params_json = given.dump();
    store::SimRun run;
    try {
      run = runs.start(rq);
    } catch (const core::Error& e) {
      if (e.kind() != core::ErrorKind::unprocessable) throw;
      const auto& f = e.field();
      const std::string option = f.starts_with("params.") ? "--param " + f.substr(7)
                                 : f == "duration_s"      ? "--duration"
                                 : f == "step_s"          ? "--step"
                                                          : "--" + f;
      std::string message = e.what();
      if (message.starts_with(f + ": ")) message.erase(0, f.size() + 2);
      throw Usage(option + ": " + message);
    }
    const bool tty = !a.quiet && isatty(STDERR_FILENO);
    for (;;) {
      const auto now = runs.get(run.id);
      if (!now) throw std::runtime_error("the run disappeared");
      run = *now;
      if (tty) draw_progress(run.progress, run.samples);
      if (run.status != "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (tty) std::fprintf(stderr, "\n");
    store.flush();
    if (run.status != "completed") {
      throw std::runtime_error("the run " + run.status + ": " + run.error);
    }
    if (!a.quiet) {
      std::cout << fmt::format(
          "run {} ({}): {} samples, {} rejected, {} steps of {} s, origin sim:{}\n", run.id,
          run.scenario, run.samples, run.rejected, run.steps, run.step_s, run.id);
    }
    return 0;
  });
}

}  // namespace remhart::app
