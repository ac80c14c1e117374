// The composition root: builds every service, wires them and runs the server.
#include "app/serve.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "analytics/registry.hpp"
#include "api/active_network.hpp"
#include "api/analytics_service.hpp"
#include "api/context.hpp"
#include "api/live_fanout.hpp"
#include "api/live_hub.hpp"
#include "api/openapi.hpp"
#include "api/router.hpp"
#include "api/security.hpp"
#include "api/server.hpp"
#include "api/state_service.hpp"
#include "api/static_files.hpp"
#include "api/study_runner.hpp"
#include "api/ws_frame.hpp"
#include "app/identity.hpp"
#include "app/retention.hpp"
#include "app/share_dir.hpp"
#include "bus/login_failures.hpp"
#include "bus/redis_budget.hpp"
#include "bus/redis_bus.hpp"
#include "bus/replica_ring.hpp"
#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "ingest/ingest_service.hpp"
#include "ingest/mqtt_source.hpp"
#include "obs/metrics.hpp"
#include "obs/self_check.hpp"
#include "runs/simulation_runs.hpp"
#include "sim/io/twin_json.hpp"
#include "store/lease.hpp"
#include "store/mariadb_store.hpp"
#include "store/ml_results.hpp"
#include "store/network_repo.hpp"
#include "store/object_store.hpp"
#include "store/sim_repo.hpp"
#include "store/sqlite_store.hpp"

namespace remhart::app {

namespace {
// %* in a pattern: the message as the inside of a JSON string (quotes, backslashes and control
// characters escaped), so JSON log lines stay JSON whatever a message holds.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    const std::string_view text(msg.payload.data(), msg.payload.size());
    const bool utf8 = api::ws::valid_utf8(text);  // else bytes above 0x7f become U+FFFD
    for (const char ch : text) {
      const auto c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        default:
          if (c >= 0x80 && !utf8) {
            dest.append(std::string_view("\\ufffd"));
          } else if (c < 0x20 || c == 0x7f) {
            const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
            dest.append(esc, esc + 6);
          } else {
            dest.push_back(ch);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};
}  // namespace

std::unique_ptr<spdlog::formatter> json_log_formatter() {
  auto f = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  f->add_flag<JsonEscapedMessage>('*').set_pattern(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
  return f;
}

void setup_logging(const Config& c) {
  auto logger = spdlog::stdout_logger_mt("remhart");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(c.log_level));
  if (c.log_json) {
    spdlog::set_formatter(json_log_formatter());
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v", spdlog::pattern_time_type::utc);
  }
  spdlog::flush_on(spdlog::level::info);
}

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

// Sent on every response. The CSP suits the dashboard (same-origin scripts, styles, data and
// live stream) and forbids framing; JSON answers are never cached.
std::vector<std::pair<std::string, std::string>> security_headers(bool tls) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Content-Security-Policy",
       "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cache-Control", "no-store"},
  };
  if (tls) h.emplace_back("Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  return h;
}

}  // namespace

store::SqliteOptions store_options(const Config& c) {
  store::SqliteOptions so;
  so.path = (std::filesystem::path(c.data_dir) / "remhart.db").string();
  so.fsync = c.durability == "fsync";
  so.max_queued_samples = static_cast<std::size_t>(c.max_queued_samples);
  return so;
}

std::unique_ptr<store::Store> open_store(const Config& c, obs::Registry* metrics) {
  if (c.database_url.empty())
    return std::make_unique<store::SqliteStore>(store_options(c), metrics);
  store::MariadbOptions mo;
  mo.url = c.database_url;
  mo.pool_min = static_cast<std::size_t>(c.db_pool_min);
  mo.pool_max = static_cast<std::size_t>(c.db_pool_max);
  mo.max_queued_samples = static_cast<std::size_t>(c.max_queued_samples);
  return std::make_unique<store::MariadbStore>(mo, metrics);
}

std::unique_ptr<store::SimRunRepository> open_sim_runs(const Config& c) {
  if (c.database_url.empty())
    return std::make_unique<store::SqliteSimRunRepository>(store_options(c).path);
  return std::make_unique<store::MariadbSimRunRepository>(c.database_url);
}

int mark_interrupted_runs(const Config& c, store::SimRunRepository& runs) {
  const auto now = core::now_us();
  return runs.mark_interrupted(
      now, c.database_url.empty() ? now + 1 : now - store::SimRunRepository::kLostAfterUs);
}

std::shared_ptr<core::ObjectStore> open_objects(const Config& c) {
  if (c.object_store == "database")
    return std::make_shared<store::MariadbObjectStore>(c.database_url);
  return std::make_shared<store::DirectoryObjectStore>(std::filesystem::path(c.data_dir) /
                                                       "objects");
}

std::unique_ptr<analytics::ModelRegistry> open_models(const Config& c,
                                                      std::shared_ptr<core::ObjectStore> objects) {
  if (c.object_store == "database") {
    return std::make_unique<analytics::ModelRegistry>(std::move(objects), "models/");
  }
  return std::make_unique<analytics::ModelRegistry>(
      std::make_shared<store::DirectoryObjectStore>(std::filesystem::path(c.data_dir) / "models"));
}

store::RetentionPolicy retention_policy(const Config& c) {
  store::RetentionPolicy p;
  p.real_days = c.retention_real_days;
  p.sim_days = c.retention_sim_days;
  return p;
}

ingest::IngestOptions ingest_options(const Config& c) {
  ingest::IngestOptions io;
  io.limits.max_future_skew = c.max_future_skew_s * core::kUsPerSecond;
  io.auto_register = c.auto_register;
  io.max_batch = static_cast<std::size_t>(c.max_batch);
  io.new_device_defaults.nominal_voltage = c.default_nominal_voltage;
  io.new_device_defaults.rated_current = c.default_rated_current;
  io.new_device_defaults.nominal_frequency = c.default_nominal_frequency;
  return io;
}

ingest::MqttSourceOptions mqtt_options(const Config& c) {
  ingest::MqttSourceOptions o;
  o.client = mqtt::options_from_url(c.mqtt_url);
  if (o.client.tls) o.client.tls = {c.mqtt_ca_file, c.mqtt_cert_file, c.mqtt_key_file};
  auto& connect = o.client.connect;
  connect.client_id = c.mqtt_client_id;
  if (connect.client_id.empty()) {  // fixed per machine, so the broker keeps this replica's session
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    connect.client_id = std::string("remhart-") + host;
  }
  connect.clean_session = false;
  connect.keepalive_s = static_cast<std::uint16_t>(c.mqtt_keepalive_s);
  if (!c.mqtt_username.empty()) connect.username = c.mqtt_username;
  if (!c.mqtt_password.empty()) connect.password = c.mqtt_password;
  o.client.max_packet_bytes = static_cast<std::size_t>(c.mqtt_max_message_kb) * 1024 + 1024;
  o.prefix = c.mqtt_topic_prefix;
  o.shared_group = c.mqtt_shared_group;
  o.dead_letter = c.mqtt_dead_letter_topic;
  return o;
}

runs::StorageBudget sim_budget(const Config& c) {
  return {c.sim_run_budget_mb << 20, c.sim_total_budget_mb << 20};
}

std::shared_ptr<const sim::Twin> load_twin(const Config& c) {
  try {
    return std::make_shared<const sim::Twin>(
        sim::io::read_twin_file(c.sim_twin.empty() ? demo_twin_path() : c.sim_twin));
  } catch (const std::exception& e) {
    throw core::Error(core::ErrorKind::bad_request, std::string("simulator.twin: ") + e.what(),
                      "simulator.twin");
  }
}

namespace {
// {"settings": {"server.port": 8080, …}} for GET /api/settings.
std::string settings_json(const Config& c) {
  std::string out = "{\"settings\":{";
  bool first = true;
  for (const auto& [key, value] : effective_settings(c)) {
    out += (first ? "\"" : ",\"") + key + "\":" + value;
    first = false;
  }
  return out + "}}";
}

// The dashboard's files: server.web_dir, else beside the executable; a server without them still
// serves the API.
std::unique_ptr<const api::StaticFiles> load_dashboard(const Config& c) {
  const std::string dir = c.web_dir.empty() ? web_dir() : c.web_dir;
  if (dir.empty()) {
    spdlog::warn("the dashboard is not built (make web): / answers 404; the API is unaffected");
    return nullptr;
  }
  try {
    auto files = std::make_unique<const api::StaticFiles>(dir);
    spdlog::info("dashboard: {} files, {} KiB from {}", files->files(), files->bytes() >> 10, dir);
    return files;
  } catch (const std::exception& e) {
    throw core::Error(core::ErrorKind::bad_request, std::string("server.web_dir: ") + e.what(),
                      "server.web_dir");
  }
}

std::string replica_name() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" +
         std::to_string(core::now_us());
}

std::unique_ptr<store::Leases> open_leases(const Config& c) {
  if (c.database_url.empty()) return std::make_unique<store::LocalLeases>();
  return std::make_unique<store::MariadbLeases>(c.database_url);
}
}  // namespace

DataDirLock::DataDirLock(const std::string& data_dir) {
  std::filesystem::create_directories(data_dir);
  const auto path = (std::filesystem::path(data_dir) / "remhart.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (fd_ >= 0) ::close(fd_);
    throw core::Error(core::ErrorKind::conflict,
                      "another remhart process is writing to the data directory " + data_dir);
  }
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {
// Each connection holds a descriptor: the usual soft limit of 1,024 is reached long before the
// live-stream cap, so take what the hard limit allows.
void raise_descriptor_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= r.rlim_max) return;
  const auto before = r.rlim_cur;
  r.rlim_cur = r.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &r) == 0) {
    spdlog::info("open file limit raised from {} to {}", before, r.rlim_cur);
  }
}
}  // namespace

int serve(const Config& c) {
  raise_descriptor_limit();
  DataDirLock lock(c.data_dir);
  obs::Registry metrics;
  const auto so = store_options(c);
  const auto store_ptr = open_store(c, &metrics);
  store::Store& store = *store_ptr;
  const auto objects = open_objects(c);
  obs::register_self_checks(metrics, c.data_dir);
  metrics.gauge_fn("remhart_ingest_lag_seconds",
                   "How long the oldest accepted batch not yet committed has waited",
                   [&store] { return store.stats().queue_wait_s; });
  ingest::IngestService ingest(store, ingest_options(c), &metrics);
  std::unique_ptr<ingest::MqttSource> mqtt_source;
  if (!c.mqtt_url.empty())
    mqtt_source = std::make_unique<ingest::MqttSource>(ingest, mqtt_options(c), &metrics);

  Identity identity(c, &metrics);
  if (!c.auth_enabled) {
    spdlog::warn("authentication is DISABLED (auth.enabled=false): every caller is an admin");
  }

  // Network model versions: in the shared database with several replicas, each noticing within
  // two seconds when another made a new one active.
  std::unique_ptr<store::NetworkRepository> network_versions;
  const auto keep_versions = static_cast<std::size_t>(c.keep_network_versions);
  if (c.database_url.empty()) {
    network_versions = std::make_unique<store::SqliteNetworkRepository>(so.path, keep_versions);
  } else {
    network_versions =
        std::make_unique<store::MariadbNetworkRepository>(c.database_url, keep_versions);
  }
  api::ActiveNetwork networks(*network_versions);
  if (!c.database_url.empty()) {
    networks.watch(std::chrono::seconds(2),
                   &metrics.counter("remhart_background_failures_total",
                                    "Background jobs that failed", "pool=\"networks\""));
  }

  api::LiveHub hub(store, &metrics);
  // Background work never ends the process: a job that throws is logged and counted.
  auto on_failure = [&metrics](const char* pool) {
    auto& failures =
        metrics.counter("remhart_background_failures_total", "Background jobs that failed",
                        std::string("pool=\"") + pool + "\"");
    return [pool, &failures](const std::string& what) {
      failures.inc();
      spdlog::error("{} job failed: {}", pool, what);
    };
  };
  core::ThreadPool jobs(static_cast<std::size_t>(c.job_threads), on_failure("jobs"));
  // Grid studies have their own threads: reads, ingestion and logins never wait behind them.
  core::ThreadPool study_pool(static_cast<std::size_t>(c.study_threads), on_failure("studies"));
  metrics.gauge_fn("remhart_jobs_queued", "Blocking jobs (queries, device writes) waiting",
                   [&jobs] { return static_cast<double>(jobs.queued()); });
  api::LiveFanout fanout(hub, 256, &metrics, on_failure("fanout"));
  // This process among the replicas (Redis messages, leases): host, process and start time.
  const std::string replica = replica_name();
  // Periodic jobs one replica runs at a time: the holder of the job's lease in the shared
  // database (alone, this process holds them all). Jobs are added below; start() comes once the
  // server listens.
  const auto leases = open_leases(c);
  auto leadership = std::make_unique<store::Leadership>(
      *leases,
      store::Leadership::Options{.holder = replica,
                                 .ttl = std::chrono::seconds(c.lease_ttl_s),
                                 .renew = std::chrono::seconds(c.lease_ttl_s) / 3},
      &metrics);
  // Several replicas: the ones alive share the devices (device affinity), request budgets are
  // shared, and what each stores reaches the live streams — and the owners' analytics — of all.
  std::optional<bus::RedisOptions> redis_options;
  std::unique_ptr<bus::ReplicaRing> ring;
  std::unique_ptr<bus::RedisBudget> shared_budgets;
  std::unique_ptr<bus::RedisLoginFailures> login_failures;
  if (!c.redis_url.empty()) {
    redis_options = bus::parse_redis_url(c.redis_url);
    redis_options->channel = c.redis_channel;
    redis_options->replica = replica;
    ring = std::make_unique<bus::ReplicaRing>(bus::ReplicaRing::Options{.redis = *redis_options},
                                              &metrics);
    shared_budgets = std::make_unique<bus::RedisBudget>(*redis_options, &metrics);
    login_failures =
        std::make_unique<bus::RedisLoginFailures>(*redis_options, std::chrono::hours(2), &metrics);
    identity.authenticator().share_login_failures(login_failures.get());
  }
  const auto twin = load_twin(c);
  // Analytics: the model registry in the data directory, the monitoring models on every stored
  // sample, their history in the database.
  std::atomic<bus::RedisBus*> shared_with{nullptr};  // set once the bus below exists
  std::unique_ptr<analytics::ModelRegistry> models;
  std::unique_ptr<store::MlResultRepository> ml_results;
  std::unique_ptr<api::AnalyticsService> analytics_service;
  if (c.analytics) {
    models = open_models(c, objects);
    // Several replicas share the history: a device's owner writes it, any replica reads it.
    if (c.database_url.empty()) {
      ml_results = std::make_unique<store::SqliteMlResultRepository>(so.path);
    } else {
      ml_results = std::make_unique<store::MariadbMlResultRepository>(c.database_url);
    }
    analytics_service = std::make_unique<api::AnalyticsService>(
        *models, store, *ml_results, hub, twin,
        api::AnalyticsService::Options{
            .shards = static_cast<std::size_t>(c.analytics_shards),
            .store_every_s = c.analytics_store_every_s,
            .schedule_s = c.analytics_schedule_s,
            .scheduled_store_every_s = c.analytics_scheduled_store_every_s,
            .network_schedule_s = c.analytics_network_schedule_s,
            .retention_days = c.analytics_retention_days,
            .owns = ring ? std::function<bool(std::string_view)>(
                               [&ring](std::string_view d) { return ring->owns(d); })
                         : nullptr,
            .share = ring ? std::function<void(const std::string&, const std::string&)>(
                                [&shared_with](const std::string& key, const std::string& data) {
                                  if (auto* bus = shared_with.load()) bus->publish_event(key, data);
                                })
                          : nullptr,
            .leads_network = c.database_url.empty()
                                 ? std::function<bool()>()
                                 : [&leadership] { return leadership->leads("network-models"); }},
        &metrics, on_failure("analytics"));
    // Activations elsewhere (another replica, `remhart train`) are served within two seconds.
    analytics_service->watch_models(
        std::chrono::seconds(2),
        &metrics.counter("remhart_background_failures_total", "Background jobs that failed",
                         "pool=\"models\""));
    spdlog::info("analytics: {} model(s) loaded from {}", analytics_service->models_loaded(),
                 models->where());
  }
  std::unique_ptr<bus::RedisBus> redis;
  if (redis_options) {
    redis = std::make_unique<bus::RedisBus>(
        *redis_options,
        [&store, &fanout, svc = analytics_service.get()](std::vector<store::StoredSample> s) {
          store.note_remote_commit(s);  // the latest-value cache
          if (svc) svc->on_remote(s);
          fanout.on_remote(std::move(s));
        },
        [svc = analytics_service.get()](const std::string& key, const std::string& data) {
          if (svc) svc->on_remote_results(key, data);
        },
        &metrics);
    shared_with = redis.get();
  }
  store.set_commit_listener([&fanout, bus = redis.get(), svc = analytics_service.get()](
                                std::span<const store::CommittedSeries> committed) {
    fanout.on_commit(committed);
    if (bus) bus->publish(committed);
    if (svc) svc->on_commit(committed);
  });

  // Simulation runs: runs a previous process left going are marked stopped; progress and status
  // changes go out on the live stream as `simulation` messages.
  const auto sim_runs_ptr = open_sim_runs(c);
  store::SimRunRepository& sim_runs = *sim_runs_ptr;
  if (const int n = mark_interrupted_runs(c, sim_runs)) {
    spdlog::info("{} simulation run(s) were cut off by the last shutdown: marked stopped", n);
  }
  // A fresh install has a model to study and draw: the twin's network, its loads at their peak.
  if (networks.empty()) {
    if (const auto installed = networks.install_first(
            std::make_shared<grid::Network>(sim::study_model(*twin)), "first start")) {
      spdlog::info("network model: the {} twin's network ({} buses) registered as version {}",
                   twin->name, installed->network->buses.size(), installed->id);
    }
  }
  runs::SimulationRuns simulator(
      store, ingest, sim_runs, twin,
      [&hub](const store::SimRun& r) {
        hub.broadcast("simulation", "sim:" + r.id, api::run_json(r));
      },
      static_cast<std::size_t>(c.sim_max_runs), sim_budget(c),
      &metrics.counter("remhart_background_failures_total", "Background jobs that failed",
                       "pool=\"runs\""));
  metrics.gauge_fn("remhart_sim_runs_running", "Simulation runs going",
                   [&simulator] { return static_cast<double>(simulator.running()); });

  api::StudyLimits study_limits;
  study_limits.per_user = static_cast<unsigned>(c.studies_per_user);
  study_limits.budget = std::chrono::seconds(c.study_seconds);
  api::StudyRunner studies(
      [&study_pool](std::function<void()> fn) { study_pool.post(std::move(fn)); },
      [&study_pool] { return study_pool.queued(); }, study_limits, &metrics);

  api::SecurityOptions sec;
  sec.auth_enabled = c.auth_enabled;
  sec.anonymous_per_min = static_cast<int>(c.anonymous_per_min);
  sec.user_per_min = static_cast<int>(c.user_per_min);
  sec.admin_per_min = static_cast<int>(c.admin_per_min);
  sec.device_key_per_min = static_cast<int>(c.device_key_per_min);
  sec.ws_per_user = static_cast<int>(c.ws_per_user);
  sec.ws_total = static_cast<int>(c.ws_total);
  sec.ws_unauthenticated_per_ip = static_cast<int>(c.ws_unauthenticated_per_ip);
  sec.cors_origins = split_list(c.cors_origins);
  api::SecurityGate gate(sec, &identity.authenticator(), identity.audit(), store, &metrics);
  gate.share_budgets(shared_budgets.get());

  std::atomic<bool> ready{false};
  api::ApiContext ctx{
      .store = store,
      .ingest = ingest,
      .hub = hub,
      .metrics = metrics,
      .gate = gate,
      .auth = identity.authenticator(),
      .audit = identity.audit(),
      .networks = networks,
      .simulator = simulator,
      .studies = studies,
      .run_blocking = [&jobs](std::function<void()> fn) { jobs.post(std::move(fn)); },
      .queued_jobs = [&jobs] { return jobs.queued(); },
      .max_queued_jobs = 1000,
      .ready = [&ready] { return ready.load(); },
      .default_device = c.default_device,
      .cookies = {.secure = !c.tls_cert.empty(), .max_age_s = c.refresh_ttl_days * 86400},
      .settings_json = settings_json(c),
      .version = REMHART_VERSION,
      .started_at = core::now_us(),
      .data_dir = c.data_dir,
      .models = models.get(),
      .analytics = analytics_service.get(),
      .ml_results = ml_results.get(),
      .mqtt = mqtt_source.get(),
      .objects = objects.get(),
      .redis = redis.get()};
  // The state estimator: the active source's state every grid.state_interval_s.
  std::unique_ptr<api::StateService> state_service;
  if (c.state_interval_s > 0) {
    state_service = std::make_unique<api::StateService>(
        ctx, std::chrono::seconds(c.state_interval_s), &metrics);
    ctx.state = state_service.get();
  }
  api::Router router(&metrics);
  router.set_guard(&gate);
  api::add_grid_routes(router, ctx);
  api::add_ops_routes(router, ctx);
  api::add_auth_routes(router, ctx);
  api::add_network_routes(router, ctx);
  api::add_simulator_routes(router, ctx);
  api::add_ml_routes(router, ctx);
  api::add_openapi_route(router, REMHART_VERSION);
  const auto dashboard = load_dashboard(c);
  api::add_web_routes(router, dashboard.get());

  api::ServerOptions opt;
  opt.host = c.host;
  opt.port = static_cast<std::uint16_t>(c.port);
  opt.threads = static_cast<int>(c.io_threads);
  opt.body_limit = static_cast<std::size_t>(c.body_limit_mb) * 1024 * 1024;
  opt.header_timeout = std::chrono::seconds(c.header_timeout_s);
  opt.ws_queue_limit = static_cast<std::size_t>(c.ws_queue_limit);
  opt.ws_queue_bytes = static_cast<std::size_t>(c.ws_queue_kb) * 1024;
  opt.tls_cert = c.tls_cert;
  opt.tls_key = c.tls_key;
  opt.response_headers = security_headers(!c.tls_cert.empty());
  opt.trusted_proxies = split_list(c.trusted_proxies);
  api::HttpServer server(opt, router, hub, gate, &metrics);
  const auto port = server.listen();
  leadership->add("retention");
  std::string demo_run;  // the leadership thread's
  if (c.demo) {
    leadership->add(
        "demo",
        [&] {
          runs::RunRequest demo;
          demo.scenario = c.demo_scenario;
          demo.created_by = "demo";
          demo.history_days = c.demo_history_days;
          const auto run = simulator.start(demo);  // realtime, until stopped
          simulator.pin(run.id);
          demo_run = run.id;
          spdlog::info("demo: realtime {} simulation of the {} twin, origin sim:{}", run.scenario,
                       twin->name, run.id);
        },
        [&] {
          if (!demo_run.empty()) simulator.stop(demo_run);
          demo_run.clear();
        });
  }
  if (analytics_service) {
    leadership->add("network-models");
    // First-start training: the leader trains, the others serve its models once published.
    if (c.train_on_start) {
      leadership->add("training",
                      [&analytics_service] { analytics_service->train_if_untrained(); });
    }
  }
  leadership->start();
  if (mqtt_source) {
    mqtt_source->start();
    spdlog::info("mqtt: ingesting {}/+/+/measurement from {}", c.mqtt_topic_prefix, c.mqtt_url);
  }
  auto retention = std::make_unique<RetentionJob>(
      store, *objects, retention_policy(c), std::chrono::seconds(c.retention_interval_s), metrics,
      [&leadership] { return leadership->leads("retention"); });
  ready = true;
  spdlog::info("listening on {}://{}:{}", c.tls_cert.empty() ? "http" : "https", c.host, port);
  server.run();
  ready = false;
  if (mqtt_source) mqtt_source->stop();  // unacknowledged messages go to the next session
  retention.reset();
  state_service.reset();  // it asks the leadership below whether to run the network models
  leadership.reset();     // the leases go to the other replicas at once
  simulator.stop_all();
  // Jobs still queued answer into sessions and use the context: they finish before the server,
  // router and context go.
  study_pool.drain();
  jobs.drain();
  identity.authenticator().share_login_failures(nullptr);  // no login runs any more
  fanout.drain();
  if (analytics_service) analytics_service->drain();
  shared_with = nullptr;
  spdlog::info("stopping: flushing storage");
  store.set_commit_listener(nullptr);
  return 0;
}

}  // namespace remhart::app
