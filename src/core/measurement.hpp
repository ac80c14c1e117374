#pragma once
// The measurement domain: devices, samples and the values the server derives from them.
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"

namespace remhart::core {

inline constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
inline bool is_present(double x) {
  return !std::isnan(x);
}

/// A measurement point (meter, PMU, transformer monitor, inverter).
struct Device {
  std::string id;
  std::string name;
  std::string kind = "meter";
  double nominal_voltage = 230.0;   ///< V, phase-to-neutral
  double rated_current = 100.0;     ///< A
  double nominal_frequency = 50.0;  ///< Hz, 50 or 60
  double accuracy_class = 1.0;  ///< % of reading (IEC class): σ of its V, I, P, Q a third of it
  std::string element;          ///< network element it measures
  std::string site;
  std::optional<double> lat, lon;
  std::vector<std::string> tags;
  bool operator==(const Device&) const = default;
};

/// True when `id` matches `[A-Za-z0-9_.-]{1,64}`.
bool valid_device_id(std::string_view id);

/// Fields of one sample, in storage order. Optional fields are NaN when absent.
/// All SI: V line-to-neutral, A, W, var, Hz, %, °C.
struct Values {
  std::array<double, 3> v{}, i{}, p{}, q{};
  double f = 0;
  std::array<double, 3> thd_v{kAbsent, kAbsent, kAbsent}, thd_i{kAbsent, kAbsent, kAbsent};
  double temp = kAbsent;
};
inline constexpr std::size_t kValueCount = 20;
static_assert(sizeof(Values) == kValueCount * sizeof(double));

/// Values as a flat array view (storage order matches `kBaseFields`).
inline const double* as_array(const Values& v) {
  return &v.v[0];
}
inline double* as_array(Values& v) {
  return &v.v[0];
}

/// One timestamped record of a series (the device and origin are implied by the series).
struct Record {
  TimeUs ts = 0;
  Values values;
};

/// One sample as received: device, time and values.
struct Sample {
  std::string device;
  TimeUs ts = 0;
  Values values;
};

/// Server-derived values. pf = P_total / sqrt(P_total² + Q_total²); its sign follows P_total
/// (negative when the point exports active power); NaN (null) when P and Q are both zero.
struct Derived {
  double v_avg, i_avg, p_total, q_total, pf;
};
Derived derive(const Values& v);

/// Every field a query may name: the 20 stored ones then the 5 derived ones.
inline constexpr std::size_t kFieldCount = kValueCount + 5;
inline constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "va",     "vb",   "vc",    "ia",    "ib",      "ic",      "pa",     "pb",     "pc",
    "qa",     "qb",   "qc",    "f",     "thd_va",  "thd_vb",  "thd_vc", "thd_ia", "thd_ib",
    "thd_ic", "temp", "v_avg", "i_avg", "p_total", "q_total", "pf"};
static_assert(kFieldNames.size() == kFieldCount);

/// Index of a field name in kFieldNames, or nullopt.
std::optional<std::size_t> field_index(std::string_view name);

/// All fields of a record: stored values then derived ones.
std::array<double, kFieldCount> all_fields(const Values& v);

/// Origin of a sample: "real" or "sim:<run-id>".
bool valid_origin(std::string_view origin);
inline constexpr std::string_view kOriginReal = "real";

}  // namespace remhart::core
