#include "app/config.hpp"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <variant>

#include <toml++/toml.h>

#include "bus/redis_bus.hpp"
#include "mqtt/client.hpp"
#include "store/mariadb.hpp"

namespace remhart::app {
namespace {

// Settings whose values are never shown (settings page, `remhart check`).
bool is_secret(const std::string& key) {
  return key == "auth.jwt_secret" || key == "mqtt.password" || key == "redis.url";
}

using Field =
    std::variant<std::string Config::*, std::int64_t Config::*, double Config::*, bool Config::*>;

const std::vector<std::pair<std::string, Field>>& fields() {
  static const std::vector<std::pair<std::string, Field>> kFields = {
      {"server.host", &Config::host},
      {"server.port", &Config::port},
      {"server.io_threads", &Config::io_threads},
      {"server.job_threads", &Config::job_threads},
      {"server.body_limit_mb", &Config::body_limit_mb},
      {"server.header_timeout_s", &Config::header_timeout_s},
      {"server.ws_queue_limit", &Config::ws_queue_limit},
      {"server.ws_queue_kb", &Config::ws_queue_kb},
      {"server.web_dir", &Config::web_dir},
      {"server.tls_cert", &Config::tls_cert},
      {"server.tls_key", &Config::tls_key},
      {"server.cors_origins", &Config::cors_origins},
      {"server.trusted_proxies", &Config::trusted_proxies},
      {"auth.enabled", &Config::auth_enabled},
      {"auth.jwt_secret", &Config::jwt_secret},
      {"auth.access_ttl_s", &Config::access_ttl_s},
      {"auth.refresh_ttl_days", &Config::refresh_ttl_days},
      {"auth.argon2_memory_mib", &Config::argon2_memory_mib},
      {"auth.argon2_ops", &Config::argon2_ops},
      {"auth.login_free_failures", &Config::login_free_failures},
      {"auth.login_account_ceiling", &Config::login_account_ceiling},
      {"limits.anonymous_per_min", &Config::anonymous_per_min},
      {"limits.user_per_min", &Config::user_per_min},
      {"limits.admin_per_min", &Config::admin_per_min},
      {"limits.device_key_per_min", &Config::device_key_per_min},
      {"limits.ws_per_user", &Config::ws_per_user},
      {"limits.ws_total", &Config::ws_total},
      {"limits.studies_per_user", &Config::studies_per_user},
      {"limits.study_seconds", &Config::study_seconds},
      {"grid.state_interval_s", &Config::state_interval_s},
      {"server.study_threads", &Config::study_threads},
      {"limits.ws_unauthenticated_per_ip", &Config::ws_unauthenticated_per_ip},
      {"audit.retention_days", &Config::audit_retention_days},
      {"storage.data_dir", &Config::data_dir},
      {"storage.durability", &Config::durability},
      {"storage.max_queued_samples", &Config::max_queued_samples},
      {"storage.database_url", &Config::database_url},
      {"storage.pool_min", &Config::db_pool_min},
      {"storage.pool_max", &Config::db_pool_max},
      {"storage.object_store", &Config::object_store},
      {"storage.lease_ttl_s", &Config::lease_ttl_s},
      {"retention.real_days", &Config::retention_real_days},
      {"retention.sim_days", &Config::retention_sim_days},
      {"retention.interval_s", &Config::retention_interval_s},
      {"ingest.auto_register", &Config::auto_register},
      {"ingest.max_future_skew_s", &Config::max_future_skew_s},
      {"ingest.max_batch", &Config::max_batch},
      {"ingest.default_device", &Config::default_device},
      {"ingest.default_nominal_voltage", &Config::default_nominal_voltage},
      {"ingest.default_rated_current", &Config::default_rated_current},
      {"ingest.default_nominal_frequency", &Config::default_nominal_frequency},
      {"demo.enabled", &Config::demo},
      {"demo.scenario", &Config::demo_scenario},
      {"demo.history_days", &Config::demo_history_days},
      {"grid.keep_network_versions", &Config::keep_network_versions},
      {"analytics.enabled", &Config::analytics},
      {"analytics.shards", &Config::analytics_shards},
      {"analytics.store_every_s", &Config::analytics_store_every_s},
      {"analytics.schedule_s", &Config::analytics_schedule_s},
      {"analytics.scheduled_store_every_s", &Config::analytics_scheduled_store_every_s},
      {"analytics.network_schedule_s", &Config::analytics_network_schedule_s},
      {"analytics.train_on_start", &Config::train_on_start},
      {"analytics.retention_days", &Config::analytics_retention_days},
      {"simulator.twin", &Config::sim_twin},
      {"simulator.max_runs", &Config::sim_max_runs},
      {"simulator.run_budget_mb", &Config::sim_run_budget_mb},
      {"simulator.total_budget_mb", &Config::sim_total_budget_mb},
      {"redis.url", &Config::redis_url},
      {"redis.channel", &Config::redis_channel},
      {"mqtt.url", &Config::mqtt_url},
      {"mqtt.topic_prefix", &Config::mqtt_topic_prefix},
      {"mqtt.shared_group", &Config::mqtt_shared_group},
      {"mqtt.client_id", &Config::mqtt_client_id},
      {"mqtt.username", &Config::mqtt_username},
      {"mqtt.password", &Config::mqtt_password},
      {"mqtt.ca_file", &Config::mqtt_ca_file},
      {"mqtt.cert_file", &Config::mqtt_cert_file},
      {"mqtt.key_file", &Config::mqtt_key_file},
      {"mqtt.dead_letter_topic", &Config::mqtt_dead_letter_topic},
      {"mqtt.keepalive_s", &Config::mqtt_keepalive_s},
      {"mqtt.max_message_kb", &Config::mqtt_max_message_kb},
      {"log.level", &Config::log_level},
      {"log.json", &Config::log_json},
  };
  return kFields;
}

std::string env_name(const std::string& key) {
  std::string e = "REMHART_";
  for (char c : key) e.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(c)));
  return e;
}

void set_from_text(Config& c, const std::string& key, const Field& field, const std::string& text,
                   const std::string& source) {
  auto bad = [&](const char* expected) {
    throw ConfigError(key + ": '" + text + "' is not " + expected + " (from " + source + ")");
  };
  std::visit(
      [&](auto member) {
        using T = std::remove_cvref_t<decltype(c.*member)>;
        if constexpr (std::is_same_v<T, std::string>) {
          c.*member = text;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (text == "true" || text == "1" || text == "yes" || text == "on") {
            c.*member = true;
          } else if (text == "false" || text == "0" || text == "no" || text == "off") {
            c.*member = false;
          } else {
            bad("a boolean");
          }
        } else {
          T v{};
          auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
          if (ec != std::errc() || p != text.data() + text.size()) {
            bad(std::is_same_v<T, double> ? "a number" : "an integer");
          }
          c.*member = v;
        }
      },
      field);
}

std::string node_text(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto f = n.as_floating_point()) {
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, f->get());
    (void)ec;
    return std::string(buf, p);
  }
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  return {};
}

void check(bool ok, const std::string& key, const std::string& message) {
  if (!ok) throw ConfigError(key + ": " + message);
}

void validate(const Config& c) {
  check(!c.host.empty(), "server.host", "must not be empty");
  check(c.port >= 0 && c.port <= 65535, "server.port", "must be 0–65535 (0 picks a free port)");
  check(c.io_threads >= 1 && c.io_threads <= 64, "server.io_threads", "must be 1–64");
  check(c.job_threads >= 1 && c.job_threads <= 64, "server.job_threads", "must be 1–64");
  check(c.body_limit_mb >= 1 && c.body_limit_mb <= 1024, "server.body_limit_mb", "must be 1–1024");
  check(c.header_timeout_s >= 1 && c.header_timeout_s <= 3600, "server.header_timeout_s",
        "must be 1–3600");
  check(c.ws_queue_limit >= 1 && c.ws_queue_limit <= 1000000, "server.ws_queue_limit",
        "must be 1–1000000");
  check(c.tls_cert.empty() == c.tls_key.empty(), "server.tls_cert",
        "server.tls_cert and server.tls_key go together");
  check(c.auth_enabled || c.host == "127.0.0.1" || c.host == "::1" || c.host == "localhost",
        "auth.enabled", "may be false only when server.host is a loopback address");
  check(c.jwt_secret.empty() || c.jwt_secret.size() >= 32, "auth.jwt_secret",
        "must be at least 32 characters (or empty to generate keys into the data directory)");
  check(c.access_ttl_s >= 60 && c.access_ttl_s <= 86400, "auth.access_ttl_s", "must be 60–86400");
  check(c.refresh_ttl_days >= 1 && c.refresh_ttl_days <= 365, "auth.refresh_ttl_days",
        "must be 1–365");
  check(c.argon2_memory_mib >= 8 && c.argon2_memory_mib <= 4096, "auth.argon2_memory_mib",
        "must be 8–4096");
  check(c.argon2_ops >= 1 && c.argon2_ops <= 10, "auth.argon2_ops", "must be 1–10");
  check(c.login_free_failures >= 1 && c.login_free_failures <= 100, "auth.login_free_failures",
        "must be 1–100");
  check(c.login_account_ceiling >= 10 && c.login_account_ceiling <= 100000,
        "auth.login_account_ceiling", "must be 10–100000");
  for (auto [key, v] : {std::pair{"limits.anonymous_per_min", c.anonymous_per_min},
                        {"limits.user_per_min", c.user_per_min},
                        {"limits.admin_per_min", c.admin_per_min},
                        {"limits.device_key_per_min", c.device_key_per_min}}) {
    check(v >= 1 && v <= 100'000'000, key, "must be 1–100000000");
  }
  check(c.ws_per_user >= 1 && c.ws_per_user <= 100000, "limits.ws_per_user", "must be 1–100000");
  check(c.ws_total >= 1 && c.ws_total <= 1000000, "limits.ws_total", "must be 1–1000000");
  check(c.sim_run_budget_mb >= 1 && c.sim_run_budget_mb <= 100'000'000, "simulator.run_budget_mb",
        "must be 1–100000000");
  check(c.sim_total_budget_mb >= c.sim_run_budget_mb && c.sim_total_budget_mb <= 100'000'000,
        "simulator.total_budget_mb", "must be at least simulator.run_budget_mb");
  check(c.studies_per_user >= 1 && c.studies_per_user <= 1000, "limits.studies_per_user",
        "must be 1–1000");
  check(c.study_seconds >= 1 && c.study_seconds <= 86400, "limits.study_seconds",
        "must be 1–86400");
  check(c.state_interval_s >= 0 && c.state_interval_s <= 3600, "grid.state_interval_s",
        "must be 0–3600 (0: off)");
  check(c.study_threads >= 1 && c.study_threads <= 256, "server.study_threads", "must be 1–256");
  check(c.keep_network_versions >= 1 && c.keep_network_versions <= 10000,
        "grid.keep_network_versions", "must be 1–10000");
  check(c.ws_unauthenticated_per_ip >= 1 && c.ws_unauthenticated_per_ip <= 100000,
        "limits.ws_unauthenticated_per_ip", "must be 1–100000");
  check(c.ws_queue_kb >= 16 && c.ws_queue_kb <= 1024 * 1024, "server.ws_queue_kb",
        "must be 16–1048576");
  check(c.audit_retention_days >= 1 && c.audit_retention_days <= 36500, "audit.retention_days",
        "must be 1–36500");
  check(!c.data_dir.empty(), "storage.data_dir", "must not be empty");
  check(c.durability == "normal" || c.durability == "fsync", "storage.durability",
        "must be \"normal\" or \"fsync\"");
  check(c.max_queued_samples >= 10000, "storage.max_queued_samples", "must be at least 10000");
  if (!c.database_url.empty()) {
    try {
      store::maria::parse_url(c.database_url);
    } catch (const std::invalid_argument& e) {
      throw ConfigError("storage.database_url: " + std::string(e.what()));
    }
  }
  check(c.db_pool_max >= 1 && c.db_pool_max <= 1000, "storage.pool_max", "must be 1–1000");
  check(c.db_pool_min >= 0 && c.db_pool_min <= c.db_pool_max, "storage.pool_min",
        "must be 0–storage.pool_max");
  check(c.object_store == "directory" || c.object_store == "database", "storage.object_store",
        "must be directory or database");
  check(c.object_store == "directory" || !c.database_url.empty(), "storage.object_store",
        "database needs storage.database_url");
  check(c.lease_ttl_s >= 3 && c.lease_ttl_s <= 600, "storage.lease_ttl_s", "must be 3–600");
  check(c.retention_real_days >= 0 && c.retention_real_days <= 36500, "retention.real_days",
        "must be 0–36500 (0: never archive)");
  check(c.retention_sim_days >= 0 && c.retention_sim_days <= 36500, "retention.sim_days",
        "must be 0–36500 (0: keep until the run is deleted)");
  check(c.retention_interval_s >= 10 && c.retention_interval_s <= 86400, "retention.interval_s",
        "must be 10–86400");
  check(c.max_future_skew_s >= 0, "ingest.max_future_skew_s", "must not be negative");
  check(c.max_batch >= 1 && c.max_batch <= 100000, "ingest.max_batch", "must be 1–100000");
  check(c.default_nominal_voltage > 0, "ingest.default_nominal_voltage", "must be positive");
  check(c.default_rated_current > 0, "ingest.default_rated_current", "must be positive");
  check(c.default_nominal_frequency == 50 || c.default_nominal_frequency == 60,
        "ingest.default_nominal_frequency", "must be 50 or 60");
  check(!c.demo_scenario.empty(), "demo.scenario", "must name a scenario");
  check(c.demo_history_days >= 0 && c.demo_history_days <= 31, "demo.history_days", "must be 0–31");
  check(c.sim_max_runs >= 1 && c.sim_max_runs <= 64, "simulator.max_runs", "must be 1–64");
  check(c.analytics_shards >= 1 && c.analytics_shards <= 64, "analytics.shards", "must be 1–64");
  check(c.analytics_store_every_s >= 1 && c.analytics_store_every_s <= 86400,
        "analytics.store_every_s", "must be 1–86400");
  check(c.analytics_schedule_s >= 1 && c.analytics_schedule_s <= 86400, "analytics.schedule_s",
        "must be 1–86400");
  check(c.analytics_scheduled_store_every_s >= 1 && c.analytics_scheduled_store_every_s <= 86400,
        "analytics.scheduled_store_every_s", "must be 1–86400");
  check(c.analytics_network_schedule_s >= 1 && c.analytics_network_schedule_s <= 86400,
        "analytics.network_schedule_s", "must be 1–86400");
  check(c.analytics_retention_days >= 1 && c.analytics_retention_days <= 36500,
        "analytics.retention_days", "must be 1–36500");
  if (!c.redis_url.empty()) {
    try {
      bus::parse_redis_url(c.redis_url);
    } catch (const std::invalid_argument& e) {
      throw ConfigError("redis.url: " + std::string(e.what()));
    }
  }
  check(!c.redis_channel.empty() && c.redis_channel.size() <= 256, "redis.channel",
        "must be 1–256 bytes");
  if (!c.mqtt_url.empty()) {
    try {
      const auto o = mqtt::options_from_url(c.mqtt_url);
      check(o.tls || (c.mqtt_ca_file.empty() && c.mqtt_cert_file.empty()), "mqtt.ca_file",
            "TLS settings need an mqtts:// url");
    } catch (const std::invalid_argument& e) {
      throw ConfigError("mqtt.url: " + std::string(e.what()));
    }
  }
  check(c.mqtt_cert_file.empty() == c.mqtt_key_file.empty(), "mqtt.key_file",
        "mqtt.cert_file and mqtt.key_file go together");
  const auto topic_level = [](const std::string& t) {
    return !t.empty() && t.find_first_of("+#") == std::string::npos && t.size() <= 1024;
  };
  check(topic_level(c.mqtt_topic_prefix), "mqtt.topic_prefix",
        "must be a topic without + or # (1–1024 bytes)");
  check(c.mqtt_shared_group.empty() || (topic_level(c.mqtt_shared_group) &&
                                        c.mqtt_shared_group.find('/') == std::string::npos),
        "mqtt.shared_group", "must be one topic level (no /, + or #)");
  check(c.mqtt_dead_letter_topic.empty() || topic_level(c.mqtt_dead_letter_topic),
        "mqtt.dead_letter_topic", "must be a topic without + or # (1–1024 bytes)");
  check(c.mqtt_keepalive_s >= 2 && c.mqtt_keepalive_s <= 65535, "mqtt.keepalive_s",
        "must be 2–65535");
  check(c.mqtt_max_message_kb >= 1 && c.mqtt_max_message_kb <= 262144, "mqtt.max_message_kb",
        "must be 1–262144");
  static const std::vector<std::string> kLevels = {"trace", "debug", "info",
                                                   "warn",  "error", "off"};
  check(std::find(kLevels.begin(), kLevels.end(), c.log_level) != kLevels.end(), "log.level",
        "must be trace, debug, info, warn, error or off");
}

}  // namespace

std::vector<std::pair<std::string, std::string>> describe(const Config& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : fields()) {
    const std::string& key = entry.first;  // named, not bound: the lambda captures it (clang 14)
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(c.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            const bool secret = is_secret(key) && !(c.*member).empty();
            out.emplace_back(key, secret ? "(set, hidden)"
                                  : key == "storage.database_url"
                                      ? store::maria::redacted_url(c.*member)
                                      : c.*member);
          } else if constexpr (std::is_same_v<T, bool>) {
            out.emplace_back(key, c.*member ? "true" : "false");
          } else if constexpr (std::is_same_v<T, double>) {
            char buf[64];
            auto [p, ec] = std::to_chars(buf, buf + sizeof buf, c.*member);
            (void)ec;
            out.emplace_back(key, std::string(buf, p));
          } else {
            out.emplace_back(key, std::to_string(c.*member));
          }
        },
        entry.second);
  }
  return out;
}

namespace {
// Sets what a configuration file's text names; errors name `source` and the line.
void apply_toml(Config& c, std::string_view text, const std::string& source) {
  std::map<std::string, Field> by_key(fields().begin(), fields().end());
  toml::table tbl;
  try {
    tbl = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(source + ":" + std::to_string(e.source().begin.line) + ": " +
                      std::string(e.description()));
  }
  for (const auto& [section, node] : tbl) {
    const auto* t = node.as_table();
    if (!t) {
      throw ConfigError(source + ": '" + std::string(section.str()) +
                        "' must be a [section] table");
    }
    for (const auto& [name, value] : *t) {
      const std::string key = std::string(section.str()) + "." + std::string(name.str());
      const auto it = by_key.find(key);
      if (it == by_key.end()) throw ConfigError(source + ": unknown setting '" + key + "'");
      const std::string value_text = node_text(value);
      if (value_text.empty() && !value.is_string()) {
        throw ConfigError(key + ": unsupported value type (from " + source + ")");
      }
      set_from_text(c, key, it->second, value_text, source);
    }
  }
}
}  // namespace

Config config_from_toml(std::string_view text) {
  Config c;
  apply_toml(c, text, "config");
  validate(c);
  return c;
}

Config load_config(const std::optional<std::string>& file,
                   const std::function<const char*(const char*)>& getenv,
                   const std::vector<std::pair<std::string, std::string>>& overrides) {
  Config c;
  std::map<std::string, Field> by_key(fields().begin(), fields().end());
  std::optional<std::string> path = file;
  if (!path) {
    if (const char* e = getenv("REMHART_CONFIG")) path = e;
  }
  if (!path && std::filesystem::exists("remhart.toml")) path = "remhart.toml";
  if (path) {
    if (!std::filesystem::exists(*path)) throw ConfigError("config file " + *path + " not found");
    std::ifstream in(*path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    apply_toml(c, text.str(), *path);
  }
  for (const auto& [key, field] : fields()) {
    const std::string name = env_name(key);
    if (const char* v = getenv(name.c_str())) set_from_text(c, key, field, v, name);
  }
  for (const auto& [key, text] : overrides) {
    const auto it = by_key.find(key);
    if (it == by_key.end()) throw ConfigError("unknown setting '" + key + "'");
    set_from_text(c, key, it->second, text, "command line");
  }
  validate(c);
  return c;
}

std::vector<std::pair<std::string, std::string>> effective_settings(const Config& c) {
  auto quoted = [](const std::string& text) {
    std::string out = "\"";
    for (char ch : text) {
      if (ch == '"' || ch == '\\') out.push_back('\\');
      if (static_cast<unsigned char>(ch) >= 0x20) out.push_back(ch);
    }
    return out + "\"";
  };
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, field] : fields()) {
    std::string value = std::visit(
        [&](auto member) -> std::string {
          using T = std::remove_cvref_t<decltype(c.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            return quoted(c.*member);
          } else if constexpr (std::is_same_v<T, bool>) {
            return c.*member ? "true" : "false";
          } else {
            std::ostringstream os;
            os << c.*member;
            return os.str();
          }
        },
        field);
    if (is_secret(key)) value = value == "\"\"" ? value : quoted("(set)");
    if (key == "storage.database_url") value = quoted(store::maria::redacted_url(c.database_url));
    out.emplace_back(key, std::move(value));
  }
  return out;
}

}  // namespace remhart::app
