#pragma once
// `remhart user …`, `remhart device-key …` and `remhart token-key rotate`: identity
// administration on the data directory, without a running server (a running one picks the
// changes up within a second).
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
}

namespace remhart::app {

struct Config;

/// What the parsed command line asks for: set by a subcommand's callback, run by main with the
/// loaded configuration. Returns the exit code.
using Action = std::function<int(const Config&)>;

/// Registers the subcommands on `app`; their --config and --data-dir land in `config_file` and
/// `data_dir`.
void add_admin_commands(CLI::App& app, Action& action, std::optional<std::string>& config_file,
                        std::string& data_dir);

}  // namespace remhart::app
