#pragma once
// The network model (bus-branch, MATPOWER conventions): buses with loads and shunts, branches
// (lines and transformers with tap ratio and phase shift), generators/DER with reactive limits.
// Quantities are as in case files: MW, Mvar, p.u. voltages, degrees; `base_mva` converts.
// Pure data and checks: no file formats here (see grid/io).
#include <cstdint>
#include <stdexcept>
#include <string>
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

/// A model that cannot be solved as given; the message names the element.
class NetworkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Checks ids, references, impedances and that every energised island has a reference bus with
/// a generator. Throws NetworkError.
void validate(const Network& net);

}  // namespace remhart::grid
