// The composition root: builds every service, wires them and runs the server.
#include "app/serve.hpp"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "api/context.hpp"
#include "api/live_hub.hpp"
#include "api/router.hpp"
#include "api/security.hpp"
#include "api/server.hpp"
#include "app/identity.hpp"
#include "core/error.hpp"
#include "core/thread_pool.hpp"
#include "grid/io/json_network.hpp"
#include "ingest/ingest_service.hpp"
#include "obs/metrics.hpp"
#include "sim/demo_feed.hpp"
#include "store/network_repo.hpp"
#include "store/sqlite_store.hpp"

namespace remhart::app {

void setup_logging(const Config& c) {
  auto logger = spdlog::stdout_logger_mt("remhart");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(c.log_level));
  if (c.log_json) {
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
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

// Feeds demo samples through the normal ingestion path until stopped.
class DemoLoop {
 public:
  DemoLoop(store::Store& store, ingest::IngestService& ingest, const Config& c)
      : feed_(static_cast<std::size_t>(c.demo_devices), 20261128),
        ingest_(ingest),
        interval_(std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::duration<double>(c.demo_interval_s))) {
    const auto known = store.devices();
    for (const auto& d : feed_.devices()) {
      if (!known->count(d.id)) store.create_device(d);
    }
    thread_ = std::thread([this] { run(); });
  }
  ~DemoLoop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    auto next = std::chrono::steady_clock::now();
    while (!stop_) {
      auto batch = ingest::ParsedBatch::of(feed_.step(core::now_us()));
      ingest_.ingest(std::move(batch), std::string(core::kOriginReal), false,
                     [](ingest::IngestOutcome o) {
                       if (o.status != ingest::IngestStatus::ok || !o.reply.rejected.empty()) {
                         spdlog::warn("demo feed: batch not fully stored ({} rejected) {}",
                                      o.reply.rejected.size(), o.error);
                       }
                     });
      next += interval_;
      cv_.wait_until(lock, next, [this] { return stop_; });
    }
  }

  sim::DemoFeed feed_;
  ingest::IngestService& ingest_;
  std::chrono::microseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int serve(const Config& c) {
  std::filesystem::create_directories(c.data_dir);
  obs::Registry metrics;
  store::SqliteOptions so;
  so.path = (std::filesystem::path(c.data_dir) / "remhart.db").string();
  so.fsync = c.durability == "fsync";
  so.max_queued_samples = static_cast<std::size_t>(c.max_queued_samples);
  store::SqliteStore store(so, &metrics);

  ingest::IngestOptions io;
  io.limits.max_future_skew = c.max_future_skew_s * core::kUsPerSecond;
  io.auto_register = c.auto_register;
  io.max_batch = static_cast<std::size_t>(c.max_batch);
  io.new_device_defaults.nominal_voltage = c.default_nominal_voltage;
  io.new_device_defaults.rated_current = c.default_rated_current;
  io.new_device_defaults.nominal_frequency = c.default_nominal_frequency;
  ingest::IngestService ingest(store, io, &metrics);

  Identity identity(c, &metrics);
  if (!c.auth_enabled) {
    spdlog::warn("authentication is DISABLED (auth.enabled=false): every caller is an admin");
  }

  store::NetworkRepository networks(so.path);
  api::ActiveNetwork active_network;
  if (const auto v = networks.active()) {
    try {
      active_network.id = v->id;
      active_network.network =
          std::make_shared<const grid::Network>(grid::io::parse_network_json(v->document));
    } catch (const std::exception& e) {
      spdlog::error("the stored network model {} cannot be read: {}", v->id, e.what());
    }
  }

  api::LiveHub hub(store, &metrics);
  core::ThreadPool jobs(static_cast<std::size_t>(c.job_threads));
  core::ThreadPool fanout(1);  // keeps live messages in commit order, off the storage thread
  metrics.gauge_fn("remhart_jobs_queued", "Blocking jobs (queries, device writes) waiting",
                   [&jobs] { return static_cast<double>(jobs.queued()); });
  metrics.gauge_fn("remhart_live_fanout_queued", "Commits waiting to be fanned out to WebSockets",
                   [&fanout] { return static_cast<double>(fanout.queued()); });
  store.set_commit_listener([&](std::span<const store::CommittedSeries> committed) {
    if (hub.clients() == 0) return;
    auto copy = std::make_shared<std::vector<store::StoredSample>>();
    for (const auto& c : committed) {
      for (const auto& r : c.records) copy->push_back({c.device, c.origin, r});
    }
    fanout.post([&hub, copy] { hub.publish(*copy); });
  });

  std::atomic<bool> ready{false};
  api::ApiContext ctx{store,
                      ingest,
                      hub,
                      metrics,
                      [&jobs](std::function<void()> fn) { jobs.post(std::move(fn)); },
                      c.default_device,
                      REMHART_VERSION,
                      core::now_us(),
                      [&ready] { return ready.load(); },
                      [&jobs] { return jobs.queued(); },
                      1000,
                      &identity.authenticator(),
                      &identity.audit(),
                      &networks,
                      &active_network};
  api::Router router(&metrics);
  api::SecurityOptions sec;
  sec.auth_enabled = c.auth_enabled;
  sec.anonymous_per_min = static_cast<int>(c.anonymous_per_min);
  sec.user_per_min = static_cast<int>(c.user_per_min);
  sec.admin_per_min = static_cast<int>(c.admin_per_min);
  sec.device_key_per_min = static_cast<int>(c.device_key_per_min);
  sec.ws_per_user = static_cast<int>(c.ws_per_user);
  sec.ws_total = static_cast<int>(c.ws_total);
  sec.cors_origins = split_list(c.cors_origins);
  api::SecurityGate gate(sec, &identity.authenticator(), identity.audit(), &metrics);
  router.set_guard(&gate);
  api::add_grid_routes(router, ctx);
  api::add_ops_routes(router, ctx);
  api::add_auth_routes(router, ctx);
  api::add_network_routes(router, ctx);

  api::ServerOptions opt;
  opt.host = c.host;
  opt.port = static_cast<std::uint16_t>(c.port);
  opt.threads = static_cast<int>(c.io_threads);
  opt.body_limit = static_cast<std::size_t>(c.body_limit_mb) * 1024 * 1024;
  opt.header_timeout = std::chrono::seconds(c.header_timeout_s);
  opt.ws_queue_limit = static_cast<std::size_t>(c.ws_queue_limit);
  opt.tls_cert = c.tls_cert;
  opt.tls_key = c.tls_key;
  opt.response_headers = security_headers(!c.tls_cert.empty());
  opt.trusted_proxies = split_list(c.trusted_proxies);
  api::HttpServer server(opt, router, hub, gate, &metrics);
  const auto port = server.listen();
  std::unique_ptr<DemoLoop> demo;
  if (c.demo) demo = std::make_unique<DemoLoop>(store, ingest, c);
  ready = true;
  spdlog::info("listening on {}://{}:{}", c.tls_cert.empty() ? "http" : "https", c.host, port);
  server.run();
  ready = false;
  demo.reset();
  spdlog::info("stopping: flushing storage");
  store.set_commit_listener(nullptr);
  return 0;
}

}  // namespace remhart::app
