#pragma once
// `remhart powerflow FILE [--json] [--method nr]`: a standalone AC power-flow tool.
#include <string>

namespace remhart::app {

/// Returns the exit code: 0 converged, 1 not converged or the file was refused.
int run_powerflow(const std::string& file, bool json, const std::string& method);

}  // namespace remhart::app
