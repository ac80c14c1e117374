// The JSON network format: exact round trips and malformed input named by its path.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <random>
#include <set>
#include <sstream>

#include "grid/io/json_network.hpp"
#include "grid/io/matpower.hpp"
#include "grid/powerflow.hpp"

#include "grid_cases.hpp"

using namespace remhart::grid;
using namespace remhart::grid::testing;
using remhart::testkit::matpower_dir;
using remhart::testkit::running_in_ci;

TEST(NetworkJson, RoundTripsExactlyAndSolvesTheSame) {
  const auto n = io::parse_matpower(kTiny, "tiny");
  const auto text = io::network_to_json(n);
  const auto back = io::parse_network_json(text);
  EXPECT_EQ(io::network_to_json(back), text);
  ASSERT_EQ(back.buses.size(), 2u);
  EXPECT_TRUE(std::isinf(back.gens[0].qmax) && back.gens[0].qmax > 0);
  EXPECT_TRUE(std::isinf(back.gens[0].qmin) && back.gens[0].qmin < 0);
  PowerFlow a(n), b(back);
  EXPECT_EQ(a.solve().vm, b.solve().vm);
  if (std::filesystem::exists(matpower_dir() / "case300.m") || running_in_ci()) {
    const auto big = io::read_matpower((matpower_dir() / "case300.m").string());
    const auto j = io::network_to_json(big);
    EXPECT_EQ(io::network_to_json(io::parse_network_json(j)), j);
  }
}

TEST(NetworkJson, MalformedInputNamesThePath) {
  const std::string good = io::network_to_json(io::parse_matpower(kTiny, "tiny"));
  auto error_of = [](const std::string& text) {
    try {
      io::parse_network_json(text);
    } catch (const NetworkError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return s.replace(p, from.size(), to);
  };
  EXPECT_EQ(error_of("{"), "not valid JSON");
  EXPECT_EQ(error_of("[]"), "network: must be an object");
  EXPECT_EQ(error_of(edit("\"remhart-network\"", "\"other\"")),
            "network.format: must be \"remhart-network\"");
  EXPECT_EQ(error_of(edit("\"x_pu\":0.1", "\"x_pu\":\"0.1\"")),
            "branches[0].x_pu: must be a number");
  EXPECT_EQ(error_of(edit(",\"x_pu\":0.1", "")), "branches[0].x_pu: is required");
  EXPECT_EQ(error_of(edit("\"type\":\"ref\"", "\"type\":\"slack\"")),
            "buses[0].type: must be pq, pv, ref or isolated");
  EXPECT_EQ(error_of(edit("\"pd_mw\":50.0", "\"pd_mw\":50.0,\"colour\":1")),
            "buses[1].colour: is not a known field");
  EXPECT_EQ(error_of(edit("\"in_service\":true", "\"in_service\":1")),
            "branches[0].in_service: must be true or false");
  EXPECT_EQ(error_of(edit("\"to\":2", "\"to\":9")), "branch 1 (1-9) refers to unknown bus 9");
  EXPECT_EQ(error_of(edit("\"id\":2", "\"id\":2.5")), "buses[1].id: must be an integer");
  EXPECT_EQ(error_of(edit("\"pd_mw\":50.0", "\"pd_mw\":50.0,\"x\":3")),
            "buses[1].y: is required with the other coordinate");
  EXPECT_EQ(error_of(edit("\"pd_mw\":50.0", "\"pd_mw\":50.0,\"y\":3")),
            "buses[1].x: is required with the other coordinate");
  EXPECT_EQ(error_of(edit("\"pd_mw\":50.0", "\"pd_mw\":50.0,\"x\":\"3\",\"y\":1")),
            "buses[1].x: must be a number");
  EXPECT_EQ(error_of(edit("\"pd_mw\":50.0", "\"pd_mw\":50.0,\"x\":1,\"y\":null")),
            "buses[1].y: must be a number");
}

// Drawing coordinates are optional, kept per bus, and round-trip exactly.
TEST(NetworkJson, BusCoordinatesAreOptionalAndRoundTrip) {
  auto n = io::parse_matpower(kTiny, "tiny");
  EXPECT_FALSE(n.buses[0].xy.has_value());
  EXPECT_EQ(io::network_to_json(n).find("\"x\":"), std::string::npos);
  n.buses[1].xy = std::array<double, 2>{-12.5, 1e6};
  const auto text = io::network_to_json(n);
  const auto back = io::parse_network_json(text);
  EXPECT_FALSE(back.buses[0].xy.has_value());
  ASSERT_TRUE(back.buses[1].xy.has_value());
  EXPECT_EQ((*back.buses[1].xy)[0], -12.5);
  EXPECT_EQ((*back.buses[1].xy)[1], 1e6);
  EXPECT_EQ(io::network_to_json(back), text);
}
