#pragma once
// The network model (bus-branch, MATPOWER conventions): buses with loads and shunts, branches
// (lines and transformers with tap ratio and phase shift), generators/DER with reactive limits.
// Quantities are as in case files: MW, Mvar, p.u. voltages, degrees; `base_mva` converts.
// Pure data and checks: no file formats here (see grid/io).
#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace remhart::grid {

enum class BusType { pq = 1, pv = 2, ref = 3, isolated = 4 };

struct Bus {
  std::int64_t id = 0;
  BusType type = BusType::pq;
  double pd = 0, qd = 0;  ///< load, MW / Mvar
  double gs = 0, bs = 0;  ///< shunt at 1 p.u., MW / Mvar
  double vm = 1, va = 0;  ///< voltage, p.u. / degrees (initial guess or solution)
  double base_kv = 0;
  double vmax = 1.1, vmin = 0.9;
  std::string name;
  /// Drawing coordinates from the network file (x to the right, y upwards, any unit), if given:
  /// the engines ignore them; the dashboard draws the one-line diagram with them.
  std::optional<std::array<double, 2>> xy;
};

struct Branch {
  std::int64_t from = 0, to = 0;
  double r = 0, x = 0, b = 0;  ///< p.u. series resistance and reactance, total line charging
  double rate_a = 0;           ///< MVA rating (0 = unlimited)
  double ratio = 0;            ///< off-nominal tap at the from end (0 = line, i.e. 1)
  double shift = 0;            ///< phase shift, degrees
  bool in_service = true;
};

struct Gen {
  std::int64_t bus = 0;
  double pg = 0, qg = 0;           ///< MW / Mvar
  double qmax = 1e9, qmin = -1e9;  ///< Mvar
  double vg = 1;                   ///< voltage set point, p.u.
  double pmax = 0, pmin = 0;
  double participation = 0;  ///< share of a distributed slack (0 = by Pmax)
  bool in_service = true;
};

struct Network {
  std::string name;
  double base_mva = 100;
  std::vector<Bus> buses;
  std::vector<Branch> branches;
  std::vector<Gen> gens;
};

/// A model that cannot be solved as given; the message names the element. `field`, when set,
/// names the part of the caller's input at fault (`measurements`, `changes[2].branch`).
class NetworkError : public std::runtime_error {
 public:
  explicit NetworkError(const std::string& message, std::string field = {})
      : std::runtime_error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

/// Bus ids to positions in Network::buses: a table when the ids are compact (cases usually number
/// their buses 1…n), a hash map otherwise.
class BusIndex {
 public:
  /// Throws NetworkError when an id is defined twice.
  explicit BusIndex(const std::vector<Bus>& buses);
  /// The position of bus `id`, or -1.
  std::ptrdiff_t find(std::int64_t id) const {
    if (!dense_) {
      const auto it = map_.find(id);
      return it == map_.end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
    }
    if (id < lo_ || id - lo_ >= static_cast<std::int64_t>(table_.size())) return -1;
    return table_[static_cast<std::size_t>(id - lo_)];
  }
  /// The position of bus `id`; throws NetworkError when there is none.
  std::size_t at(std::int64_t id) const;

 private:
  bool dense_ = false;
  std::int64_t lo_ = 0;
  std::vector<std::ptrdiff_t> table_;
  std::unordered_map<std::int64_t, std::size_t> map_;
};

/// Checks ids, references, impedances and that every energised island has a reference bus with
/// a generator. Throws NetworkError. Returns the bus index it built.
BusIndex validate(const Network& net);

}  // namespace remhart::grid
