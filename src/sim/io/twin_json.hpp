#pragma once
// The twin file (docs/simulator.md): a JSON network plus loads, DER, capacitor banks, the
// substation transformer, system dynamics and measurement points. Errors name the JSON path.
#include <string>
#include <string_view>

#include "sim/twin.hpp"

namespace remhart::sim::io {

/// Parses and validates a twin; throws grid::NetworkError("loads[2].peak_kw: …").
Twin parse_twin_json(std::string_view text);

/// Reads a twin file; throws grid::NetworkError naming the file.
Twin read_twin_file(const std::string& path);

}  // namespace remhart::sim::io
