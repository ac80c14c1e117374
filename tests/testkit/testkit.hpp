#pragma once
// Test and benchmark helpers: start the real `remhart` binary, and small blocking HTTP and
// WebSocket clients. Beast stays inside testkit.cpp.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace remhart::testkit {

/// A fresh temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// Child processes are hermetic: they start in an empty directory (no remhart.toml is read from
/// the caller's working directory) with a clean environment — PATH, TMPDIR, HOME and the
/// sanitizer options of the caller, nothing else (no inherited REMHART_*) — plus `env`.
std::map<std::string, std::string> child_environment(const std::map<std::string, std::string>& env);
/// The empty directory children run in.
const std::string& neutral_dir();
/// A shell command that runs `command` (program and arguments, redirections allowed) that way.
std::string hermetic_command(const std::string& command,
                             const std::map<std::string, std::string>& env = {});

/// Decodes base64url (no padding); stops at the first character outside the alphabet.
std::string base64url_decode(std::string_view in);
/// The `kid` of a JWT's header.
std::string jwt_kid(const std::string& token);

struct CliResult {
  int status = -1;     ///< exit status
  std::string output;  ///< stdout and stderr
};
/// A shell command (program and arguments), hermetic, waiting for it to exit.
CliResult run_command(const std::string& command,
                      const std::map<std::string, std::string>& env = {});
/// `remhart <args>` (shell words), hermetic, waiting for it to exit.
CliResult run_cli(const std::string& args, const std::map<std::string, std::string>& env = {});

/// `remhart serve --port 0` in a child process with its own data directory.
class ServerProcess {
 public:
  /// Starts the binary and waits for its "listening on" line.
  ServerProcess(std::string binary, std::string data_dir, std::vector<std::string> extra_args = {},
                std::map<std::string, std::string> env = {});
  ~ServerProcess();

  std::uint16_t port() const { return port_; }
  /// The first admin's password: random per process, passed as REMHART_ADMIN_PASSWORD.
  const std::string& admin_password() const { return admin_password_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// Everything the server printed so far.
  std::string output() const;

  void kill9();
  /// Sends `sig` and returns (SIGSTOP and SIGCONT: a replica frozen, then thawed).
  void signal(int sig);
  /// SIGTERM, then waits; returns the exit status.
  int terminate();
  /// Starts the process again with the same data directory and arguments.
  void restart();
  /// Resident set size in kB (from /proc).
  long rss_kb() const;

 private:
  void start();
  std::string binary_, data_dir_;
  std::vector<std::string> extra_;
  std::map<std::string, std::string> env_;
  std::string admin_password_;
  int pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  struct Output;
  std::shared_ptr<Output> out_;
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

/// A keep-alive HTTP/1.1 client for one host; reconnects when the server closes.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1");
  ~HttpClient();
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::string& content_type = "application/json",
                     const std::map<std::string, std::string>& headers = {});
  /// A header sent with every request (e.g. Authorization); an empty value removes it.
  void set_header(const std::string& name, const std::string& value);
  HttpResult get(const std::string& target) { return request("GET", target); }
  HttpResult post(const std::string& target, const std::string& body,
                  const std::string& content_type = "application/json") {
    return request("POST", target, body, content_type);
  }
  /// Sends raw bytes on a fresh connection and returns whatever comes back (until close or
  /// timeout).
  std::string raw(const std::string& bytes,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A blocking WebSocket client.
class WsClient {
 public:
  WsClient(std::uint16_t port, const std::string& target = "/ws/grid-data");
  ~WsClient();
  void send(const std::string& text);
  /// The next text message, or nullopt after `timeout`.
  std::optional<std::string> read(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Writes a self-signed certificate for 127.0.0.1 / localhost (EC P-256) to `dir`/cert.pem and
/// `dir`/key.pem.
void write_self_signed_cert(const std::string& dir);

struct TlsResult {
  std::string error;    ///< empty when the handshake and request succeeded
  std::string version;  ///< negotiated protocol, e.g. "TLSv1.3"
  HttpResult response;
};
/// One HTTPS GET on a fresh connection (certificate not verified). `max_version` caps the
/// client's protocol (an OpenSSL constant such as TLS1_1_VERSION; 0 = library default).
TlsResult https_get(std::uint16_t port, const std::string& target, int max_version = 0,
                    const std::map<std::string, std::string>& headers = {});

/// Logs in and returns the access token (throws on failure).
std::string login(std::uint16_t port, const std::string& username, const std::string& password);
/// An HTTP client logged in as the server's first admin.
std::unique_ptr<HttpClient> admin_client(const ServerProcess& server);

/// Unix milliseconds now.
long long now_ms();
/// A sample in the HTTP/MQTT JSON form (three phases around `v` volts, 50.01 Hz).
std::string sample_json(const std::string& device, long long ts_ms, double v = 230.0);
/// The value of an unlabelled metric in `/metrics`; -1 when absent.
double metric(HttpClient& http, const std::string& name);
/// Every stored sample of a device (real origin), paging through `/api/grid/data`.
std::size_t stored_total(HttpClient& http, const std::string& device);

/// Polls `ok` every 50 ms until it holds or `limit` has passed; returns its last answer.
template <typename F>
bool eventually(F ok, std::chrono::milliseconds limit = std::chrono::seconds(40)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ok();
}
/// A random string usable as a password in tests (never a fixed value).
std::string random_password();

/// Path of the remhart binary under test (set by the build).
std::string remhart_binary();

/// A private tmpfs of `mib` MiB at a fresh directory (root only; tests skip elsewhere).
class SmallDisk {
 public:
  explicit SmallDisk(int mib);
  ~SmallDisk();
  bool mounted() const { return mounted_; }
  const std::string& path() const { return path_; }
  /// Writes a file until the disk is full.
  void fill();
  void free_space();

 private:
  TempDir dir_;
  std::string path_;
  bool mounted_ = false;
};

/// A private Mosquitto broker (Debian's `mosquitto`, installed by scripts/bootstrap): its own
/// temp directory, a free port on 127.0.0.1, anonymous access unless `config` (more lines of
/// mosquitto.conf) says otherwise, persistence on (so a subscriber's session survives); no
/// systemd. Stopped (SIGTERM) on destruction.
class MosquittoBroker {
 public:
  struct Login {
    std::string user, password;
  };
  /// `tls`: the listener speaks TLS with a self-signed certificate for 127.0.0.1 (`ca_file()`).
  explicit MosquittoBroker(const std::string& config = "allow_anonymous true\n", bool tls = false);
  ~MosquittoBroker();
  std::uint16_t port() const { return port_; }
  std::string url() const {
    return (tls_ ? "mqtts://127.0.0.1:" : "mqtt://127.0.0.1:") + std::to_string(port_);
  }
  std::string ca_file() const { return dir_.path() + "/cert.pem"; }
  /// Whether the broker program is on this machine (tests skip without it outside CI).
  static bool available();
  /// Publishes one message with mosquitto_pub at QoS 1; true when the broker took it (a broker
  /// denying a topic by its ACL still acknowledges: MQTT 3.1.1 has no refusal code).
  bool publish(const std::string& topic, const std::string& payload,
               const std::optional<Login>& login = std::nullopt) const;
  /// Publishes each of `payloads` (one line each, no newlines inside) as its own QoS 1 message
  /// from one mosquitto_pub connection.
  bool publish_each(const std::string& topic, const std::vector<std::string>& payloads) const;
  /// Subscribes with mosquitto_sub in the background and collects the messages of `topic` until
  /// destruction; `received()` returns them so far.
  class Subscription {
   public:
    Subscription(const MosquittoBroker& broker, const std::string& topic,
                 const std::optional<Login>& login = std::nullopt);
    ~Subscription();
    std::vector<std::string> received() const;

   private:
    int pid_ = -1;
    std::string file_;
  };

 private:
  // The mosquitto_pub / mosquitto_sub options to reach it (TLS, a login).
  std::vector<std::string> client_args(const std::optional<Login>& login) const;
  TempDir dir_;
  bool tls_ = false;
  std::uint16_t port_ = 0;
  int pid_ = -1;
};

/// A private MariaDB server (Debian's `mariadb-server`, installed by scripts/bootstrap): its own
/// temp data directory made by mariadb-install-db, a free port on 127.0.0.1, user root without a
/// password; no systemd. `innodb_flush_log_at_trx_commit` is 2 unless told (a commit survives a
/// crash of the server process, not of the machine: enough for tests). Stopped on destruction.
class MariadbServer {
 public:
  explicit MariadbServer(int flush_log_at_commit = 2);
  ~MariadbServer();
  /// One server for a whole test program (started on first use); tests take their own database.
  static MariadbServer& shared();
  /// Whether the server programs are on this machine.
  static bool available();
  /// Creates a fresh empty database and returns its URL (mariadb://root@127.0.0.1:PORT/NAME).
  std::string create_database();
  std::uint16_t port() const { return port_; }
  /// Runs SQL with the `mariadb` client in `database`; returns what it printed (tab-separated,
  /// no headers). Throws when the client fails.
  std::string sql(const std::string& database, const std::string& statement) const;
  /// Stops the server: SIGTERM (a clean shutdown) or SIGKILL (a crash).
  void stop(bool crash = false);
  /// Starts it again on the same port and data directory.
  void start();
  bool running() const { return pid_ > 0; }

 private:
  TempDir dir_;
  int flush_log_at_commit_;
  std::uint16_t port_ = 0;
  int pid_ = -1;
  int databases_ = 0;
};

/// A private Redis server (Debian's `redis-server`): a free port on 127.0.0.1, no persistence,
/// no systemd. Stopped on destruction; stop() and start() again on the same port.
class RedisServer {
 public:
  RedisServer();
  ~RedisServer();
  static bool available();
  std::uint16_t port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }
  void stop();
  void start();

 private:
  TempDir dir_;
  std::uint16_t port_ = 0;
  int pid_ = -1;
};

/// Debian's nginx running the shipped gateway config (`deploy/nginx/remhart.conf`) as written,
/// except for what only a deployment knows: the replicas' addresses, the listening ports (free
/// ones on 127.0.0.1) and — the TLS listener being tested by `deploy.files` — plain HTTP on the
/// main port, so the test's clients speak to it directly. Stopped on destruction.
class NginxGateway {
 public:
  NginxGateway(const std::string& shipped_conf, const std::vector<std::uint16_t>& replicas);
  ~NginxGateway();
  static bool available();
  std::uint16_t port() const { return port_; }

 private:
  TempDir dir_;
  std::uint16_t port_ = 0;
  int pid_ = -1;
};

}  // namespace remhart::testkit
