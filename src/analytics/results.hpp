#pragma once
// What the models' code shares to read a feature vector and write a result: a feature by name,
// a window statistic, a number as JSON (null when not finite: an unknown value is never shown
// as a number), and a model card's quality target. Internal to analytics/.
#include <cmath>
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "features/features.hpp"

namespace remhart::analytics::detail {

/// Indices into features::kWindowsS.
inline constexpr std::size_t kW10 = 0, kW60 = 1, kW900 = 2;

inline double at(const features::FeatureVector& f, features::F which) {
  return f[features::index(which)];
}
inline double at(const features::FeatureVector& f, features::Signal s, std::size_t window,
                 features::Stat st) {
  return f[features::index(s, window, st)];
}
inline nlohmann::json number(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
}
/// A quality target of a model card: what it is, the goal, the value reached, whether met.
inline nlohmann::json target(std::string name, std::string goal, double value, bool met) {
  return {{"name", std::move(name)}, {"target", std::move(goal)}, {"value", value}, {"met", met}};
}

}  // namespace remhart::analytics::detail
