// What-if edits of a model: each change, and errors naming the caller's field.
#include <gtest/gtest.h>

#include "grid/what_if.hpp"
#include "grid_cases.hpp"

using namespace remhart::grid;
using namespace remhart::grid::testing;

namespace {
std::string field_of(Network& net, const std::vector<ModelChange>& changes) {
  try {
    apply_changes(net, changes);
  } catch (const NetworkError& e) {
    return e.field();
  }
  return "";
}

ModelChange change(ModelChange::Type type, std::string field = "changes[0]") {
  ModelChange c;
  c.type = type;
  c.field = std::move(field);
  return c;
}
}  // namespace

TEST(WhatIf, ScalesSetsLoadsTakesBranchesOutAndChangesGenerators) {
  Network net = two_bus(0.1, 80, 30);
  auto scale = change(ModelChange::Type::scale_load);
  scale.factor = 1.5;
  auto set = change(ModelChange::Type::set_load, "changes[1]");
  set.bus = 2;
  set.qd_mvar = 10;
  auto gen = change(ModelChange::Type::set_generator, "changes[2]");
  gen.generator = 0;
  gen.vg_pu = 1.02;
  apply_changes(net, {scale, set, gen});
  EXPECT_DOUBLE_EQ(net.buses[1].pd, 120);
  EXPECT_DOUBLE_EQ(net.buses[1].qd, 10);
  EXPECT_DOUBLE_EQ(net.gens[0].vg, 1.02);

  auto out = change(ModelChange::Type::outage);
  out.branch = {std::nullopt, 1, 2};
  apply_changes(net, {out});
  EXPECT_FALSE(net.branches[0].in_service);
  // Bus 2 is now an island without a reference: the solve names the changes.
  try {
    solve_what_if(net, false, {});
    FAIL() << "an islanded model solved";
  } catch (const NetworkError& e) {
    EXPECT_EQ(e.field(), "changes");
  }
}

TEST(WhatIf, ChangesThatDoNotFitTheModelNameTheirField) {
  Network net = two_bus(0.1, 80, 30);
  auto scale = change(ModelChange::Type::scale_load);
  scale.factor = 101;
  EXPECT_EQ(field_of(net, {scale}), "changes[0].factor");
  scale.factor = 2;
  scale.buses = {7};
  EXPECT_EQ(field_of(net, {scale}), "changes[0].buses");
  auto set = change(ModelChange::Type::set_load, "changes[3]");
  set.bus = 99;
  EXPECT_EQ(field_of(net, {set}), "changes[3].bus");
  auto out = change(ModelChange::Type::outage);
  out.branch.index = 5;
  EXPECT_EQ(field_of(net, {out}), "changes[0].branch");
  out.branch = {std::nullopt, 2, 1};  // the branch runs 1 → 2
  EXPECT_EQ(field_of(net, {out}), "changes[0].branch");
  auto gen = change(ModelChange::Type::set_generator);
  gen.generator = 1;
  EXPECT_EQ(field_of(net, {gen}), "changes[0].generator");
  gen.generator = 0;
  gen.vg_pu = 2;
  EXPECT_EQ(field_of(net, {gen}), "changes[0].vg_pu");
  EXPECT_DOUBLE_EQ(net.buses[1].pd, 80);  // nothing applied before the failing change
}
