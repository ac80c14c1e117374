#include "app/train_cli.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "analytics/registry.hpp"
#include "analytics/training.hpp"
#include "app/serve.hpp"
#include "app/share_dir.hpp"
#include "core/time.hpp"
#include "sim/io/twin_json.hpp"

namespace remhart::app {

int run_train(const Config& config, const TrainArgs& args) {
  if (!(args.scale > 0 && args.scale <= 100)) {
    std::cerr << "remhart train: --scale must be in (0, 100]\n";
    return 2;
  }
  if (!(args.run_minutes >= 2 && args.run_minutes <= 1440)) {
    std::cerr << "remhart train: --run-minutes must be 2–1440\n";
    return 2;
  }
  if (args.threads < 0 || args.threads > 256) {
    std::cerr << "remhart train: --threads must be in 0–256\n";
    return 2;
  }
  try {
    const auto twin =
        sim::io::read_twin_file(config.sim_twin.empty() ? demo_twin_path() : config.sim_twin);
    const bool tty = ::isatty(STDERR_FILENO) != 0 && !args.quiet;
    const auto started = std::chrono::steady_clock::now();
    analytics::TrainOptions opt;
    opt.seed = args.seed;
    opt.scale = args.scale;
    opt.run_s = args.run_minutes * 60;
    opt.threads = args.threads > 0
                      ? args.threads
                      : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::string last_stage;
    opt.progress = [&](std::string_view stage, double fraction) {
      if (args.quiet) return;
      // Without a terminal: a line when a stage starts and when it ends, not one per run.
      if (!tty && stage == last_stage && fraction < 1) return;
      last_stage = stage;
      const int bar = static_cast<int>(fraction * 25);
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "%s[%-25.*s] %3d%%  %-32.*s %5.0f s%s", tty ? "\r" : "", bar,
                   "#########################", static_cast<int>(fraction * 100),
                   static_cast<int>(stage.size()), stage.data(), s, tty ? "" : "\n");
      std::fflush(stderr);
    };
    const auto models = analytics::train_models(twin, opt);
    if (tty) std::fprintf(stderr, "\n");
    const auto registry_ptr = open_models(config, open_objects(config));
    auto& registry = *registry_ptr;
    const auto now = core::now_us();
    for (const auto& m : models) {
      const int version = registry.publish(m, now);
      if (args.quiet) continue;
      std::printf("%-20s v%-3d", m.name.c_str(), version);
      for (const auto& t : m.card["targets"]) {
        std::printf("  %s %.3f (%s)%s", t["name"].get<std::string>().c_str(),
                    t["value"].get<double>(), t["target"].get<std::string>().c_str(),
                    t["met"].get<bool>() ? "" : " NOT MET");
      }
      std::printf("\n");
    }
    if (!args.quiet) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::printf("trained %zu models in %.0f s into %s\n", models.size(), s,
                  registry.where().c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "\nremhart train: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace remhart::app
