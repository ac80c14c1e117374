#pragma once
// `remhart export`, `remhart backup` and `remhart restore`: the data lifecycle from the command
// line (docs/operations.md).
#include <optional>
#include <string>

#include "app/admin_cli.hpp"

namespace CLI {
class App;
}

namespace remhart::app {

struct ExportArgs {
  std::string from, to;         ///< RFC 3339 or Unix milliseconds; [from, to)
  std::string device;           ///< empty: every device of the origin
  std::string origin = "real";  ///< real or sim:<run>
  std::string format = "csv";   ///< csv | ndjson
  std::string output;           ///< empty: standard output
};

/// Writes the samples of [from, to) — hot store and archive files alike, each sample once — as
/// CSV (the import format: device,ts,va,…) or NDJSON (the API's sample objects), device by device
/// in time order. With SQLite it needs the data directory to itself (the server stopped).
int run_export(const Config& c, const ExportArgs& a);

/// A consistent copy of everything the data directory and the database hold, taken while the
/// server runs: SQLite through its online backup API, MariaDB with `mariadb-dump
/// --single-transaction`, the other files (keys, models, archives) as they are. One tar file.
int run_backup(const Config& c, const std::string& file);

/// Brings a backup back into the data directory (and the configured MariaDB database). The
/// server must be stopped; an existing database is replaced only with `force`.
int run_restore(const Config& c, const std::string& file, bool force);

void add_data_commands(CLI::App& app, Action& action, std::optional<std::string>& config_file,
                       std::string& data_dir);

}  // namespace remhart::app
