#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include <spdlog/details/log_msg.h>
#include <nlohmann/json.hpp>

#include "app/config.hpp"
#include "app/serve.hpp"
#include "testkit.hpp"

using namespace remhart;

namespace {
std::function<const char*(const char*)> env(std::map<std::string, std::string>& vars) {
  return [&vars](const char* n) -> const char* {
    const auto it = vars.find(n);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}
std::string error_of(const std::optional<std::string>& file,
                     std::map<std::string, std::string> vars,
                     std::vector<std::pair<std::string, std::string>> flags = {}) {
  try {
    app::load_config(file, env(vars), flags);
  } catch (const app::ConfigError& e) {
    return e.what();
  }
  return "<ok>";
}
}  // namespace

TEST(Config, FileThenEnvironmentThenFlags) {
  testkit::TempDir dir;
  const std::string path = dir.path() + "/remhart.toml";
  std::ofstream(path)
      << "[server]\nport = 9000\nhost = \"0.0.0.0\"\n[storage]\ndurability = \"fsync\"\n"
         "[demo]\nenabled = false\nscenario = \"peak_load\"\n";
  std::map<std::string, std::string> vars{{"REMHART_SERVER_PORT", "9100"}};
  auto c = app::load_config(path, env(vars), {});
  EXPECT_EQ(c.port, 9100);
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.durability, "fsync");
  EXPECT_FALSE(c.demo);
  EXPECT_EQ(c.demo_scenario, "peak_load");
  c = app::load_config(path, env(vars), {{"server.port", "0"}});
  EXPECT_EQ(c.port, 0);
}

TEST(Config, ErrorsNameTheSettingAndItsSource) {
  testkit::TempDir dir;
  EXPECT_NE(error_of(std::nullopt, {{"REMHART_SERVER_PORT", "http"}}).find("server.port"),
            std::string::npos);
  EXPECT_NE(error_of(std::nullopt, {{"REMHART_SERVER_PORT", "70000"}}).find("server.port"),
            std::string::npos);
  EXPECT_NE(error_of(std::nullopt, {{"REMHART_SERVER_PORT", "x"}}).find("REMHART_SERVER_PORT"),
            std::string::npos);
  EXPECT_NE(
      error_of(std::nullopt, {{"REMHART_STORAGE_DURABILITY", "maybe"}}).find("storage.durability"),
      std::string::npos);
  EXPECT_NE(error_of(std::nullopt, {}, {{"demo.enabled", "perhaps"}}).find("demo.enabled"),
            std::string::npos);
  EXPECT_NE(error_of(dir.path() + "/missing.toml", {}).find("not found"), std::string::npos);
  const std::string typo = dir.path() + "/typo.toml";
  std::ofstream(typo) << "[server]\nprot = 1\n";
  EXPECT_NE(error_of(typo, {}).find("server.prot"), std::string::npos);
  const std::string broken = dir.path() + "/broken.toml";
  std::ofstream(broken) << "[server\nport = 1\n";
  EXPECT_NE(error_of(broken, {}).find(":1:"), std::string::npos);
  EXPECT_NE(error_of(std::nullopt, {{"REMHART_DEMO_HISTORY_DAYS", "40"}}).find("demo.history_days"),
            std::string::npos);
  EXPECT_NE(
      error_of(std::nullopt, {{"REMHART_ANALYTICS_SCHEDULE_S", "0"}}).find("analytics.schedule_s"),
      std::string::npos);
  EXPECT_EQ(error_of(std::nullopt, {}), "<ok>");
}

TEST(Config, DescribeListsEverySetting) {
  const auto items = app::describe(app::Config{});
  std::map<std::string, std::string> m(items.begin(), items.end());
  EXPECT_EQ(m.at("server.port"), "8080");
  EXPECT_EQ(m.at("storage.durability"), "normal");
  EXPECT_EQ(m.at("demo.enabled"), "true");
}

TEST(Config, TheShippedExampleIsValidAndMatchesTheDefaults) {
  std::map<std::string, std::string> vars;
  const auto c =
      app::load_config(std::string(REMHART_SOURCE_DIR) + "/remhart.example.toml", env(vars), {});
  EXPECT_EQ(app::describe(c), app::describe(app::Config{}));
}

// JSON log lines stay JSON whatever the message holds (the message went in unescaped).
TEST(Logging, JsonLinesEscapeTheMessage) {
  auto f = app::json_log_formatter();
  for (const std::string& text :
       {std::string("plain"), std::string(R"(a "quoted" \ path)"), std::string("two\nlines\t\x01"),
        std::string("bad utf-8 \xff\xfe here"), std::string("caf\xc3\xa9")}) {
    spdlog::details::log_msg msg("remhart", spdlog::level::info, text);
    spdlog::memory_buf_t out;
    f->format(msg, out);
    std::string line(out.data(), out.size());
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_EQ(j["level"], "info");
    if (text.find('\xff') == std::string::npos) {
      EXPECT_EQ(j["msg"], text);
    }
  }
}

TEST(Config, FromTomlTextNamesTheLine) {
  EXPECT_EQ(app::config_from_toml("[server]\nport = 9090\n").port, 9090);
  try {
    (void)app::config_from_toml("[server]\nport = \n");
    FAIL() << "accepted";
  } catch (const app::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("config:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)app::config_from_toml("[server]\nport = 70000\n"), app::ConfigError);
}

// What an admin sees of the configuration: every setting, secrets redacted.
TEST(Config, EffectiveSettingsRedactSecrets) {
  auto c = remhart::app::config_from_toml(
      "[auth]\njwt_secret = \"0123456789abcdef0123456789abcdef-secret\"\n");
  const auto settings = remhart::app::effective_settings(c);
  std::map<std::string, std::string> by_key(settings.begin(), settings.end());
  EXPECT_EQ(by_key.at("auth.jwt_secret"), "\"(set)\"");
  EXPECT_EQ(by_key.at("server.port"), "8080");
  EXPECT_EQ(by_key.at("auth.enabled"), "true");
  for (const auto& [k, v] : settings) EXPECT_EQ(v.find("0123456789abcdef"), std::string::npos) << k;
  EXPECT_EQ(remhart::app::effective_settings(remhart::app::Config{}).size(), settings.size());
}
