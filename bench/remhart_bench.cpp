// Load benchmarks against the real server (release build). Each measurement runs several times
// and reports the median; nothing here asserts on time.
//
//   remhart_bench ingest [--samples N] [--runs R]   sustained durable ingest, both durability
//                                                   modes, vs. an unindexed SQLite ceiling
//   remhart_bench ws                                1,000 WebSocket clients × 10 devices
//   remhart_bench api                               wrk on GET /api/grid/latest?device=…, with a
//                                                   JWT on every request vs. auth switched off
//   remhart_bench series                            a month of 1 s samples, chart query
//   remhart_bench memory                            RSS with 1,000 devices and 10 M samples
//   remhart_bench ingest-mariadb                    the same ingest into MariaDB, vs. the raw
//                                                   array-insert ceiling of that server
//   remhart_bench mqtt                              MQTT ingest into SQLite and MariaDB
#include <utility>

#include <sqlite3.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "mqtt/packet.hpp"
#include "store/mariadb.hpp"
#include "testkit.hpp"

using namespace remhart::testkit;
namespace mqtt = remhart::mqtt;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

std::string runs_text(const std::vector<double>& v) {
  std::string s;
  for (double x : v) s += (s.empty() ? "" : ", ") + std::to_string(static_cast<long long>(x));
  return "[" + s + "]";
}

std::string bench_binary() {
  return remhart_binary();
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string device_name(int d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "d%04d", d);
  return buf;
}

void register_devices(HttpClient& http, int n) {
  for (int d = 0; d < n; ++d) {
    const auto r =
        http.post("/api/grid/devices",
                  json{{"id", device_name(d)}, {"site", "s" + std::to_string(d % 10)}}.dump());
    if (r.status != 201 && r.status != 409) throw std::runtime_error("device create: " + r.body);
  }
}

void append_num(std::string& out, double v) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, p);
}

// One batch: one sample per device in [first, first+count) at time ts_ms.
std::string make_batch(int first, int count, long long ts_ms, int salt) {
  std::string out;
  out.reserve(static_cast<std::size_t>(count) * 200);
  out.push_back('[');
  for (int k = 0; k < count; ++k) {
    if (k) out.push_back(',');
    const double v = 228.0 + ((salt + k) % 40) * 0.1;
    out += "{\"device\":\"";
    out += device_name(first + k);
    out += "\",\"ts\":";
    out += std::to_string(ts_ms);
    out += ",\"v\":[";
    append_num(out, v);
    out += ",";
    append_num(out, v + 0.5);
    out += ",";
    append_num(out, v - 0.4);
    out += "],\"i\":[12.1,11.8,12.5],\"p\":[2650,2580,2760],\"q\":[610,590,640],\"f\":";
    append_num(out, 50.0 + ((salt + k) % 7) * 0.001);
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

struct IngestRun {
  double samples_per_s;
  long rss_kb;
  double analysed = 0;        ///< remhart_analytics_samples_total when the last batch was answered
  double analysed_per_s = 0;  ///< samples over the time until every one was analysed (or dropped)
};

double metric(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::stod(text.substr(at + name.size() + 2));
}

// Posts `batches` batches of 1,000 samples (1,000 devices) over `connections` connections;
// `models` (a registry directory) is copied into the data directory for analytics.
// `per_device_order`: each connection sends its own share of the devices (1,000 / connections),
// several time steps a batch, so every device's samples arrive in time order (otherwise
// concurrent batches reach the store in any order, and analytics skips a device's late samples).
IngestRun run_ingest(const std::string& durability, long long total_samples, int connections,
                     const std::map<std::string, std::string>& env = {},
                     const std::string& models = "", bool per_device_order = false) {
  TempDir dir;
  if (!models.empty()) {
    std::filesystem::create_directories(dir.path() + "/data");
    std::filesystem::copy(models, dir.path() + "/data/models",
                          std::filesystem::copy_options::recursive);
  }
  ServerProcess server(bench_binary(), dir.path() + "/data",
                       {"--no-demo", "--durability", durability}, env);
  std::string key;  // meters send with a device key, as in production
  {
    auto http = admin_client(server);
    register_devices(*http, 1000);
    const auto r = http->post("/api/device-keys", R"({"name":"bench","rate_per_min":100000000})");
    key = json::parse(r.body).at("key").get<std::string>();
  }
  const long long batches = total_samples / 1000;
  const long long base_ms = now_ms() - batches * 1000 - 86'400'000;
  std::atomic<long long> next{0};
  std::atomic<long long> accepted{0};
  std::atomic<int> errors{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  const int share = 1000 / connections;  // devices of one connection when per_device_order
  const int steps = 1000 / share;        // time steps in one of its batches
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      HttpClient http(server.port());
      http.set_header("Authorization", "Bearer " + key);
      for (long long own = 0;; ++own) {
        const long long b = per_device_order ? own : next.fetch_add(1);
        if (per_device_order ? b >= batches / connections : b >= batches) break;
        std::string body;
        if (per_device_order) {
          for (int step = 0; step < steps; ++step) {
            auto part = make_batch(c * share, share, base_ms + (b * steps + step) * 1000,
                                   static_cast<int>(b * steps + step));
            part.front() = body.empty() ? '[' : ',';
            body += part.substr(0, part.size() - 1);
          }
          body += ']';
        } else {
          body = make_batch(0, 1000, base_ms + b * 1000, static_cast<int>(b));
        }
        for (;;) {
          const auto r = http.post("/api/grid/ingest", body);
          if (r.status == 503) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
          }
          if (r.status != 200) {
            ++errors;
            break;
          }
          accepted += json::parse(r.body)["accepted"].get<long long>();
          break;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = seconds_since(t0);
  if (errors || accepted != batches * 1000) {
    std::cerr << "ingest: " << errors << " failed batches, " << accepted << " accepted\n";
  }
  double analysed = 0, analysed_per_s = 0;
  if (!models.empty()) {
    auto http = admin_client(server);
    const auto done = [&] {
      const auto text = http->get("/metrics").body;
      return metric(text, "remhart_analytics_samples_total") +
             metric(text, "remhart_analytics_dropped_total") +
             metric(text, "remhart_analytics_out_of_order_total");
    };
    analysed = done();
    // The analytics shards work off what they hold (a bounded backlog) after the last answer.
    for (int k = 0; k < 6000 && done() < static_cast<double>(accepted.load()); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    analysed_per_s = static_cast<double>(accepted.load()) / seconds_since(t0);
  }
  return {static_cast<double>(accepted.load()) / elapsed, server.rss_kb(), analysed,
          analysed_per_s};
}

// The ceiling: the same rows appended by one process with one prepared statement into an
// unindexed table with the same columns, in large transactions.
double run_ceiling(long long total_samples, bool fsync) {
  TempDir dir;
  sqlite3* db = nullptr;
  sqlite3_open((dir.path() + "/ceiling.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  sqlite3_exec(db, fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", nullptr,
               nullptr, nullptr);
  sqlite3_exec(
      db,
      "CREATE TABLE m(device TEXT, origin TEXT, ts INTEGER, va REAL, vb REAL, vc REAL, ia REAL, "
      "ib REAL, ic REAL, pa REAL, pb REAL, pc REAL, qa REAL, qb REAL, qc REAL, f REAL)",
      nullptr, nullptr, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO m VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, nullptr);
  std::vector<std::string> names;
  for (int d = 0; d < 1000; ++d) names.push_back(device_name(d));
  const auto t0 = Clock::now();
  const long long base = now_ms() * 1000;
  for (long long k = 0; k < total_samples; ++k) {
    if (k % 100000 == 0) sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    const auto& name = names[static_cast<std::size_t>(k % 1000)];
    sqlite3_bind_text(st, 1, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
    sqlite3_bind_text(st, 2, "real", 4, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, base + (k / 1000) * 1'000'000);
    const double vals[13] = {230.1, 229.8, 231.0, 12.1, 11.8, 12.5, 2650,
                             2580,  2760,  610,   590,  640,  50.01};
    for (int c = 0; c < 13; ++c)
      sqlite3_bind_double(st, 4 + c, vals[c] + static_cast<double>(k % 17) * 0.01);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (k % 100000 == 99999 || k == total_samples - 1)
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  const double rate = static_cast<double>(total_samples) / seconds_since(t0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

int g_connections = 8;

void bench_ingest(long long samples, int runs) {
  std::cout << "== ingest: JSON batches of 1,000 samples across 1,000 devices, " << g_connections
            << " connections ==\n";
  for (const bool fsync : {false, true}) {
    std::vector<double> server_rates, ceiling_rates, ratios;
    for (int r = 0; r < runs; ++r) {
      const auto run = run_ingest(fsync ? "fsync" : "normal", samples, g_connections);
      const double ceiling = run_ceiling(samples, fsync);
      server_rates.push_back(run.samples_per_s);
      ceiling_rates.push_back(ceiling);
      ratios.push_back(run.samples_per_s / ceiling * 100);
    }
    const char* mode = fsync ? "fsync " : "normal";
    std::cout << "ingest[" << mode << "] server samples/s  median "
              << static_cast<long long>(median(server_rates)) << "  runs "
              << runs_text(server_rates) << "\n";
    std::cout << "ingest[" << mode << "] ceiling samples/s median "
              << static_cast<long long>(median(ceiling_rates)) << "  runs "
              << runs_text(ceiling_rates) << "\n";
    std::cout << "ingest[" << mode << "] server/ceiling    median " << median(ratios) << " %\n";
  }
}

// The MariaDB ceiling: the same rows (1,000 interleaved devices, the store's table and key) sent
// by one client with array-bound prepared INSERTs of 10,000 rows, committed every 100,000 — what
// the server takes with no parsing, validation, HTTP or duplicate checks in front of it.
double run_mariadb_ceiling(const std::string& url, long long total_samples) {
  namespace maria = remhart::store::maria;
  maria::Connection c(maria::parse_url(url));
  std::string cols, marks,
      ddl = "CREATE TABLE ceiling(series_id BIGINT NOT NULL, ts BIGINT NOT NULL";
  for (const char* name :
       {"va", "vb", "vc", "ia",     "ib",     "ic",     "pa",     "pb",     "pc",     "qa",
        "qb", "qc", "f",  "thd_va", "thd_vb", "thd_vc", "thd_ia", "thd_ib", "thd_ic", "temp"}) {
    cols += std::string(", ") + name;
    marks += ", ?";
    ddl += std::string(", ") + name + " DOUBLE NULL";
  }
  c.exec(ddl + ", PRIMARY KEY(series_id, ts)) ENGINE=InnoDB");
  maria::Statement insert(
      c, "INSERT INTO ceiling(series_id, ts" + cols + ") VALUES(?, ?" + marks + ")");
  std::vector<maria::Statement::Column> columns(22);
  const long long base = now_ms() * 1000;
  const auto t0 = Clock::now();
  std::size_t rows = 0;
  auto send = [&] {
    insert.execute_array(columns, rows);
    for (auto& col : columns) {
      col.ints.clear();
      col.reals.clear();
    }
    rows = 0;
  };
  c.exec("START TRANSACTION");
  for (long long k = 0; k < total_samples; ++k) {
    columns[0].ints.push_back(k % 1000);
    columns[1].ints.push_back(base + (k / 1000) * 1'000'000);
    const double vals[13] = {230.1, 229.8, 231.0, 12.1, 11.8, 12.5, 2650,
                             2580,  2760,  610,   590,  640,  50.01};
    for (int f = 0; f < 20; ++f) {
      columns[2 + f].reals.push_back(f < 13 ? vals[f] + static_cast<double>(k % 17) * 0.01
                                            : std::nan(""));
    }
    if (++rows == 10'000) send();
    if (k % 100'000 == 99'999) {
      c.exec("COMMIT");
      c.exec("START TRANSACTION");
    }
  }
  if (rows) send();
  c.exec("COMMIT");
  return static_cast<double>(total_samples) / seconds_since(t0);
}

// HTTP ingest into MariaDB (the same load as bench_ingest) and the raw ceiling of the same
// server, alternating in one run. The server runs with its durable default
// (innodb_flush_log_at_trx_commit = 1) for both.
void bench_ingest_mariadb(long long samples, int runs) {
  std::cout << "== ingest into MariaDB: JSON batches of 1,000 samples across 1,000 devices, "
            << g_connections << " connections ==\n";
  MariadbServer db(1);
  std::vector<double> server_rates, ceiling_rates, ratios;
  for (int r = 0; r < runs; ++r) {
    const auto run = run_ingest("normal", samples, g_connections,
                                {{"REMHART_STORAGE_DATABASE_URL", db.create_database()}});
    const double ceiling = run_mariadb_ceiling(db.create_database(), samples);
    server_rates.push_back(run.samples_per_s);
    ceiling_rates.push_back(ceiling);
    ratios.push_back(run.samples_per_s / ceiling * 100);
  }
  std::cout << "ingest[mariadb] server samples/s  median "
            << static_cast<long long>(median(server_rates)) << "  runs " << runs_text(server_rates)
            << "\n";
  std::cout << "ingest[mariadb] ceiling samples/s median "
            << static_cast<long long>(median(ceiling_rates)) << "  runs "
            << runs_text(ceiling_rates) << "\n";
  std::cout << "ingest[mariadb] server/ceiling    median " << median(ratios) << " %\n";
}

// Ingest with the monitoring models off and on, alternating, in the same run: every sample
// accepted with analytics on is analysed before the last batch is answered or shortly after.
void bench_ingest_analytics(long long samples, int runs) {
  const char* models = std::getenv("REMHART_BENCH_MODELS");
  if (!models) throw std::runtime_error("set REMHART_BENCH_MODELS (scripts/bench analytics does)");
  std::cout << "== ingest with analytics off and on: 1,000 devices at 1 Hz over " << g_connections
            << " connections, each sending its share of the devices (JSON batches of 1,000 "
               "samples, several time steps each, so every device's samples come in order) ==\n";
  std::vector<double> off_rates, on_rates, ratios, shares, through_rates, through_ratios;
  for (int r = 0; r < runs; ++r) {
    const auto off = run_ingest("normal", samples, g_connections,
                                {{"REMHART_ANALYTICS_ENABLED", "false"}}, "", true);
    const auto on = run_ingest("normal", samples, g_connections, {}, models, true);
    off_rates.push_back(off.samples_per_s);
    on_rates.push_back(on.samples_per_s);
    ratios.push_back(on.samples_per_s / off.samples_per_s * 100);
    shares.push_back(on.analysed / static_cast<double>(samples) * 100);
    through_rates.push_back(on.analysed_per_s);
    through_ratios.push_back(on.analysed_per_s / off.samples_per_s * 100);
  }
  std::cout << "ingest analytics off samples/s median " << static_cast<long long>(median(off_rates))
            << "  runs " << runs_text(off_rates) << "\n";
  std::cout << "ingest analytics on  samples/s median " << static_cast<long long>(median(on_rates))
            << "  runs " << runs_text(on_rates) << "\n";
  std::cout << "ingest on/off median " << median(ratios) << " %  (runs " << runs_text(ratios)
            << ")\n";
  std::cout << "analysed by the last answer: median " << median(shares) << " % of the samples\n";
  std::cout << "until every sample is analysed: samples/s median "
            << static_cast<long long>(median(through_rates)) << "  runs "
            << runs_text(through_rates) << "; on/off median " << median(through_ratios)
            << " %  (runs " << runs_text(through_ratios) << ")\n";
}

void bench_memory() {
  std::cout << "== memory: 1,000 devices, 10,000,000 stored samples ==\n";
  const auto run = run_ingest("normal", 10'000'000, g_connections);
  std::cout << "memory rss_mb " << static_cast<double>(run.rss_kb) / 1024.0 << "  (ingest ran at "
            << static_cast<long long>(run.samples_per_s) << " samples/s)\n";
}

// ---- WebSocket fan-out ----------------------------------------------------------------------

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// One client connection. Beast does the handshake and the first messages; after that the
// client reads server frames (unmasked, RFC 6455) straight from the socket, so the load
// generator spends little CPU per message and the figure reflects the server.
long long metric_value(HttpClient& http, const std::string& name) {
  const auto text = http.get("/metrics").body;
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(text.substr(at + name.size() + 2));
}

struct WsBenchClient : std::enable_shared_from_this<WsBenchClient> {
  WsBenchClient(net::io_context& ioc, std::atomic<long long>& ack_us, std::atomic<bool>& measuring)
      : ws(ioc), ack(ack_us), on(measuring) {}
  websocket::stream<beast::tcp_stream> ws;
  std::atomic<long long>& ack;
  std::atomic<bool>& on;
  std::vector<double> latencies;
  std::string pending;
  std::array<char, 8192> chunk{};  // small: the 10,000-client run holds one per client

  void read() {
    beast::get_lowest_layer(ws).socket().async_read_some(
        net::buffer(chunk), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) return;
          self->pending.append(self->chunk.data(), n);
          self->parse();
          self->read();
        });
  }

  void parse() {
    const long long now =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
            .count();
    std::size_t pos = 0;
    for (;;) {
      if (pending.size() - pos < 2) break;
      const auto* p = reinterpret_cast<const unsigned char*>(pending.data() + pos);
      std::size_t len = p[1] & 0x7F, header = 2;
      if (len == 126) {
        if (pending.size() - pos < 4) break;
        len = (std::size_t{p[2]} << 8) | p[3];
        header = 4;
      } else if (len == 127) {
        if (pending.size() - pos < 10) break;
        len = 0;
        for (int k = 0; k < 8; ++k) len = (len << 8) | p[2 + k];
        header = 10;
      }
      if (pending.size() - pos < header + len) break;
      const std::string_view text(pending.data() + pos + header, len);
      if (on && text.starts_with("{\"type\":\"measurement\"")) {
        latencies.push_back(static_cast<double>(now - ack.load()) / 1000.0);
      }
      pos += header + len;
    }
    pending.erase(0, pos);
  }
};

struct WsRun {
  double p50 = 0, p99 = 0;
  std::size_t received = 0, expected = 0;
  long long dropped = 0;
  long rss_kb = 0;
};

// `clients` live-stream clients, each subscribed to 10 of 1,000 devices that all update once a
// second for 15 s; latency from the ingest acknowledgement to receipt.
WsRun run_ws(int clients) {
  TempDir dir;
  ServerProcess server(bench_binary(), dir.path() + "/data", {"--no-demo"},
                       {{"REMHART_LIMITS_WS_PER_USER", "20000"},
                        {"REMHART_LIMITS_WS_TOTAL", "20000"},
                        {"REMHART_LIMITS_ADMIN_PER_MIN", "100000000"}});
  auto client = admin_client(server);
  HttpClient& http = *client;
  register_devices(http, 1000);
  const std::string token = login(server.port(), "admin", server.admin_password());
  net::io_context ioc;
  std::atomic<long long> ack_us{0};
  std::atomic<bool> measuring{false};
  std::vector<std::shared_ptr<WsBenchClient>> conns;
  for (int c = 0; c < clients; ++c) {
    auto cl = std::make_shared<WsBenchClient>(ioc, ack_us, measuring);
    beast::get_lowest_layer(cl->ws).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
    beast::get_lowest_layer(cl->ws).socket().set_option(tcp::no_delay(true));
    cl->ws.handshake("127.0.0.1", "/ws/grid-data?token=" + token);
    json devs = json::array();
    for (int k = 0; k < 10; ++k) devs.push_back(device_name((c * 10 + k) % 1000));
    beast::flat_buffer first;
    cl->ws.read(first);  // the connect snapshot
    cl->ws.write(net::buffer(json{{"type", "subscribe"}, {"devices", devs}}.dump()));
    first.clear();
    cl->ws.read(first);  // the subscription's snapshot; nothing else is in flight yet
    conns.push_back(cl);
  }
  for (auto& c : conns) c->read();
  auto guard = net::make_work_guard(ioc);
  std::thread io([&] { ioc.run(); });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long long base = now_ms() - 3'600'000;
  measuring = true;
  const int seconds = 15;
  for (int s = 0; s < seconds; ++s) {
    const auto tick = Clock::now();
    const std::string body = make_batch(0, 1000, base + s * 1000, s);
    const auto r = http.post("/api/grid/ingest", body);
    ack_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
                 .count();
    if (r.status != 200) std::cerr << "ws: ingest failed " << r.status << "\n";
    std::this_thread::sleep_until(tick + std::chrono::seconds(1));
  }
  measuring = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  WsRun run;
  run.rss_kb = server.rss_kb();
  run.dropped = metric_value(http, "remhart_ws_dropped_total") +
                metric_value(http, "remhart_live_fanout_dropped_total");
  ioc.stop();
  io.join();
  std::vector<double> latencies;
  for (const auto& c : conns)
    latencies.insert(latencies.end(), c->latencies.begin(), c->latencies.end());
  // A message can be delivered before the HTTP reply is read by the client: clamp at 0.
  for (auto& l : latencies) l = std::max(0.0, l);
  run.p50 = percentile(latencies, 0.5);
  run.p99 = percentile(latencies, 0.99);
  run.received = latencies.size();
  run.expected = static_cast<std::size_t>(seconds) * static_cast<std::size_t>(clients) * 10;
  std::cout << "ws run (" << clients << " clients): " << run.received << " of " << run.expected
            << " messages received, " << run.dropped << " dropped; latency ms from ack: p50 "
            << run.p50 << "  p99 " << run.p99 << "  max " << percentile(latencies, 1.0)
            << "; server RSS " << run.rss_kb / 1024 << " MB\n";
  return run;
}

// ---- MQTT ingest ------------------------------------------------------------------------------

// One publisher connection: QoS 1 messages of 100 samples of one device each, with up to
// `window` unacknowledged (the broker acknowledges on receipt; the server, after its commit).
void mqtt_publisher(std::uint16_t port, int first_device, int devices, int messages,
                    long long base_ms, std::atomic<long long>& acked) {
  net::io_context io;
  tcp::socket sock(io);
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  sock.set_option(tcp::no_delay(true));
  mqtt::ConnectOptions co;
  co.client_id = "bench-" + std::to_string(first_device);
  co.clean_session = true;
  net::write(sock, net::buffer(mqtt::encode_connect(co)));
  mqtt::PacketReader reader(1 << 20);
  std::array<char, 65536> buf{};
  const auto next_packet = [&] {
    for (;;) {
      if (auto p = reader.next()) return *p;
      const auto n = sock.read_some(net::buffer(buf));
      reader.feed({buf.data(), n});
    }
  };
  if (next_packet().type != static_cast<std::uint8_t>(mqtt::PacketType::connack)) {
    throw std::runtime_error("no CONNACK");
  }
  constexpr int kWindow = 64, kSamples = 100;
  int sent = 0, done = 0;
  std::string out;
  while (done < messages) {
    out.clear();
    while (sent < messages && sent - done < kWindow) {
      const int d = first_device + sent % devices;
      const long long t0 = base_ms + static_cast<long long>(sent / devices) * kSamples * 1000;
      std::string payload = "[";
      for (int s = 0; s < kSamples; ++s) {
        if (s) payload += ',';
        payload += "{\"device\":\"" + device_name(d) +
                   "\",\"ts\":" + std::to_string(t0 + s * 1000) +
                   ",\"v\":[230.1,229.8,231.0],\"i\":[12.1,11.8,12.5],\"p\":[2650,2580,2760],"
                   "\"q\":[610,590,640],\"f\":50.01}";
      }
      payload += ']';
      // (register_devices puts device d at site s<d % 10>: a device publishes under its site.)
      out += mqtt::encode_publish(
          "remhart/s" + std::to_string(d % 10) + "/" + device_name(d) + "/measurement", payload, 1,
          static_cast<std::uint16_t>(sent % 60000 + 1));
      ++sent;
    }
    if (!out.empty()) net::write(sock, net::buffer(out));
    const auto p = next_packet();
    if (p.type == static_cast<std::uint8_t>(mqtt::PacketType::puback)) ++done;
  }
  acked += done;
  net::write(sock, net::buffer(mqtt::encode_disconnect()));
}

// Samples per second from the first publish until the server has stored (and acknowledged)
// every message, through a private Mosquitto.
void bench_mqtt(int runs) {
  constexpr int kPublishers = 4, kDevices = 1000, kMessagesEach = 2500;  // 1 M samples a run
  std::unique_ptr<MariadbServer> mariadb;
  if (MariadbServer::available()) mariadb = std::make_unique<MariadbServer>(1);
  // SQLite and MariaDB with one replica; MariaDB with two sharing the subscription.
  for (const auto& [backend, replicas] :
       std::vector<std::pair<std::string, int>>{{"sqlite", 1}, {"mariadb", 1}, {"mariadb", 2}}) {
    if (backend == "mariadb" && !mariadb) continue;
    const std::string label = backend + (replicas > 1 ? " x2" : "");
    std::cout << "== MQTT ingest: " << kPublishers
              << " publishers, QoS 1, messages of 100 samples (one device each, 1,000 devices), "
                 "through Mosquitto into "
              << backend << ", " << replicas << " replica(s) ==\n";
    std::vector<double> rates;
    for (int r = 0; r < runs; ++r) {
      // The broker holds what remhart has not acknowledged yet (no limit: a full queue drops
      // QoS 1 messages) and sends it up to 100 unacknowledged messages at a time.
      MosquittoBroker broker(
          "allow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 100\n");
      const std::string password = random_password();
      std::map<std::string, std::string> env = {{"REMHART_ANALYTICS_ENABLED", "false"},
                                                {"REMHART_ADMIN_PASSWORD", password},
                                                {"REMHART_AUTH_JWT_SECRET", password + password}};
      if (backend == "mariadb") env["REMHART_STORAGE_DATABASE_URL"] = mariadb->create_database();
      if (replicas > 1) env["REMHART_MQTT_SHARED_GROUP"] = "bench";
      std::vector<std::unique_ptr<TempDir>> dirs;
      std::vector<std::unique_ptr<ServerProcess>> servers;
      for (int k = 0; k < replicas; ++k) {
        env["REMHART_MQTT_CLIENT_ID"] = "bench-replica-" + std::to_string(k);
        dirs.push_back(std::make_unique<TempDir>());
        servers.push_back(std::make_unique<ServerProcess>(
            bench_binary(), dirs.back()->path() + "/data",
            std::vector<std::string>{"--no-demo", "--mqtt-url", broker.url()}, env));
      }
      std::vector<std::unique_ptr<HttpClient>> http;
      for (auto& s : servers) http.push_back(admin_client(*s));
      register_devices(*http.front(), kDevices);
      for (auto& h : http) {  // every replica subscribed and knowing the devices (shared database)
        for (int k = 0; k < 1000; ++k) {
          if (metric(h->get("/metrics").body, "remhart_mqtt_connected") == 1 &&
              h->get("/api/grid/devices/" + device_name(kDevices - 1)).status == 200) {
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      const auto stored = [&] {
        double n = 0;
        for (auto& h : http) n += metric(h->get("/metrics").body, "remhart_mqtt_stored_total");
        return n;
      };
      const long long base_ms = now_ms() - 40LL * 86'400'000;
      std::atomic<long long> acked{0};
      const auto t0 = Clock::now();
      std::vector<std::thread> threads;
      for (int p = 0; p < kPublishers; ++p) {
        threads.emplace_back([&, p] {
          mqtt_publisher(broker.port(), p * (kDevices / kPublishers), kDevices / kPublishers,
                         kMessagesEach, base_ms, acked);
        });
      }
      for (auto& t : threads) t.join();
      const double total = static_cast<double>(kPublishers) * kMessagesEach;
      const auto refused = [&] {
        double n = 0;
        for (auto& h : http) n += metric(h->get("/metrics").body, "remhart_mqtt_refused_total");
        return n;
      };
      while (stored() < total && seconds_since(t0) < 600) {
        if (refused() > 0) throw std::runtime_error("mqtt: the server refused messages");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      rates.push_back(total * 100 / seconds_since(t0));
      if (stored() != total) std::cerr << "mqtt: stored " << stored() << " of " << total << "\n";
    }
    std::cout << "mqtt[" << label << "] samples/s median " << static_cast<long long>(median(rates))
              << "  runs " << runs_text(rates) << "\n";
  }
}

void bench_ws(int runs) {
  // The client process holds one socket per connection.
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &r);
  }
  for (const int clients : {1000, 10000}) {
    std::cout << "== ws: " << clients
              << " clients × 10 devices, 1,000 devices updating once a second ==\n";
    std::vector<double> p50, p99;
    for (int k = 0; k < runs; ++k) {
      const auto run = run_ws(clients);
      p50.push_back(run.p50);
      p99.push_back(run.p99);
    }
    std::cout << "ws[" << clients << "] latency ms from ack: median p50 " << median(p50)
              << "  median p99 " << median(p99) << "\n";
  }
}

// ---- replay: re-sending data older than the last checkpoint -----------------------------------

struct ReplayRun {
  double replay_per_s, probe_p50_ms, probe_p99_ms, quiet_p99_ms;
};

// Stores 1,000 devices × `seconds` samples, waits until they are compacted into blocks, then
// sends them all again (duplicates of data older than the last checkpoint) over 4 connections
// while another client sends one sample of its own device every 10 ms and times each answer.
ReplayRun run_replay(int seconds) {
  TempDir dir;
  ServerProcess server(bench_binary(), dir.path() + "/data", {"--no-demo"},
                       {{"REMHART_LIMITS_ADMIN_PER_MIN", "100000000"}});
  auto http = admin_client(server);
  register_devices(*http, 1001);
  const long long base = now_ms() - 86'400'000;
  for (int s = 0; s < seconds; ++s) {
    const auto r = http->post("/api/grid/ingest", make_batch(0, 1000, base + s * 1000LL, s));
    if (r.status != 200) throw std::runtime_error("replay setup: " + r.body);
  }
  // The tails are compacted when they hold 131,072 samples; wait until they are (empty tails).
  for (int k = 0; k < 600 && metric_value(*http, "remhart_store_tail_samples") > 131'072; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Tokens first: a login (Argon2id) during the measurement would take a core from it.
  const std::string token = login(server.port(), "admin", server.admin_password());
  std::atomic<bool> stop{false};
  std::vector<double> probe;
  auto probe_loop = [&](std::vector<double>& out, int count) {
    HttpClient c(server.port());
    c.set_header("Authorization", "Bearer " + token);
    long long ts = now_ms() - 3'600'000;
    for (int k = 0; (count == 0 ? !stop.load() : k < count); ++k) {
      const auto t0 = Clock::now();
      const auto r = c.post("/api/grid/ingest", make_batch(1000, 1, ts += 1000, k));
      out.push_back(seconds_since(t0) * 1e3);
      if (r.status != 200) std::cerr << "probe: " << r.status << "\n";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  std::vector<double> quiet;
  probe_loop(quiet, 200);
  std::thread prober([&] { probe_loop(probe, 0); });
  std::atomic<int> next{0};
  std::atomic<long long> duplicates{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> senders;
  for (int c = 0; c < 4; ++c) {
    senders.emplace_back([&] {
      HttpClient h(server.port());
      h.set_header("Authorization", "Bearer " + token);
      for (int s; (s = next.fetch_add(1)) < seconds;) {
        const auto r = h.post("/api/grid/ingest", make_batch(0, 1000, base + s * 1000LL, s));
        if (r.status == 200) duplicates += json::parse(r.body)["duplicates"].get<long long>();
      }
    });
  }
  for (auto& t : senders) t.join();
  const double elapsed = seconds_since(t0);
  stop = true;
  prober.join();
  if (duplicates != seconds * 1000LL) std::cerr << "replay: " << duplicates << " duplicates\n";
  return {static_cast<double>(duplicates.load()) / elapsed, percentile(probe, 0.5),
          percentile(probe, 0.99), percentile(quiet, 0.99)};
}

void bench_replay(int runs) {
  std::cout << "== replay: 1,000 devices × 1,200 s stored and compacted, sent again (all "
               "duplicates), 4 connections; another device's 1-sample ingest timed ==\n";
  std::vector<double> rate, p50, p99, quiet;
  for (int r = 0; r < runs; ++r) {
    const auto run = run_replay(1200);
    std::cout << "replay run: " << static_cast<long long>(run.replay_per_s)
              << " samples/s; other client ms p50 " << run.probe_p50_ms << " p99 "
              << run.probe_p99_ms << " (quiet p99 " << run.quiet_p99_ms << ")\n";
    rate.push_back(run.replay_per_s);
    p50.push_back(run.probe_p50_ms);
    p99.push_back(run.probe_p99_ms);
    quiet.push_back(run.quiet_p99_ms);
  }
  std::cout << "replay samples/s median " << static_cast<long long>(median(rate)) << "  runs "
            << runs_text(rate) << "\n";
  std::cout << "replay other client ms: median p50 " << median(p50) << "  median p99 "
            << median(p99) << "  (quiet p99 " << median(quiet) << ")\n";
}

// ---- latest during checkpoints ------------------------------------------------------------

// Full ingest (8 connections, batches of 1,000 samples) with compactions every ~131,072 samples,
// while another client reads GET /api/grid/latest every 2 ms: its latency distribution.
std::pair<double, double> run_latest_under_ingest(const std::string& durability) {
  TempDir dir;
  ServerProcess server(bench_binary(), dir.path() + "/data",
                       {"--no-demo", "--durability", durability},
                       {{"REMHART_LIMITS_ADMIN_PER_MIN", "100000000"}});
  auto http = admin_client(server);
  register_devices(*http, 1000);
  const std::string token = login(server.port(), "admin", server.admin_password());
  std::atomic<bool> stop{false};
  std::vector<double> lat;
  std::thread reader([&] {
    HttpClient c(server.port());
    c.set_header("Authorization", "Bearer " + token);
    while (!stop) {
      const auto t0 = Clock::now();
      c.get("/api/grid/latest?device=d0001");
      lat.push_back(seconds_since(t0) * 1e3);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  const long long batches = 1500;
  const long long base = now_ms() - batches * 1000 - 86'400'000;
  std::atomic<long long> next{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      HttpClient h(server.port());
      h.set_header("Authorization", "Bearer " + token);
      for (long long b; (b = next.fetch_add(1)) < batches;) {
        while (h.post("/api/grid/ingest", make_batch(0, 1000, base + b * 1000, static_cast<int>(b)))
                   .status == 503) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  reader.join();
  return {percentile(lat, 0.5), percentile(lat, 0.99)};
}

void bench_latest(int runs) {
  std::cout << "== latest during checkpoints: GET /api/grid/latest every 2 ms under full ingest "
               "(1.5 M samples, compactions every ~131 k) ==\n";
  for (const char* durability : {"normal", "fsync"}) {
    std::vector<double> p50, p99;
    for (int r = 0; r < runs; ++r) {
      const auto [a, b] = run_latest_under_ingest(durability);
      p50.push_back(a);
      p99.push_back(b);
    }
    std::cout << "latest[" << durability << "] ms: median p50 " << median(p50) << "  median p99 "
              << median(p99) << "  runs p99 " << runs_text(p99) << "\n";
  }
}

// ---- API throughput (wrk) -------------------------------------------------------------------

// Requests/s of one wrk run (8 s, 2 threads, 64 connections); 0 when wrk fails.
double wrk_rate(const std::string& url, const std::string& token) {
  std::string cmd = "wrk -t2 -c64 -d8s ";
  if (!token.empty()) cmd += "-H 'Authorization: Bearer " + token + "' ";
  cmd += url + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  const auto pos = out.find("Requests/sec:");
  if (pos == std::string::npos || out.find("Non-2xx") != std::string::npos) {
    std::cerr << "wrk failed or saw errors:\n" << out;
    return 0;
  }
  return std::stod(out.substr(pos + 13));
}

// The same endpoint on two servers: one checking a JWT (and its rate limit) on every request,
// one with authentication switched off; runs alternate so both see the same machine load.
void bench_api(int runs) {
  std::cout << "== api: wrk -t2 -c64 -d8s GET /api/grid/latest?device=d0042, JWT vs. auth off ==\n";
  TempDir dir_on, dir_off;
  ServerProcess on(bench_binary(), dir_on.path() + "/data", {"--no-demo"},
                   {{"REMHART_LIMITS_ADMIN_PER_MIN", "100000000"}});
  ServerProcess off(
      bench_binary(), dir_off.path() + "/data", {"--no-demo"},
      {{"REMHART_AUTH_ENABLED", "false"}, {"REMHART_LIMITS_ADMIN_PER_MIN", "100000000"}});
  for (auto* server : {&on, &off}) {
    auto http = admin_client(*server);
    register_devices(*http, 100);
    http->post("/api/grid/ingest", make_batch(0, 100, now_ms() - 60'000, 1));
  }
  const std::string token = login(on.port(), "admin", on.admin_password());
  const std::string path = "/api/grid/latest?device=d0042";
  std::vector<double> with_jwt, without;
  for (int r = 0; r < runs; ++r) {
    with_jwt.push_back(wrk_rate(on.base_url() + path, token));
    without.push_back(wrk_rate(off.base_url() + path, ""));
  }
  std::vector<double> ratio;
  for (std::size_t k = 0; k < with_jwt.size(); ++k) {
    ratio.push_back(without[k] > 0 ? with_jwt[k] / without[k] : 0);
  }
  std::cout << "api requests/s with JWT median " << static_cast<long long>(median(with_jwt))
            << "  runs " << runs_text(with_jwt) << "\n";
  std::cout << "api requests/s auth off median " << static_cast<long long>(median(without))
            << "  runs " << runs_text(without) << "\n";
  std::cout << "api JWT/off ratio median " << median(ratio) << "  (loss "
            << (1 - median(ratio)) * 100 << " %)\n";
}

// ---- Series ---------------------------------------------------------------------------------

void bench_series(int runs) {
  std::cout
      << "== series: one device, a month of 1 s samples (2,592,000), whole-month chart query ==\n";
  TempDir dir;
  ServerProcess server(bench_binary(), dir.path() + "/data", {"--no-demo"},
                       {{"REMHART_LIMITS_ADMIN_PER_MIN", "100000000"}});
  auto client = admin_client(server);
  HttpClient& http = *client;
  http.post("/api/grid/devices", R"({"id":"d0000"})");
  const long long month = 30LL * 86400;
  const long long start_ms = (now_ms() / 86'400'000 - 40) * 86'400'000;
  const auto t0 = Clock::now();
  std::string body;
  for (long long s = 0; s < month; s += 10000) {
    body.clear();
    body.push_back('[');
    for (long long k = s; k < std::min(month, s + 10000); ++k) {
      if (k != s) body.push_back(',');
      const double v = 230 + 5 * std::sin(static_cast<double>(k) / 3600.0);
      body += "{\"device\":\"d0000\",\"ts\":" + std::to_string(start_ms + k * 1000) + ",\"v\":[";
      append_num(body, v);
      body +=
          ",230,231],\"i\":[12.1,11.8,12.5],\"p\":[2650,2580,2760],\"q\":[610,590,640],\"f\":50}";
    }
    body.push_back(']');
    const auto r = http.post("/api/grid/ingest", body);
    if (r.status != 200) throw std::runtime_error("series load: " + r.body);
  }
  std::cout << "series loaded 2,592,000 samples in " << seconds_since(t0) << " s\n";
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::string target = "/api/grid/series?device=d0000&from=" + std::to_string(start_ms) +
                             "&to=" + std::to_string(start_ms + month * 1000) +
                             "&fields=va,v_avg,p_total,f";
  std::vector<double> ms;
  std::size_t points = 0;
  for (int r = 0; r < runs; ++r) {
    const auto q0 = Clock::now();
    const auto res = http.get(target);
    ms.push_back(seconds_since(q0) * 1000);
    points = json::parse(res.body)["points"].size();
  }
  std::cout << "series whole-month query: " << points << " points, median " << median(ms)
            << " ms, p90 " << percentile(ms, 0.9) << " ms over " << runs << " runs\n";
}

// One simulated day of the demo twin at 1 s in backfill mode, through the server (engine,
// ingest pipeline, storage and labels): from the POST to the run's completion.
void bench_simulate(int runs) {
  std::cout << "== simulate: one day of the demo twin at 1 s, backfill, stored ==\n";
  std::vector<double> secs;
  long long samples = 0;
  for (int r = 0; r < runs; ++r) {
    TempDir dir;
    ServerProcess server(bench_binary(), dir.path() + "/data", {"--no-demo"});
    auto client = admin_client(server);
    const long long day_ms = 86'400'000;
    const long long start_ms = (now_ms() / day_ms - 2) * day_ms;
    const auto t0 = Clock::now();
    const auto started = client->post("/api/simulator/runs", json{{"scenario", "normal_day"},
                                                                  {"mode", "backfill"},
                                                                  {"start", start_ms},
                                                                  {"duration_s", 86400},
                                                                  {"step_s", 1},
                                                                  {"seed", r + 1}}
                                                                 .dump());
    if (started.status != 202) throw std::runtime_error("simulate: " + started.body);
    const std::string id = json::parse(started.body)["id"];
    json run;
    for (;;) {
      run = json::parse(client->get("/api/simulator/runs/" + id).body);
      if (run["status"] != "running") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (run["status"] != "completed") throw std::runtime_error("simulate: " + run.dump());
    secs.push_back(seconds_since(t0));
    samples = run["samples"].get<long long>();
    std::cout << "run " << r + 1 << ": " << samples << " samples in " << secs.back() << " s\n";
  }
  std::cout << "simulate one day: median " << median(secs) << " s (" << runs_text(secs) << "), "
            << static_cast<long long>(static_cast<double>(samples) / median(secs))
            << " samples/s\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::cout << std::unitbuf;  // progress appears as each measurement finishes
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string what = args.empty() ? "all" : args[0];
  long long samples = 2'000'000;
  int runs = 3;
  for (std::size_t k = 1; k + 1 < args.size(); k += 2) {
    if (args[k] == "--samples") samples = std::stoll(args[k + 1]);
    if (args[k] == "--runs") runs = std::stoi(args[k + 1]);
    if (args[k] == "--connections") g_connections = std::stoi(args[k + 1]);
  }
  try {
    if (what == "ingest" || what == "all") bench_ingest(samples, runs);
    if (what == "ingest-mariadb" || what == "all") bench_ingest_mariadb(samples, runs);
    if (what == "ws" || what == "all") bench_ws(runs);
    if (what == "api" || what == "all") bench_api(runs);
    if (what == "series" || what == "all") bench_series(20);
    if (what == "memory" || what == "all") bench_memory();
    if (what == "ingest-analytics" || (what == "all" && std::getenv("REMHART_BENCH_MODELS"))) {
      bench_ingest_analytics(samples, runs);
    }
    if (what == "simulate" || what == "all") bench_simulate(runs);
    if (what == "mqtt" || what == "all") bench_mqtt(runs);
    if (what == "replay" || what == "all") bench_replay(runs);
    if (what == "latest" || what == "all") bench_latest(runs);
  } catch (const std::exception& e) {
    std::cerr << "bench failed: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
