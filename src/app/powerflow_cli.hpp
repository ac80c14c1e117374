#pragma once
// `remhart powerflow FILE [--json] [--method nr|fdxb] [--start auto|case|dc]
// [--enforce-q-limits]`: a standalone AC power-flow tool.
#include <string>

namespace remhart::app {

/// Returns the exit code: 0 converged, 1 not converged or the file was refused.
int run_powerflow(const std::string& file, bool json, const std::string& method,
                  const std::string& start, bool enforce_q_limits);

}  // namespace remhart::app
