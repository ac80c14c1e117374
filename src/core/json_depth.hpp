#pragma once
// A bound on the nesting of JSON text from outside, checked before any parser builds a tree:
// a body of nested brackets otherwise costs memory in proportion to its depth.
#include <string_view>

namespace remhart::core {

/// Deepest nesting of arrays and objects any of our JSON inputs needs is far below this.
inline constexpr int kMaxJsonDepth = 64;

/// Whether arrays and objects in `text` nest deeper than `limit` (brackets inside strings do
/// not count). Scans at most until the limit is passed; malformed text is left to the parser.
bool json_too_deep(std::string_view text, int limit = kMaxJsonDepth);

}  // namespace remhart::core
