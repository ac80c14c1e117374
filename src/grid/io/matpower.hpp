#pragma once
// MATPOWER case files (format version 2): baseMVA, bus, gen and branch matrices. Everything else
// (gencost, bus names, areas) is skipped. Malformed input is refused with the line number.
#include <string>
#include <string_view>

#include "grid/network.hpp"

namespace remhart::grid::io {

/// Throws NetworkError("<name>:<line>: …").
Network parse_matpower(std::string_view text, const std::string& name = "case");
/// Reads and parses a file; the error names the path.
Network read_matpower(const std::string& path);

}  // namespace remhart::grid::io
