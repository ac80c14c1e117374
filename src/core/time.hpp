#pragma once
// Time is UTC microseconds since the Unix epoch everywhere inside; conversion happens only here.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace remhart::core {

using TimeUs = std::int64_t;

inline constexpr TimeUs kUsPerSecond = 1'000'000;

/// Current wall-clock time in UTC microseconds.
TimeUs now_us();

/// Parses RFC 3339 (`2026-11-28T10:00:00.123456Z`, offsets `+HH:MM` allowed, fraction up to
/// 9 digits, truncated to microseconds). Returns nullopt on anything malformed.
std::optional<TimeUs> parse_rfc3339(std::string_view s);

/// Parses a time parameter: RFC 3339 or Unix milliseconds (an integer).
std::optional<TimeUs> parse_time_param(std::string_view s);

/// Formats as RFC 3339 UTC with exactly six fractional digits.
std::string format_rfc3339(TimeUs t);
/// Appends the same text to `out` (no allocation beyond the append).
void append_rfc3339(std::string& out, TimeUs t);

/// Parses a step: plain seconds (`900`) or a duration (`10s`, `1m`, `15m`, `1h`, `1d`).
/// Returns microseconds, or nullopt when malformed or not positive.
std::optional<TimeUs> parse_duration(std::string_view s);

}  // namespace remhart::core
