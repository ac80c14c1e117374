#pragma once
// Branch admittances in MATPOWER's convention (tap ratio and phase shift at the from end), shared
// by the solvers.
#include <complex>

#include "grid/network.hpp"

namespace remhart::grid {

struct BranchAdmittance {
  std::complex<double> ff, ft, tf,
      tt;  ///< I_from = ff V_from + ft V_to; I_to = tf V_from + tt V_to
};

BranchAdmittance branch_admittance(const Branch& br);

}  // namespace remhart::grid
