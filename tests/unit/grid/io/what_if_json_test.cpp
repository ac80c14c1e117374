// What-if changes in JSON: every shape, and malformed input named by its field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "grid/io/what_if_json.hpp"

using namespace remhart::grid;
using nlohmann::json;

namespace {
std::string field_of(const std::string& text) {
  try {
    io::parse_changes(json::parse(text));
  } catch (const NetworkError& e) {
    return e.field();
  }
  return "";
}
}  // namespace

TEST(WhatIfJson, ParsesEveryChange) {
  const auto c = io::parse_changes(json::parse(R"([
    {"type":"scale_load","factor":1.1,"buses":[2,3]},
    {"type":"set_load","bus":4,"pd_mw":5,"qd_mvar":1},
    {"type":"outage","branch":{"from":1,"to":2}},
    {"type":"outage","branch":3},
    {"type":"set_generator","generator":0,"pg_mw":40,"vg_pu":1.01,"in_service":false}])"));
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c[0].type, ModelChange::Type::scale_load);
  EXPECT_EQ(c[0].buses, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(c[1].bus, 4);
  EXPECT_EQ(*c[1].qd_mvar, 1);
  EXPECT_EQ(c[2].branch.from, 1);
  EXPECT_FALSE(c[2].branch.index);
  EXPECT_EQ(*c[3].branch.index, 3u);
  EXPECT_EQ(*c[4].in_service, false);
  EXPECT_EQ(c[4].field, "changes[4]");
}

TEST(WhatIfJson, MalformedChangesNameTheirField) {
  EXPECT_EQ(field_of(R"({"type":"outage"})"), "changes");
  EXPECT_EQ(field_of(R"([7])"), "changes[0]");
  EXPECT_EQ(field_of(R"([{"type":"scale_load"}])"), "changes[0].factor");
  EXPECT_EQ(field_of(R"([{"type":"scale_load","factor":"big"}])"), "changes[0].factor");
  EXPECT_EQ(field_of(R"([{"type":"scale_load","factor":1,"buses":4}])"), "changes[0].buses");
  EXPECT_EQ(field_of(R"([{"type":"set_load","bus":"one"}])"), "changes[0].bus");
  EXPECT_EQ(field_of(R"([{"type":"outage","branch":-1}])"), "changes[0].branch");
  EXPECT_EQ(field_of(R"([{"type":"outage","branch":{"from":1}}])"), "changes[0].branch");
  EXPECT_EQ(field_of(R"([{"type":"set_generator","generator":"g"}])"), "changes[0].generator");
  EXPECT_EQ(field_of(R"([{"type":"set_generator","generator":0,"in_service":1}])"),
            "changes[0].in_service");
  EXPECT_EQ(field_of(R"([{"type":"scale_load","factor":1},{"type":"melt"}])"), "changes[1].type");
}
