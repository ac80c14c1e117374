#pragma once
// Configuration: defaults < remhart.toml < REMHART_* environment < command-line flags.
// Every setting has a dotted key (`server.port`); its environment name is REMHART_ + the key in
// upper case with dots as underscores (`REMHART_SERVER_PORT`).
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace remhart::app {

struct Config {
  // [server]
  std::string host = "127.0.0.1";
  std::int64_t port = 8080;
  std::int64_t io_threads = 2;
  /// Blocking work off the I/O threads: database reads and writes, password hashing (logins),
  /// network-model uploads, exports. Grid studies have their own (study_threads).
  std::int64_t job_threads = 2;
  std::int64_t body_limit_mb = 16;
  std::int64_t header_timeout_s = 30;
  std::int64_t ws_queue_limit = 1024;
  std::int64_t ws_queue_kb = 4096;
  /// The dashboard's built files; empty = found beside the executable (app::web_dir).
  std::string web_dir;
  std::string tls_cert;         ///< PEM certificate chain; TLS is on when set (with tls_key)
  std::string tls_key;          ///< PEM private key
  std::string cors_origins;     ///< comma-separated exact origins allowed from browsers
  std::string trusted_proxies;  ///< comma-separated gateway addresses whose X-Forwarded-For counts
  // [auth]
  bool auth_enabled = true;  ///< false only on a loopback address, for measurements
  std::string jwt_secret;    ///< ≥ 32 bytes; empty: keys generated into <data_dir>/jwt-keys.json
  std::int64_t access_ttl_s = 3600;
  std::int64_t refresh_ttl_days = 30;
  std::int64_t argon2_memory_mib = 64;
  std::int64_t argon2_ops = 2;
  std::int64_t login_free_failures = 5;      ///< per (account, address)
  std::int64_t login_account_ceiling = 100;  ///< per account, from every address
  // [limits]
  std::int64_t anonymous_per_min = 100;
  std::int64_t user_per_min = 1000;
  std::int64_t admin_per_min = 5000;
  std::int64_t device_key_per_min = 6000;
  std::int64_t ws_per_user = 20;
  std::int64_t ws_total = 10000;
  std::int64_t ws_unauthenticated_per_ip = 8;
  std::int64_t keep_network_versions = 10;
  std::int64_t studies_per_user = 2;
  std::int64_t sim_run_budget_mb = 2048;
  std::int64_t sim_total_budget_mb = 8192;
  std::int64_t study_seconds = 60;
  std::int64_t state_interval_s = 5;  ///< the state estimator's cadence (0: off)
  std::int64_t study_threads = 1;
  // [audit]
  std::int64_t audit_retention_days = 365;
  // [storage]
  std::string data_dir = "./data";
  std::string durability = "normal";  // normal | fsync
  /// mariadb://user:password@host:port/database: measurements in MariaDB/MySQL; empty: SQLite
  std::string database_url;
  std::int64_t db_pool_min = 2, db_pool_max = 16;  ///< reader connections to the database
  std::string object_store = "directory";          ///< directory (<data_dir>/objects) | database
  std::int64_t lease_ttl_s = 15;  ///< a periodic job's leader lease (renewed every third of it)
  // [retention]
  std::int64_t retention_real_days = 90;  ///< real samples archived after this; 0: never
  std::int64_t retention_sim_days = 0;    ///< simulation runs' samples; 0: kept until deleted
  std::int64_t retention_interval_s = 3600;
  std::int64_t max_queued_samples = 400000;
  // [ingest]
  bool auto_register = false;
  std::int64_t max_future_skew_s = 300;
  std::int64_t max_batch = 10000;
  std::string default_device = "meter-01";
  double default_nominal_voltage = 230.0;
  double default_rated_current = 100.0;
  double default_nominal_frequency = 50.0;
  // [demo]
  bool demo = true;  ///< a realtime run of the demo twin at start
  std::string demo_scenario = "normal_day";
  double demo_history_days = 8;  ///< simulated first at 15-minute steps (the forecasts' history)
  // [analytics]
  bool analytics = true;                 ///< serve the monitoring models on every sample
  std::int64_t analytics_shards = 2;     ///< threads the monitoring models run on
  double analytics_store_every_s = 300;  ///< history: one result per device and model this often
  double analytics_network_schedule_s = 300;  ///< set-points and stability score this often
  double analytics_schedule_s = 60;
  double analytics_scheduled_store_every_s =
      300;  ///< their history: one result this often  ///< the scheduled models, per device, this
            ///< often (sample time)
  std::int64_t analytics_retention_days = 90;  ///< stored results older than this are deleted
  bool train_on_start = true;  ///< train the models in the background when none are trained
  // [simulator]
  std::string sim_twin;  ///< twin file; empty = the demo feeder shipped in share/twins
  std::int64_t sim_max_runs = 4;
  // [redis]
  std::string redis_url;  ///< redis://[:password@]host[:port]: live fan-out across replicas
  std::string redis_channel = "remhart:live";
  // [mqtt]
  std::string mqtt_url;  ///< mqtt://host[:port]; empty: no MQTT ingestion
  std::string mqtt_topic_prefix = "remhart";
  std::string mqtt_shared_group;  ///< replicas share the subscription ($share/<group>/…)
  std::string
      mqtt_client_id;  ///< fixed per replica (the broker keeps its session); default remhart-<host>
  std::string mqtt_username, mqtt_password;
  std::string mqtt_ca_file;                   ///< mqtts://: the broker's CA (default: the system's)
  std::string mqtt_cert_file, mqtt_key_file;  ///< mqtts://: a client certificate
  std::string mqtt_dead_letter_topic;         ///< default <prefix>/dead-letter
  std::int64_t mqtt_keepalive_s = 30;
  std::int64_t mqtt_max_message_kb = 1024;
  // [log]
  std::string log_level = "info";
  bool log_json = false;
};

/// A setting that failed to load or validate; the message names it and where it came from.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Every known key with its current value as text (for `config check`).
std::vector<std::pair<std::string, std::string>> describe(const Config& c);

/// A configuration from the text of a configuration file alone (defaults < the file; no
/// environment or flags), checked. Throws ConfigError naming the line or the setting.
Config config_from_toml(std::string_view text);

/// Every setting with its effective value, as (key, JSON value text), secrets redacted
/// (`auth.jwt_secret` shows "(set)" or ""): what an admin may see of the running server.
std::vector<std::pair<std::string, std::string>> effective_settings(const Config& c);

/// Builds the configuration. `file` is read when given (an explicitly named file must exist);
/// `getenv` reads the environment; `overrides` are flag values as (key, text).
Config load_config(const std::optional<std::string>& file,
                   const std::function<const char*(const char*)>& getenv,
                   const std::vector<std::pair<std::string, std::string>>& overrides);

}  // namespace remhart::app
