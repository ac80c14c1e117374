#pragma once
#include "app/config.hpp"

namespace remhart::app {

/// Runs the server until SIGINT/SIGTERM; returns the process exit code.
int serve(const Config& config);

/// Configures the global logger from the configuration.
void setup_logging(const Config& config);

}  // namespace remhart::app
