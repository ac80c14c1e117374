#include "core/measurement.hpp"

namespace remhart::core {

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Derived derive(const Values& v) {
  Derived d{};
  d.v_avg = (v.v[0] + v.v[1] + v.v[2]) / 3.0;
  d.i_avg = (v.i[0] + v.i[1] + v.i[2]) / 3.0;
  d.p_total = v.p[0] + v.p[1] + v.p[2];
  d.q_total = v.q[0] + v.q[1] + v.q[2];
  const double s = std::hypot(d.p_total, d.q_total);
  d.pf = s > 0 ? d.p_total / s : kAbsent;
  return d;
}

std::optional<std::size_t> field_index(std::string_view name) {
  for (std::size_t k = 0; k < kFieldNames.size(); ++k) {
    if (kFieldNames[k] == name) return k;
  }
  return std::nullopt;
}

std::array<double, kFieldCount> all_fields(const Values& v) {
  std::array<double, kFieldCount> out{};
  const double* src = as_array(v);
  for (std::size_t k = 0; k < kValueCount; ++k) out[k] = src[k];
  const Derived d = derive(v);
  out[kValueCount + 0] = d.v_avg;
  out[kValueCount + 1] = d.i_avg;
  out[kValueCount + 2] = d.p_total;
  out[kValueCount + 3] = d.q_total;
  out[kValueCount + 4] = d.pf;
  return out;
}

bool valid_origin(std::string_view origin) {
  if (origin == kOriginReal) return true;
  if (origin.substr(0, 4) != "sim:") return false;
  return valid_device_id(origin.substr(4));
}

}  // namespace remhart::core
