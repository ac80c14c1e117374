// Query parameters and times: query strings, percent-decoding, RFC 3339 / Unix milliseconds,
// durations, and the JSON nesting bound — one line of input each.
#include "api/http.hpp"
#include "core/json_depth.hpp"
#include "core/time.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto text = remhart::fuzz::text(data, size);
  while (!text.empty()) {
    const auto line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    (void)remhart::api::parse_query(line);
    (void)remhart::api::percent_decode(line);
    if (const auto t = remhart::core::parse_time_param(line)) {
      (void)remhart::core::format_rfc3339(*t);
    }
    (void)remhart::core::parse_rfc3339(line);
    (void)remhart::core::parse_duration(line);
    (void)remhart::core::json_too_deep(line, 8);
  }
  return 0;
}
