#pragma once
// Fast JSON output for the hot paths (samples, series); nlohmann is used elsewhere.
#include <span>
#include <string>
#include <string_view>

#include "core/measurement.hpp"
#include "store/store.hpp"

namespace remhart::api {

void append_json_string(std::string& out, std::string_view s);
/// Shortest round-trip form; NaN and infinities become null.
void append_json_number(std::string& out, double v);

/// A stored sample as returned by queries (SPEC §16): sample fields, derived values, origin.
void append_sample_json(std::string& out, std::string_view device, std::string_view origin,
                        const core::Record& r);
std::string sample_json(const store::StoredSample& s);

}  // namespace remhart::api
