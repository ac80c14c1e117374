#pragma once
// REMHART's JSON network format (docs/network-format.md): import with errors naming the JSON
// path of the offending value, and export. Round trips exactly.
#include <string>
#include <string_view>

#include "grid/network.hpp"

namespace remhart::grid::io {

/// Throws NetworkError("buses[3].x_pu: must be a number").
Network parse_network_json(std::string_view text);
std::string network_to_json(const Network& net);

}  // namespace remhart::grid::io
