// Compiling a network for power flow: effective bus types (a PV or reference bus needs an
// in-service generator), islands (each needs a reference bus; else its first PV bus is promoted,
// as MATPOWER does), the ordering of the unknowns, the distributed slack's shares, and the
// admittance matrix Y in compressed rows with every branch's entries located, so that switching a
// branch or changing a shunt changes values, never the pattern.
#include <algorithm>
#include <cmath>
#include <string>

#include "grid/detail/powerflow_model.hpp"

namespace remhart::grid {

void PowerFlow::Impl::compile(const Network& net) {
  const BusIndex index = validate(net);
  compile_topology(net, index);
  compile_admittance(net);
  compile_jacobian();
}

void PowerFlow::Impl::compile_topology(const Network& net, const BusIndex& index) {
  n = net.buses.size();

  // Effective bus types: a PV or reference bus needs an in-service generator.
  type.resize(n);
  std::vector<char> has_gen(n, 0);
  gen_bus.reserve(net.gens.size());
  for (const auto& g : net.gens) {
    gen_bus.push_back(index.at(g.bus));
    if (g.in_service) has_gen[gen_bus.back()] = 1;
  }
  for (std::size_t k = 0; k < n; ++k) {
    type[k] = net.buses[k].type;
    if ((type[k] == BusType::pv || type[k] == BusType::ref) && !has_gen[k]) type[k] = BusType::pq;
  }

  // Branches by bus (CSR), then islands over in-service branches; each needs a reference bus
  // (else its first PV bus is promoted, as MATPOWER does).
  const std::size_t nb = net.branches.size();
  from.resize(nb);
  to.resize(nb);
  adj_ptr.assign(n + 1, 0);
  for (std::size_t k = 0; k < nb; ++k) {
    from[k] = index.at(net.branches[k].from);
    to[k] = index.at(net.branches[k].to);
    ++adj_ptr[from[k] + 1];
    ++adj_ptr[to[k] + 1];
  }
  for (std::size_t k = 0; k < n; ++k) adj_ptr[k + 1] += adj_ptr[k];
  adj_branch.resize(2 * nb);
  {
    std::vector<int> fill(adj_ptr.begin(), adj_ptr.end() - 1);
    for (std::size_t k = 0; k < nb; ++k) {
      adj_branch[static_cast<std::size_t>(fill[from[k]]++)] = static_cast<int>(k);
      adj_branch[static_cast<std::size_t>(fill[to[k]]++)] = static_cast<int>(k);
    }
  }
  auto live = [&](std::size_t k) {
    return net.branches[k].in_service && type[from[k]] != BusType::isolated &&
           type[to[k]] != BusType::isolated;
  };
  std::vector<int> island(n, -1);
  std::vector<std::size_t> members, stack;
  for (std::size_t s = 0; s < n; ++s) {
    if (island[s] >= 0 || type[s] == BusType::isolated) continue;
    members.assign(1, s);
    stack.assign(1, s);
    island[s] = static_cast<int>(s);
    while (!stack.empty()) {
      const auto u = stack.back();
      stack.pop_back();
      for (int p = adj_ptr[u]; p < adj_ptr[u + 1]; ++p) {
        const auto k = static_cast<std::size_t>(adj_branch[static_cast<std::size_t>(p)]);
        if (!live(k)) continue;
        const auto w = from[k] == u ? to[k] : from[k];
        if (island[w] < 0) {
          island[w] = static_cast<int>(s);
          members.push_back(w);
          stack.push_back(w);
        }
      }
    }
    const bool has_ref = std::any_of(members.begin(), members.end(),
                                     [&](std::size_t b) { return type[b] == BusType::ref; });
    if (!has_ref) {
      const auto pv_bus = std::find_if(members.begin(), members.end(),
                                       [&](std::size_t b) { return type[b] == BusType::pv; });
      if (pv_bus == members.end()) {
        std::string ids;
        for (std::size_t k = 0; k < members.size() && k < 10; ++k) {
          ids += (k ? ", " : "") + std::to_string(net.buses[members[k]].id);
        }
        if (members.size() > 10) ids += ", …";
        throw NetworkError("an island of " + std::to_string(members.size()) +
                           " bus(es) has no reference bus or generator: " + ids);
      }
      type[*pv_bus] = BusType::ref;
    }
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (type[k] == BusType::pv) pv.push_back(k);
    if (type[k] == BusType::pq) pq.push_back(k);
    if (type[k] == BusType::ref) ref.push_back(k);
  }
  a_idx.assign(n, -1);
  m_idx.assign(n, -1);
  int pos = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (type[k] == BusType::pv || type[k] == BusType::pq) a_idx[k] = pos++;
  }
  for (auto k : pq) m_idx[k] = pos++;
  nj = pos;
  if (distributed) {
    if (ref.size() != 1) {
      throw NetworkError("a distributed slack needs exactly one island with one reference bus");
    }
    alpha.assign(net.gens.size(), 0.0);
    double total = 0;
    for (int pass = 0; pass < 3 && total <= 0; ++pass) {
      for (std::size_t g = 0; g < net.gens.size(); ++g) {
        const auto& gen = net.gens[g];
        if (!gen.in_service) continue;
        alpha[g] = pass == 0   ? gen.participation
                   : pass == 1 ? (std::isfinite(gen.pmax) && gen.pmax > 0 ? gen.pmax : 0)
                               : 1.0;
        total += alpha[g];
      }
    }
    beta.assign(n, 0.0);
    for (std::size_t g = 0; g < net.gens.size(); ++g) {
      alpha[g] /= total;
      beta[gen_bus[g]] += alpha[g];
    }
    lam = nj++;
  }
}

void PowerFlow::Impl::compile_admittance(const Network& net) {
  const std::size_t nb = net.branches.size();
  // Admittance matrix in CSR: row j holds j and the other end of each of its branches
  // (out-of-service ones too, as zeros, so switching changes values only). Placing bus i into the
  // rows of i and of its neighbours, for i rising, leaves every row sorted; parallel branches
  // repeat a column, merged afterwards. The pattern is structurally symmetric with every
  // diagonal present. Each branch's ff, ft, tf, tt positions are recorded on the way.
  branch_y.resize(nb);
  branch_nz.resize(nb);
  std::vector<int> raw_col(n + 2 * nb), cursor(n), diag_of(n);
  for (std::size_t j = 0; j < n; ++j) cursor[j] = adj_ptr[j] + static_cast<int>(j);
  for (std::size_t i = 0; i < n; ++i) {
    diag_of[i] = cursor[i]++;
    raw_col[static_cast<std::size_t>(diag_of[i])] = static_cast<int>(i);
    for (int p = adj_ptr[i]; p < adj_ptr[i + 1]; ++p) {
      const auto k = static_cast<std::size_t>(adj_branch[static_cast<std::size_t>(p)]);
      const bool at_from = from[k] == i;
      const auto j = at_from ? to[k] : from[k];
      const int q = cursor[j]++;
      raw_col[static_cast<std::size_t>(q)] = static_cast<int>(i);
      branch_nz[k][at_from ? 2 : 1] = q;  // entry (j, i): tf when i is the from end, else ft
    }
  }
  std::vector<int>& merged = cursor;  // reused: raw position → merged position
  merged.resize(raw_col.size());
  y_ptr.assign(1, 0);
  y_col.clear();
  y_col.reserve(raw_col.size());
  for (std::size_t j = 0; j < n; ++j) {
    for (int q = adj_ptr[j] + static_cast<int>(j); q < adj_ptr[j + 1] + static_cast<int>(j) + 1;
         ++q) {
      const int c = raw_col[static_cast<std::size_t>(q)];
      if (static_cast<int>(y_col.size()) == y_ptr.back() || y_col.back() != c) y_col.push_back(c);
      merged[static_cast<std::size_t>(q)] = static_cast<int>(y_col.size()) - 1;
    }
    y_ptr.push_back(static_cast<int>(y_col.size()));
  }
  for (std::size_t i = 0; i < n; ++i) diag_of[i] = merged[static_cast<std::size_t>(diag_of[i])];
  for (std::size_t k = 0; k < nb; ++k) {
    auto& nz = branch_nz[k];
    nz = {diag_of[from[k]], merged[static_cast<std::size_t>(nz[1])],
          merged[static_cast<std::size_t>(nz[2])], diag_of[to[k]]};
  }
  y_val.assign(y_col.size(), cd(0));
  for (std::size_t i = 0; i < n; ++i) {
    y_val[static_cast<std::size_t>(diag_of[i])] =
        cd(net.buses[i].gs, net.buses[i].bs) / net.base_mva;
  }
  for (std::size_t k = 0; k < nb; ++k) {
    branch_y[k] = branch_admittance(net.branches[k]);
    if (!net.branches[k].in_service) continue;
    const auto& y = branch_y[k];
    const auto& nz = branch_nz[k];
    y_val[static_cast<std::size_t>(nz[0])] += y.ff;
    y_val[static_cast<std::size_t>(nz[1])] += y.ft;
    y_val[static_cast<std::size_t>(nz[2])] += y.tf;
    y_val[static_cast<std::size_t>(nz[3])] += y.tt;
  }
}

void PowerFlow::Impl::sbus(const Network& net, std::vector<cd>& s) const {
  s.resize(n);
  for (std::size_t k = 0; k < n; ++k) s[k] = -cd(net.buses[k].pd, net.buses[k].qd);
  for (std::size_t g = 0; g < net.gens.size(); ++g) {
    if (net.gens[g].in_service) s[gen_bus[g]] += cd(net.gens[g].pg, net.gens[g].qg);
  }
  for (auto& x : s) x /= net.base_mva;
}

void PowerFlow::set_branch_in_service(std::size_t k, bool on) {
  auto& br = net_.branches.at(k);
  if (br.in_service == on) return;
  const auto& y = impl_->branch_y[k];
  const double sign = on ? 1.0 : -1.0;
  const auto& nz = impl_->branch_nz[k];
  impl_->y_val[static_cast<std::size_t>(nz[0])] += sign * y.ff;
  impl_->y_val[static_cast<std::size_t>(nz[1])] += sign * y.ft;
  impl_->y_val[static_cast<std::size_t>(nz[2])] += sign * y.tf;
  impl_->y_val[static_cast<std::size_t>(nz[3])] += sign * y.tt;
  br.in_service = on;
  impl_->bp.reset();  // the fast-decoupled and DC matrices follow the topology
  impl_->bpp.reset();
  impl_->dc.reset();
}

void PowerFlow::set_shunt(std::size_t k, double gs, double bs) {
  auto& bus = net_.buses.at(k);
  if (bus.gs == gs && bus.bs == bs) return;
  auto& m = *impl_;
  const int* lo = m.y_col.data() + m.y_ptr[k];
  const int* hi = m.y_col.data() + m.y_ptr[k + 1];
  const auto diag =
      static_cast<std::size_t>(std::lower_bound(lo, hi, static_cast<int>(k)) - m.y_col.data());
  m.y_val[diag] += cd(gs - bus.gs, bs - bus.bs) / net_.base_mva;
  bus.gs = gs;
  bus.bs = bs;
  m.bpp.reset();  // B'' holds the shunts
}

std::vector<std::size_t> PowerFlow::unreachable_buses() const {
  const auto& m = *impl_;
  std::vector<bool> seen(m.n, false);
  std::vector<std::size_t> stack(m.ref.begin(), m.ref.end());
  for (auto r : m.ref) seen[r] = true;
  while (!stack.empty()) {
    const auto u = stack.back();
    stack.pop_back();
    for (int p = m.adj_ptr[u]; p < m.adj_ptr[u + 1]; ++p) {
      const auto k = static_cast<std::size_t>(m.adj_branch[static_cast<std::size_t>(p)]);
      if (!net_.branches[k].in_service) continue;
      const auto w = m.from[k] == u ? m.to[k] : m.from[k];
      if (!seen[w] && m.type[w] != BusType::isolated) {
        seen[w] = true;
        stack.push_back(w);
      }
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < m.n; ++k) {
    if (!seen[k] && m.type[k] != BusType::isolated) out.push_back(k);
  }
  return out;
}

// In real arithmetic: complex division goes through the slow, overflow-guarded library routine,
// and model builds do this for every branch. With t = ratio·e^{jθ}: 1/t = e^{−jθ}/ratio.
BranchAdmittance branch_admittance(const Branch& br) {
  const double z2 = br.r * br.r + br.x * br.x;
  const cd ys(br.r / z2, -br.x / z2);
  const double ratio = br.ratio == 0 ? 1.0 : br.ratio;
  const cd unit =
      br.shift == 0 ? cd(1.0 / ratio) : std::polar(1.0 / ratio, br.shift * kDeg);  // conj(1/t)
  const cd ytt = ys + cd(0, br.b / 2);
  return {ytt / (ratio * ratio), -ys * unit, -ys * std::conj(unit), ytt};
}

}  // namespace remhart::grid
