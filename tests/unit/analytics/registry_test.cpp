// The model registry over both object stores (a directory and the shared database): versions,
// activations, several registries (replicas) on one store, the older layout's activations.
#include "analytics/registry.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "ml/io/xgboost_json.hpp"
#include "shared_data.hpp"
#include "store/object_store.hpp"
#include "testkit.hpp"

namespace remhart::analytics {
namespace {

// A computed model's version (a card, no trees) and a tree model's (trees not checked here).
TrainedModel computed(const std::string& tag) {
  TrainedModel m;
  m.name = "power-quality-index";
  m.module = "monitoring";
  m.card = {{"tag", tag}};
  m.serving = nlohmann::json::object();
  return m;
}

TrainedModel trees(const std::string& tag) {
  TrainedModel m;
  m.name = "voltage-anomaly";
  m.module = "monitoring";
  m.model_json = R"({"learner": {}, "tag": ")" + tag + "\"}";
  m.card = {{"tag", tag}};
  m.serving = {{"threshold", 0.5}};
  return m;
}

struct RegistryTest : ::testing::TestWithParam<std::string> {
  testkit::TempDir dir;
  std::shared_ptr<core::ObjectStore> objects;
  std::string prefix;
  void SetUp() override {
    if (GetParam() == "mariadb") {
      REQUIRE_SERVICE(testkit::MariadbServer, "mariadb-server");
      objects = std::make_shared<store::MariadbObjectStore>(
          testkit::MariadbServer::shared().create_database());
      prefix = "models/";
    } else {
      objects = std::make_shared<store::DirectoryObjectStore>(dir.path() + "/models");
    }
  }
  ModelRegistry registry() { return ModelRegistry(objects, prefix); }
};
INSTANTIATE_TEST_SUITE_P(Stores, RegistryTest, ::testing::Values("directory", "mariadb"),
                         [](const auto& info) { return info.param; });

TEST_P(RegistryTest, VersionsActivationAndRollBack) {
  auto reg = registry();
  EXPECT_TRUE(reg.names().empty());
  EXPECT_EQ(reg.publish(computed("a"), 1'000'000), 1);
  EXPECT_EQ(reg.publish(computed("b"), 2'000'000, false), 2);
  EXPECT_EQ(reg.active("power-quality-index"), 1);  // v2 published, not activated
  EXPECT_EQ(reg.publish(trees("c"), 3'000'000), 1);
  EXPECT_EQ(reg.names(), (std::vector<std::string>{"power-quality-index", "voltage-anomaly"}));
  EXPECT_TRUE(reg.activate("power-quality-index", 2));
  EXPECT_FALSE(reg.activate("power-quality-index", 3));
  EXPECT_FALSE(reg.activate("no-such-model", 1));
  const auto cards = reg.cards("power-quality-index");
  ASSERT_EQ(cards.size(), 2u);
  EXPECT_EQ(cards[0]["tag"], "a");
  EXPECT_FALSE(cards[0]["active"]);
  EXPECT_TRUE(cards[1]["active"]);
  EXPECT_EQ(cards[1]["created_at"], "1970-01-01T00:00:02.000000Z");
  const auto loaded = reg.load_active("power-quality-index");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->version, 2);
  EXPECT_EQ(loaded->card["tag"], "b");
  // The damaged trees of the active tree model are refused, not served.
  EXPECT_THROW(reg.load_active("voltage-anomaly"), ml::io::ModelFormatError);
  std::vector<std::string> problems;
  EXPECT_EQ(load_active_models(reg, &problems).count(), 1u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("voltage-anomaly"), std::string::npos);
}

// Two replicas publish at once into one store: every version number is used once, every
// version is whole (its card is its own), none is lost.
TEST_P(RegistryTest, RegistriesPublishingTogetherNeverShareAVersion) {
  constexpr int kEach = 6;
  {
    std::vector<std::jthread> replicas;
    for (int r = 0; r < 2; ++r) {
      replicas.emplace_back([&, r] {
        auto reg = registry();
        for (int k = 0; k < kEach; ++k) {
          reg.publish(trees(std::to_string(r) + "-" + std::to_string(k)), 1'000'000, false);
        }
      });
    }
  }
  auto reg = registry();
  const auto cards = reg.cards("voltage-anomaly");
  ASSERT_EQ(cards.size(), 2u * kEach);
  std::set<std::string> tags;
  for (std::size_t k = 0; k < cards.size(); ++k) {
    EXPECT_EQ(cards[k]["version"], static_cast<int>(k) + 1);
    const auto tag = cards[k]["tag"].get<std::string>();
    tags.insert(tag);
    // The trees beside the card are the same publication's.
    const auto model =
        objects->get(prefix + "voltage-anomaly/" + std::to_string(k + 1) + "/model.json");
    ASSERT_TRUE(model);
    const std::string text(reinterpret_cast<const char*>(model->data()), model->size());
    EXPECT_NE(text.find("\"" + tag + "\""), std::string::npos) << text;
  }
  EXPECT_EQ(tags.size(), 2u * kEach);
}

// A replica sees another's activations: the stamp changes, the active version follows; two
// replicas activating two models keep both.
TEST_P(RegistryTest, AnActivationOnOneRegistryIsSeenByAnother) {
  auto a = registry();
  auto b = registry();
  a.publish(computed("a1"), 1'000'000);
  a.publish(computed("a2"), 1'000'000, false);
  a.publish(trees("t1"), 1'000'000);
  a.publish(trees("t2"), 1'000'000, false);
  const auto before = b.activation_stamp();
  EXPECT_EQ(b.active("power-quality-index"), 1);
  EXPECT_TRUE(a.activate("power-quality-index", 2));
  EXPECT_TRUE(b.activate("voltage-anomaly", 2));
  EXPECT_NE(b.activation_stamp(), before);
  EXPECT_EQ(b.active("power-quality-index"), 2);
  EXPECT_EQ(a.active("voltage-anomaly"), 2);
  EXPECT_EQ(a.activation_stamp(), b.activation_stamp());
  a.publish(computed("a3"), 1'000'000, false);  // publishing alone activates nothing
  EXPECT_EQ(a.activation_stamp(), b.activation_stamp());
}

// A publication cut short after claiming its number (trees, no card) is no version; the next
// publication takes the number after it.
TEST_P(RegistryTest, AClaimedButUnfinishedVersionIsSkipped) {
  auto reg = registry();
  reg.publish(trees("one"), 1'000'000);
  const std::string half = "{}";
  ASSERT_TRUE(
      objects->put_new(prefix + "voltage-anomaly/2/model.json", std::as_bytes(std::span(half))));
  EXPECT_EQ(reg.cards("voltage-anomaly").size(), 1u);
  EXPECT_FALSE(reg.activate("voltage-anomaly", 2));
  EXPECT_EQ(reg.publish(trees("three"), 1'000'000), 3);
  EXPECT_EQ(reg.cards("voltage-anomaly").size(), 2u);
}

// A data directory written before the object store: one active.json for every model.
TEST(ModelRegistry, TakesOverTheOlderLayoutsActivations) {
  testkit::TempDir dir;
  const auto root = std::filesystem::path(dir.path()) / "models";
  std::filesystem::create_directories(root / "power-quality-index" / "1");
  std::filesystem::create_directories(root / "power-quality-index" / "2");
  std::ofstream(root / "power-quality-index" / "1" / "card.json") << R"({"tag": "old-1"})";
  std::ofstream(root / "power-quality-index" / "2" / "card.json") << R"({"tag": "old-2"})";
  std::ofstream(root / "active.json") << R"({"power-quality-index": 1, "../x": 2})";
  ModelRegistry reg(std::make_shared<store::DirectoryObjectStore>(root));
  EXPECT_EQ(reg.active("power-quality-index"), 1);
  EXPECT_FALSE(std::filesystem::exists(root / "active.json"));
  EXPECT_EQ(reg.names(), std::vector<std::string>{"power-quality-index"});
  EXPECT_EQ(reg.publish(computed("new"), 1'000'000), 3);
  const auto loaded = reg.load_active("power-quality-index");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->card["tag"], "new");
}

}  // namespace
}  // namespace remhart::analytics
