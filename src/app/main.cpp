// remhart: the command line. Exit codes: 0 ok, 1 failure, 2 usage.
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/admin_cli.hpp"
#include "app/config.hpp"
#include "app/data_cli.hpp"
#include "app/powerflow_cli.hpp"
#include "app/serve.hpp"
#include "app/simulate_cli.hpp"
#include "app/train_cli.hpp"
#include "core/allocator.hpp"

int main(int argc, char** argv) {
  remhart::tune_allocator();
  using remhart::app::Config;
  CLI::App app{"REMHART Twin: a real-time digital twin of an electrical distribution grid"};
  app.require_subcommand(1);

  std::optional<std::string> config_file;
  std::vector<std::pair<std::string, std::string>> overrides;

  auto* serve = app.add_subcommand("serve", "Run the server (HTTP API and live stream)");
  std::string host, data_dir, durability, tls_cert, tls_key, mqtt_url, database_url;
  std::int64_t port = -1;
  bool no_demo = false;
  serve->add_option("--config", config_file, "Configuration file (remhart.toml)");
  serve->add_option("--host", host, "Address to listen on (default 127.0.0.1)");
  serve->add_option("--port", port, "Port to listen on; 0 picks a free one (default 8080)");
  serve->add_option("--data-dir", data_dir, "Data directory (default ./data)");
  serve->add_option("--durability", durability, "normal (survives a crash) or fsync (power loss)");
  serve->add_flag("--no-demo", no_demo, "Do not start the demo simulation run");
  serve->add_option("--tls-cert", tls_cert, "PEM certificate chain: serve HTTPS and WSS");
  serve->add_option("--mqtt-url", mqtt_url,
                    "Broker to ingest measurements from: mqtt[s]://host[:port] (docs/mqtt.md)");
  serve->add_option("--tls-key", tls_key, "PEM private key for --tls-cert");
  serve->add_option("--database-url", database_url,
                    "Store measurements in MariaDB/MySQL: mariadb://user:password@host:port/db "
                    "(docs/scale-out.md); default: SQLite in the data directory");

  auto* version = app.add_subcommand("version", "Print the version");
  bool version_json = false;
  version->add_flag("--json", version_json, "Machine-readable output");

  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  auto* check =
      config->add_subcommand("check", "Load and validate the configuration, then print it");
  bool check_json = false;
  check->add_option("--config", config_file, "Configuration file (remhart.toml)");
  check->add_flag("--json", check_json, "Machine-readable output");

  auto* powerflow = app.add_subcommand(
      "powerflow",
      "Solve an AC power flow of a MATPOWER case (.m) or JSON network (.json) and print it");
  std::string pf_file, pf_method = "nr", pf_start = "auto";
  bool pf_json = false, pf_qlim = false;
  powerflow->add_option("file", pf_file, "MATPOWER case file (version 2) or JSON network")
      ->required();
  powerflow->add_flag("--json", pf_json, "Print the whole solution as JSON");
  powerflow->add_flag("--enforce-q-limits", pf_qlim,
                      "Hold generators at their reactive limits (PV buses become PQ)");
  powerflow
      ->add_option("--method", pf_method,
                   "Solver: nr (Newton-Raphson) or fdxb (fast-decoupled, XB)")
      ->capture_default_str();
  powerflow
      ->add_option("--start", pf_start,
                   "Starting point: auto (the better of the case's voltages and a DC estimate), "
                   "case (the case's voltages, as MATPOWER) or dc")
      ->capture_default_str();

  auto* simulate = app.add_subcommand(
      "simulate", "Run the physics simulator on the demo twin and write labelled samples");
  remhart::app::SimulateArgs sim_args;
  simulate->add_option("--scenario", sim_args.scenario, "Scenario id (see docs/simulator.md)")
      ->capture_default_str();
  simulate->add_option("--duration", sim_args.duration, "Simulated time: 3600, 90m, 6h, 1d")
      ->capture_default_str();
  simulate->add_option("--step", sim_args.step, "Time between samples: 1, 1s, 10s, 1m")
      ->capture_default_str();
  simulate->add_option("--seed", sim_args.seed, "Random seed (same seed, same samples)")
      ->capture_default_str();
  simulate->add_option("--start", sim_args.start,
                       "First sample's time, RFC 3339 or Unix ms (default: duration before now)");
  simulate->add_option("--twin", sim_args.twin, "Twin file (default: the demo feeder)");
  simulate->add_option("--param", sim_args.params, "Scenario parameter NAME=VALUE (repeatable)");
  simulate->add_option("--mode", sim_args.mode, "Into the store: backfill, accelerated or realtime")
      ->capture_default_str();
  simulate->add_option("--out", sim_args.out,
                       "Output file, .csv or .ndjson (without it: a run into the data directory)");
  simulate->add_option("--config", config_file, "Configuration file (remhart.toml)");
  simulate->add_option("--data-dir", data_dir, "Data directory (default ./data)");
  simulate->add_flag("--quiet", sim_args.quiet, "No progress or summary");

  auto* train = app.add_subcommand(
      "train", "Train the analytics models on simulated data and publish them to the registry");
  remhart::app::TrainArgs train_args;
  train->add_option("--seed", train_args.seed, "Random seed of the training plan");
  train->add_option("--scale", train_args.scale, "Runs per scenario, × (1 = the default set)");
  train->add_option("--threads", train_args.threads, "Worker threads (0 = every core)");
  train->add_option("--run-minutes", train_args.run_minutes,
                    "Length of each simulated run (default 30; shorter for a quick try)");
  train->add_option("--config", config_file, "Configuration file (remhart.toml)");
  train->add_option("--data-dir", data_dir, "Data directory (default ./data)");
  train->add_flag("--quiet", train_args.quiet, "No progress or summary");

  remhart::app::Action admin_action;
  remhart::app::add_admin_commands(app, admin_action, config_file, data_dir);
  remhart::app::add_data_commands(app, admin_action, config_file, data_dir);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (*version) {
    if (version_json) {
      std::cout << nlohmann::json{{"version", REMHART_VERSION}}.dump() << "\n";
    } else {
      std::cout << "remhart " << REMHART_VERSION << "\n";
    }
    return 0;
  }

  if (*powerflow)
    return remhart::app::run_powerflow(pf_file, pf_json, pf_method, pf_start, pf_qlim);
  if (*simulate && !sim_args.out.empty()) return remhart::app::run_simulate(sim_args);
  if (*train) {
    admin_action = [&train_args](const Config& c) {
      return remhart::app::run_train(c, train_args);
    };
  }
  if (*simulate) {
    admin_action = [&sim_args](const Config& c) {
      return remhart::app::run_simulate_store(c, sim_args);
    };
  }

  if (!host.empty()) overrides.emplace_back("server.host", host);
  if (port >= 0) overrides.emplace_back("server.port", std::to_string(port));
  if (!data_dir.empty()) overrides.emplace_back("storage.data_dir", data_dir);
  if (!durability.empty()) overrides.emplace_back("storage.durability", durability);
  if (no_demo) overrides.emplace_back("demo.enabled", "false");
  if (!tls_cert.empty()) overrides.emplace_back("server.tls_cert", tls_cert);
  if (!tls_key.empty()) overrides.emplace_back("server.tls_key", tls_key);
  if (!mqtt_url.empty()) overrides.emplace_back("mqtt.url", mqtt_url);
  if (!database_url.empty()) overrides.emplace_back("storage.database_url", database_url);

  Config cfg;
  try {
    cfg = remhart::app::load_config(
        config_file, [](const char* n) { return std::getenv(n); }, overrides);
  } catch (const remhart::app::ConfigError& e) {
    std::cerr << "remhart: configuration error: " << e.what() << "\n";
    return 2;
  }

  // Everything remhart creates in the data directory (database, keys, first password) is
  // private to its user.
  ::umask(077);
  if (admin_action) return admin_action(cfg);

  if (*check) {
    const auto items = remhart::app::describe(cfg);
    if (check_json) {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [k, v] : items) j[k] = v;
      std::cout << j.dump(2) << "\n";
    } else {
      for (const auto& [k, v] : items) std::cout << k << " = " << v << "\n";
      std::cout << "configuration OK\n";
    }
    return 0;
  }

  try {
    remhart::app::setup_logging(cfg);
    return remhart::app::serve(cfg);
  } catch (const std::exception& e) {
    spdlog::critical("remhart: {}", e.what());
    std::cerr << "remhart: " << e.what() << "\n";
    return 1;
  }
}
