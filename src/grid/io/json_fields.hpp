#pragma once
// Strict reading of one JSON object's fields for the file formats: errors name `path.key`,
// unknown keys are refused. Throws grid::NetworkError.
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "grid/network.hpp"

namespace remhart::grid::io {

// Reads fields of one object, naming `path.key` in errors; rejects unknown keys.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string path, std::initializer_list<const char*> known)
      : j_(j), path_(std::move(path)) {
    if (!j.is_object()) fail("", "must be an object");
    for (const auto& [k, v] : j.items()) {
      bool ok = false;
      for (const char* name : known) ok |= k == name;
      if (!ok) fail(k, "is not a known field");
    }
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw NetworkError((key.empty() ? path_ : path_ + "." + key) + ": " + what);
  }
  /// A number; `fallback` when absent; null → `null_value` (unlimited ratings).
  double num(const char* key, double fallback,
             double null_value = std::numeric_limits<double>::infinity()) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return fallback;
    if (it->is_null()) return null_value;
    if (!it->is_number()) fail(key, "must be a number");
    const double v = it->get<double>();
    if (!std::isfinite(v)) fail(key, "must be finite");
    return v;
  }
  double required(const char* key) const {
    if (!j_.contains(key)) fail(key, "is required");
    const double v = num(key, 0, std::nan(""));
    if (std::isnan(v)) fail(key, "must be a number");
    return v;
  }
  std::int64_t id(const char* key) const {
    const double v = required(key);
    if (v != std::floor(v) || std::fabs(v) > 1e15) fail(key, "must be an integer");
    return static_cast<std::int64_t>(v);
  }
  bool flag(const char* key, bool fallback) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return fallback;
    if (!it->is_boolean()) fail(key, "must be true or false");
    return it->get<bool>();
  }
  std::string text(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return {};
    if (!it->is_string()) fail(key, "must be a string");
    return it->get<std::string>();
  }

 private:
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace remhart::grid::io
