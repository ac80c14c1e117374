#pragma once
// Parsing of measurement batches: JSON arrays, NDJSON, CSV with a header row, and the original
// single-point shape. Parsing is separate from validation against device ratings (validate.hpp).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/measurement.hpp"

namespace remhart::ingest {

/// A rejected item: its 0-based position in the batch, the field in JSON notation (`v[1]`, `f`;
/// empty when the whole item is bad) and, for CSV and NDJSON, the 1-based line.
struct ItemError {
  std::size_t index = 0;
  std::string field;
  std::string message;
  std::optional<std::size_t> line;
};

struct ParsedBatch {
  std::size_t items = 0;               ///< items seen, good and bad
  std::vector<core::Sample> samples;   ///< items that parsed
  std::vector<std::size_t> positions;  ///< batch index of each sample
  std::vector<std::size_t> lines;      ///< 1-based line of each sample (0 for JSON arrays)
  std::vector<ItemError> errors;

  /// A batch of samples that needed no parsing (simulation runs, the single-point shape).
  static ParsedBatch of(std::vector<core::Sample> samples);
};

enum class Format { json, ndjson, csv };

/// The batch format for a Content-Type header value (parameters such as charset ignored).
std::optional<Format> format_from_content_type(std::string_view content_type);

/// Parses a batch. Throws core::Error: bad_request when the body cannot be parsed at all,
/// too_large when it holds more than `max_items` items.
ParsedBatch parse_batch(std::string_view body, Format format, std::size_t max_items);

/// Parses the original single-point shape (`voltage{phaseA,phaseB,phaseC}` …). Sent averages and
/// totals are ignored. A missing timestamp means `now`. Throws core::Error (bad_request when
/// not JSON, unprocessable with the field otherwise).
core::Sample parse_legacy_point(std::string_view body, std::string device, core::TimeUs now);
/// A stored field's name (`v[1]`) in the original shape's terms (`voltage.phaseB`); other
/// names unchanged.
std::string legacy_field_name(const std::string& field);

}  // namespace remhart::ingest
