#include <utility>

#include "testkit.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <stdexcept>
#include <thread>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace remhart::testkit {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string remhart_binary() {
  // Absolute: children run in another directory.
  if (const char* e = std::getenv("REMHART_BIN")) return std::filesystem::absolute(e).string();
#ifdef REMHART_BIN_PATH
  return REMHART_BIN_PATH;
#else
  return "build/remhart";
#endif
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "remhart-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::map<std::string, std::string> child_environment(
    const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> out;
  for (const char* name :
       {"PATH", "TMPDIR", "HOME", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* v = std::getenv(name)) out[name] = v;
  }
  for (const auto& [k, v] : env) out[k] = v;
  return out;
}

const std::string& neutral_dir() {
  static const TempDir dir;
  return dir.path();
}

namespace {
std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}
}  // namespace

std::string hermetic_command(const std::string& command,
                             const std::map<std::string, std::string>& env) {
  std::string out = "cd " + shell_quote(neutral_dir()) + " && exec env -i";
  for (const auto& [k, v] : child_environment(env)) out += " " + k + "=" + shell_quote(v);
  return out + " " + command;
}

CliResult run_cli(const std::string& args, const std::map<std::string, std::string>& env) {
  return run_command(remhart_binary() + " " + args, env);
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sample_json(const std::string& device, long long ts_ms, double v) {
  return nlohmann::json{{"device", device},
                        {"ts", ts_ms},
                        {"v", {v, v + 1, v - 1}},
                        {"i", {10.0, 10.5, 9.5}},
                        {"p", {2000, 2100, 1900}},
                        {"q", {300, 320, 280}},
                        {"f", 50.01}}
      .dump();
}

double metric(HttpClient& http, const std::string& name) {
  const auto text = http.get("/metrics").body;
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

std::size_t stored_total(HttpClient& http, const std::string& device) {
  std::size_t n = 0;
  std::string to;
  for (;;) {
    const auto page =
        nlohmann::json::parse(http.get("/api/grid/data?device=" + device + "&limit=1000" +
                                       (to.empty() ? "" : "&to=" + to))
                                  .body);
    const auto& items = page["items"];
    n += items.size();
    if (items.size() < 1000) return n;
    to = items.back()["ts"].get<std::string>();
  }
}

std::string base64url_decode(std::string_view in) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned v = 0;
  int bits = 0;
  for (const char c : in) {
    const auto pos = kAlphabet.find(c);
    if (pos == std::string_view::npos) break;
    v = (v << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((v >> bits) & 0xff));
    }
  }
  return out;
}

std::string jwt_kid(const std::string& token) {
  const auto header =
      nlohmann::json::parse(base64url_decode(token.substr(0, token.find('.'))), nullptr, false);
  return header.is_object() ? header.value("kid", "") : "";
}

CliResult run_command(const std::string& command, const std::map<std::string, std::string>& env) {
  FILE* p = popen(hermetic_command(command + " 2>&1", env).c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  CliResult r;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

struct ServerProcess::Output {
  mutable std::mutex mu;
  std::string text;
  std::thread reader;
};

ServerProcess::ServerProcess(std::string binary, std::string data_dir,
                             std::vector<std::string> extra_args,
                             std::map<std::string, std::string> env)
    : binary_(std::move(binary)),
      data_dir_(std::move(data_dir)),
      extra_(std::move(extra_args)),
      env_(std::move(env)) {
  start();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill9();
}

void ServerProcess::start() {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = {binary_, "serve", "--port", "0", "--data-dir", data_dir_};
  if (admin_password_.empty()) {
    const auto it = env_.find("REMHART_ADMIN_PASSWORD");
    admin_password_ = it != env_.end() ? it->second : random_password();
  }
  args.insert(args.end(), extra_.begin(), extra_.end());
  // Cheaper password hashing keeps tests quick; the hash format and checks are the same. No
  // background training at first start: tests that need models train a small set themselves.
  std::map<std::string, std::string> env = {{"REMHART_ADMIN_PASSWORD", admin_password_},
                                            {"REMHART_AUTH_ARGON2_MEMORY_MIB", "8"},
                                            {"REMHART_AUTH_ARGON2_OPS", "1"},
                                            {"REMHART_ANALYTICS_TRAIN_ON_START", "false"}};
  for (const auto& [k, v] : env_) env[k] = v;
  std::vector<std::string> envp_text;
  for (const auto& [k, v] : child_environment(env)) envp_text.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : envp_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string& cwd = neutral_dir();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  pid_ = pid;
  out_fd_ = fds[0];
  out_ = std::make_shared<Output>();
  auto out = out_;
  const int fd = out_fd_;
  out->reader = std::thread([out, fd] {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      std::lock_guard lock(out->mu);
      out->text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
  });
  out->reader.detach();
  const std::regex re("listening on https?://[^:]+:([0-9]+)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(out->mu);
      std::smatch m;
      if (std::regex_search(out->text, m, re)) {
        port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
        return;
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("remhart exited before listening:\n" + output());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("remhart did not start listening in time:\n" + output());
}

std::string ServerProcess::output() const {
  if (!out_) return {};
  std::lock_guard lock(out_->mu);
  return out_->text;
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void ServerProcess::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ServerProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void ServerProcess::restart() {
  if (pid_ > 0) kill9();
  start();
}

long ServerProcess::rss_kb() const {
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// ---- HTTP -----------------------------------------------------------------------------------

struct HttpClient::Impl {
  Impl(std::uint16_t p, std::string h) : port(p), host(std::move(h)) {}
  void connect() {
    stream = std::make_unique<beast::tcp_stream>(ioc);
    stream->connect(tcp::endpoint(net::ip::make_address(host), port));
    stream->socket().set_option(tcp::no_delay(true));
  }
  net::io_context ioc;
  std::uint16_t port;
  std::string host;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::map<std::string, std::string> default_headers;
};

void HttpClient::set_header(const std::string& name, const std::string& value) {
  if (value.empty()) {
    impl_->default_headers.erase(name);
  } else {
    impl_->default_headers[name] = value;
  }
}

HttpClient::HttpClient(std::uint16_t port, std::string host)
    : impl_(std::make_unique<Impl>(port, std::move(host))) {}
HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& content_type,
                               const std::map<std::string, std::string>& headers) {
  for (int attempt = 0;; ++attempt) {
    try {
      if (!impl_->stream) impl_->connect();
      http::request<http::string_body> req(http::string_to_verb(method), target, 11);
      req.set(http::field::host, impl_->host);
      if (!body.empty() || method == "POST" || method == "PUT") {
        req.set(http::field::content_type, content_type);
        req.body() = body;
      }
      for (const auto& [k, v] : impl_->default_headers) req.set(k, v);
      for (const auto& [k, v] : headers) req.set(k, v);
      req.prepare_payload();
      impl_->stream->expires_after(std::chrono::seconds(120));
      beast::error_code write_ec;
      http::write(*impl_->stream, req, write_ec);  // a server may answer (413) before reading all
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ULL << 31);
      parser.skip(method == "HEAD");  // a reply to HEAD has headers only
      http::read(*impl_->stream, impl_->buffer, parser);
      auto res = parser.release();
      HttpResult out;
      out.status = static_cast<int>(res.result_int());
      out.body = std::move(res.body());
      for (const auto& f : res) {
        std::string name(f.name_string().data(), f.name_string().size());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = std::string(f.value().data(), f.value().size());
      }
      if (!res.keep_alive()) impl_->stream.reset();
      return out;
    } catch (const std::exception&) {
      impl_->stream.reset();
      impl_->buffer.clear();
      if (attempt >= 1) throw;
    }
  }
}

std::string HttpClient::raw(const std::string& bytes, std::chrono::milliseconds timeout) {
  beast::tcp_stream s(impl_->ioc);
  s.connect(tcp::endpoint(net::ip::make_address(impl_->host), impl_->port));
  s.expires_after(timeout);
  beast::error_code wec;
  net::write(s.socket(), net::buffer(bytes), wec);
  s.socket().shutdown(tcp::socket::shutdown_send, wec);  // the request ends here
  std::string out;
  char buf[4096];
  beast::error_code ec;
  for (;;) {
    s.expires_after(timeout);
    const std::size_t n = s.read_some(net::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

// ---- WebSocket ------------------------------------------------------------------------------

struct WsClient::Impl {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool reading = false;
  beast::error_code read_ec;
  bool read_done = false;
};

WsClient::WsClient(std::uint16_t port, const std::string& target)
    : impl_(std::make_unique<Impl>()) {
  beast::get_lowest_layer(impl_->ws).connect(
      tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  beast::get_lowest_layer(impl_->ws).socket().set_option(tcp::no_delay(true));
  impl_->ws.handshake("127.0.0.1", target);
}

WsClient::~WsClient() {
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).socket().close(ec);
}

void WsClient::send(const std::string& text) {
  impl_->ws.text(true);
  impl_->ws.write(net::buffer(text));
}

std::optional<std::string> WsClient::read(std::chrono::milliseconds timeout) {
  auto& im = *impl_;
  if (!im.reading) {
    im.reading = true;
    im.read_done = false;
    im.ws.async_read(im.buffer, [&im](beast::error_code ec, std::size_t) {
      im.read_ec = ec;
      im.read_done = true;
    });
  }
  im.ioc.restart();
  im.ioc.run_for(timeout);
  if (!im.read_done) return std::nullopt;
  im.reading = false;
  if (im.read_ec) throw std::runtime_error("websocket read: " + im.read_ec.message());
  std::string text = beast::buffers_to_string(im.buffer.data());
  im.buffer.consume(im.buffer.size());
  return text;
}

std::string random_password() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::string out;
  for (int k = 0; k < 20; ++k) out.push_back(kChars[rd() % (sizeof kChars - 1)]);
  return out;
}

std::string login(std::uint16_t port, const std::string& username, const std::string& password) {
  HttpClient http(port);
  const std::string body = "{\"username\":\"" + username + "\",\"password\":\"" + password + "\"}";
  const auto r = http.post("/api/auth/login", body);
  if (r.status != 200) {
    throw std::runtime_error("login as " + username + " failed: " + std::to_string(r.status) + " " +
                             r.body);
  }
  static const std::regex re("\"access_token\":\"([^\"]+)\"");
  std::smatch m;
  if (!std::regex_search(r.body, m, re)) throw std::runtime_error("no access token in " + r.body);
  return m[1];
}

std::unique_ptr<HttpClient> admin_client(const ServerProcess& server) {
  auto http = std::make_unique<HttpClient>(server.port());
  http->set_header("Authorization",
                   "Bearer " + login(server.port(), "admin", server.admin_password()));
  return http;
}

void write_self_signed_cert(const std::string& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  if (X509_EXTENSION* ext =
          X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1")) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());
  FILE* f = std::fopen((dir + "/cert.pem").c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen((dir + "/key.pem").c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

TlsResult https_get(std::uint16_t port, const std::string& target, int max_version,
                    const std::map<std::string, std::string>& headers) {
  namespace ssl = net::ssl;
  TlsResult out;
  net::io_context ioc;
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_none);
  SSL_CTX_set_security_level(ctx.native_handle(), 0);  // let the client offer old protocols
  if (max_version) {
    SSL_CTX_set_min_proto_version(ctx.native_handle(), 0);
    SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
  }
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  try {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    stream.handshake(ssl::stream_base::client);
    out.version = SSL_get_version(stream.native_handle());
    http::request<http::string_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "localhost");
    for (const auto& [k, v] : headers) req.set(k, v);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    out.response.status = static_cast<int>(res.result_int());
    out.response.body = res.body();
    for (const auto& f : res) {
      std::string name(f.name_string().data(), f.name_string().size());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.response.headers[name] = std::string(f.value().data(), f.value().size());
    }
    beast::error_code ec;
    stream.shutdown(ec);
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

// ---- A small disk ----------------------------------------------------------------------------

SmallDisk::SmallDisk(int mib) {
  path_ = dir_.path() + "/disk";
  ::mkdir(path_.c_str(), 0700);
  const std::string opts = "size=" + std::to_string(mib) + "m";
  mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) == 0;
}

SmallDisk::~SmallDisk() {
  if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
}

void SmallDisk::fill() {
  const int fd = ::open((path_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const std::string chunk(64 * 1024, 'x');
  while (::write(fd, chunk.data(), chunk.size()) > 0) {
  }
  ::close(fd);
}

void SmallDisk::free_space() {
  ::unlink((path_ + "/filler").c_str());
}

// ---- Mosquitto -------------------------------------------------------------------------------

namespace {

std::string mosquitto_program() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return {};
}

// A port nobody listens on now (the broker binds it a moment later).
std::uint16_t free_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

bool accepts(std::uint16_t port) {
  net::io_context io;
  tcp::socket sock(io);
  beast::error_code ec;
  sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  return !ec;
}

// Starts `argv` (absolute program path first) with stdout/stderr to `log`; returns its pid.
int spawn(std::vector<std::string> argv, const std::string& log) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void stop_child(int& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status = 0;
  for (int k = 0; k < 100 && waitpid(pid, &status, WNOHANG) == 0; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  pid = -1;
}

}  // namespace

bool MosquittoBroker::available() {
  return !mosquitto_program().empty();
}

MosquittoBroker::MosquittoBroker(const std::string& config, bool tls) : tls_(tls) {
  const auto program = mosquitto_program();
  if (program.empty()) throw std::runtime_error("mosquitto is not installed (scripts/bootstrap)");
  if (tls_) write_self_signed_cert(dir_.path());
  for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
    port_ = free_port();
    const auto conf = dir_.path() + "/mosquitto.conf";
    // Started as root, Mosquitto switches to the user `mosquitto`, which cannot read this
    // private directory: it stays root here.
    std::ofstream(conf) << "listener " << port_ << " 127.0.0.1\n"
                        << (tls_ ? "certfile " + ca_file() + "\nkeyfile " + dir_.path() +
                                       "/key.pem\n"
                                 : "")
                        << (::geteuid() == 0 ? "user root\n" : "") << config << "persistence true\n"
                        << "persistence_location " << dir_.path() << "/\n"
                        << "max_queued_messages 100000\n";
    pid_ = spawn({program, "-c", conf}, dir_.path() + "/mosquitto.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!accepts(port_) && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {  // the port was taken meanwhile: again
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0 && !accepts(port_)) stop_child(pid_);
  }
  if (pid_ < 0) throw std::runtime_error("mosquitto did not start (" + dir_.path() + ")");
}

MosquittoBroker::~MosquittoBroker() {
  stop_child(pid_);
}

bool MosquittoBroker::publish(const std::string& topic, const std::string& payload,
                              const std::optional<Login>& login) const {
  const auto file = dir_.path() + "/payload-" + std::to_string(::getpid()) + ".bin";
  std::ofstream(file, std::ios::binary) << payload;
  std::string command = "mosquitto_pub -q 1 -t '" + topic + "' -f '" + file + "'";
  for (const auto& a : client_args(login)) command += " '" + a + "'";
  return run_command(command).status == 0;
}

bool MosquittoBroker::publish_each(const std::string& topic,
                                   const std::vector<std::string>& payloads) const {
  const auto file = dir_.path() + "/lines-" + std::to_string(::getpid()) + ".txt";
  {
    std::ofstream out(file, std::ios::binary);
    for (const auto& p : payloads) out << p << "\n";
  }
  std::string command = "mosquitto_pub -q 1 -l -t '" + topic + "'";
  for (const auto& a : client_args(std::nullopt)) command += " '" + a + "'";
  return run_command(command + " < '" + file + "'").status == 0;
}

std::vector<std::string> MosquittoBroker::client_args(const std::optional<Login>& login) const {
  std::vector<std::string> args = {"-h", "127.0.0.1", "-p", std::to_string(port_)};
  if (tls_) args.insert(args.end(), {"--cafile", ca_file()});
  if (login) args.insert(args.end(), {"-u", login->user, "-P", login->password});
  return args;
}

MosquittoBroker::Subscription::Subscription(const MosquittoBroker& broker, const std::string& topic,
                                            const std::optional<Login>& login)
    : file_(broker.dir_.path() + "/sub-" + std::to_string(std::hash<std::string>{}(topic)) +
            ".txt") {
  // -d: its protocol trace comes first, so the subscription is known to stand before anyone sends;
  // stdbuf: line-buffered into the file (a file is otherwise written only at exit).
  std::vector<std::string> argv = {
      "/usr/bin/stdbuf", "-oL", "/usr/bin/mosquitto_sub", "-d", "-q", "1", "-t", topic};
  const auto more = broker.client_args(login);
  argv.insert(argv.end(), more.begin(), more.end());
  pid_ = spawn(argv, file_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file_);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("Subscribed (mid:") != std::string::npos) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop_child(pid_);  // a constructor that throws runs no destructor
  throw std::runtime_error("mosquitto_sub did not subscribe to " + topic);
}

MosquittoBroker::Subscription::~Subscription() {
  stop_child(pid_);
}

std::vector<std::string> MosquittoBroker::Subscription::received() const {
  std::ifstream in(file_);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    // The -d trace: "Client … sending/received …" and "Subscribed (mid: …)".
    if (line.rfind("Client ", 0) == 0 || line.rfind("Subscribed (mid:", 0) == 0) continue;
    out.push_back(line);
  }
  return out;
}

// ---- MariaDB ---------------------------------------------------------------------------------

namespace {
constexpr const char* kMariadbd = "/usr/sbin/mariadbd";
constexpr const char* kMariadbInstallDb = "/usr/bin/mariadb-install-db";
}  // namespace

bool MariadbServer::available() {
  return ::access(kMariadbd, X_OK) == 0 && ::access(kMariadbInstallDb, X_OK) == 0 &&
         ::access("/usr/bin/mariadb", X_OK) == 0;
}

MariadbServer& MariadbServer::shared() {
  static MariadbServer server;
  return server;
}

MariadbServer::MariadbServer(int flush_log_at_commit) : flush_log_at_commit_(flush_log_at_commit) {
  if (!available()) throw std::runtime_error("mariadb-server is not installed (scripts/bootstrap)");
  std::string install =
      std::string(kMariadbInstallDb) + " --no-defaults --datadir='" + dir_.path() +
      "/data' --auth-root-authentication-method=normal --skip-test-db "
      "--innodb-log-file-size=16M" +
      (::geteuid() == 0 ? " --user=root" : "") + " > '" + dir_.path() + "/install.log' 2>&1";
  // Once more after a failure (seen once under a heavy load); the log goes into the message, as
  // the directory goes with the test.
  for (int attempt = 0;; ++attempt) {
    if (run_command(install).status == 0) break;
    std::ifstream log(dir_.path() + "/install.log");
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (attempt > 0) {
      throw std::runtime_error("mariadb-install-db failed: " +
                               text.substr(text.size() > 2000 ? text.size() - 2000 : 0));
    }
    std::filesystem::remove_all(dir_.path() + "/data");
  }
  start();
}

MariadbServer::~MariadbServer() {
  stop();
}

void MariadbServer::start() {
  if (pid_ > 0) return;
  for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = free_port();
    std::vector<std::string> argv = {
        kMariadbd,
        "--no-defaults",
        "--datadir=" + dir_.path() + "/data",
        "--socket=" + dir_.path() + "/mysqld.sock",
        "--pid-file=" + dir_.path() + "/mysqld.pid",
        "--port=" + std::to_string(port_),
        "--bind-address=127.0.0.1",
        "--innodb-log-file-size=16M",
        "--innodb-buffer-pool-size=128M",
        "--innodb-flush-log-at-trx-commit=" + std::to_string(flush_log_at_commit_),
        "--max-connections=500",
        "--log-error=" + dir_.path() + "/error.log"};
    if (::geteuid() == 0) argv.push_back("--user=root");
    std::filesystem::remove(dir_.path() + "/mysqld.sock");  // a crashed server's
    pid_ = spawn(argv, dir_.path() + "/stdout.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    // Ours once its Unix socket exists (made after the TCP port is bound): another process's
    // server that took the same free port would answer on TCP too.
    const auto socket = dir_.path() + "/mysqld.sock";
    const auto up = [&] { return std::filesystem::exists(socket) && accepts(port_); };
    while (!up() && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {  // the port was taken meanwhile: again
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0 && !up()) stop(true);
  }
  if (pid_ < 0) throw std::runtime_error("mariadbd did not start (" + dir_.path() + "/error.log)");
}

void MariadbServer::stop(bool crash) {
  if (pid_ <= 0) return;
  ::kill(pid_, crash ? SIGKILL : SIGTERM);
  int status = 0;
  for (int k = 0; k < 1500 && waitpid(pid_, &status, WNOHANG) == 0; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (waitpid(pid_, &status, WNOHANG) == 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

std::string MariadbServer::create_database() {
  const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  sql("", "CREATE DATABASE " + name);
  return "mariadb://root@127.0.0.1:" + std::to_string(port_) + "/" + name;
}

std::string MariadbServer::sql(const std::string& database, const std::string& statement) const {
  const auto file = dir_.path() + "/statement.sql";
  std::ofstream(file) << statement << ";\n";
  const auto r = run_command(
      "/usr/bin/mariadb --no-defaults -uroot -h127.0.0.1 -P" + std::to_string(port_) + " -N -B " +
      (database.empty() ? "" : "'" + database + "' ") + "< '" + file + "' 2>&1");
  if (r.status != 0) throw std::runtime_error("mariadb client failed: " + r.output);
  return r.output;
}

// ---- Redis -----------------------------------------------------------------------------------

bool RedisServer::available() {
  return ::access("/usr/bin/redis-server", X_OK) == 0;
}

RedisServer::RedisServer() {
  if (!available()) throw std::runtime_error("redis-server is not installed (scripts/bootstrap)");
  start();
}

RedisServer::~RedisServer() {
  stop();
}

void RedisServer::start() {
  if (pid_ > 0) return;
  for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = free_port();
    pid_ = spawn({"/usr/bin/redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--dir", dir_.path(), "--daemonize", "no"},
                 dir_.path() + "/redis.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!accepts(port_) && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0 && !accepts(port_)) stop_child(pid_);
  }
  if (pid_ < 0) throw std::runtime_error("redis-server did not start (" + dir_.path() + ")");
}

void RedisServer::stop() {
  stop_child(pid_);
}

bool NginxGateway::available() {
  return ::access("/usr/sbin/nginx", X_OK) == 0;
}

NginxGateway::NginxGateway(const std::string& shipped_conf,
                           const std::vector<std::uint16_t>& replicas) {
  if (!available()) throw std::runtime_error("nginx is not installed (scripts/bootstrap)");
  std::ifstream in(shipped_conf);
  if (!in) throw std::runtime_error("cannot read " + shipped_conf);
  std::string conf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto replace = [&conf, &shipped_conf](const std::string& from, const std::string& to) {
    const auto at = conf.find(from);
    if (at == std::string::npos) {
      throw std::runtime_error(shipped_conf + " no longer contains \"" + from + "\"");
    }
    conf.replace(at, from.size(), to);
  };
  // The upstream block names two replicas; the test's take their places.
  std::string servers;
  for (const auto p : replicas) {
    servers += "server 127.0.0.1:" + std::to_string(p) + " max_fails=2 fail_timeout=5s;\n    ";
  }
  replace("server remhart-1:8080 max_fails=2 fail_timeout=5s;\n    ", servers);
  replace("server remhart-2:8080 max_fails=2 fail_timeout=5s;\n", "\n");
  port_ = free_port();
  replace("listen 80;", "listen 127.0.0.1:" + std::to_string(free_port()) + ";");
  replace("listen 443 ssl http2;", "listen 127.0.0.1:" + std::to_string(port_) + ";");
  for (const char* line :
       {"    ssl_certificate     /etc/nginx/tls/tls.crt;\n",
        "    ssl_certificate_key /etc/nginx/tls/tls.key;\n",
        "    ssl_protocols       TLSv1.2 TLSv1.3;\n", "    ssl_prefer_server_ciphers off;\n",
        "    ssl_session_cache   shared:remhart_tls:10m;\n"}) {
    replace(line, "");
  }
  const auto& d = dir_.path();
  std::ofstream(d + "/remhart.conf") << conf;
  std::string main = "pid " + d + "/nginx.pid;\nerror_log " + d + "/error.log;\n";
  if (::geteuid() == 0) main += "user root;\n";
  main += "events {}\nhttp {\naccess_log off;\n";
  for (const char* t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    main += std::string(t) + "_temp_path " + d + "/" + t + ";\n";
  }
  main += "include " + d + "/remhart.conf;\n}\n";
  std::ofstream(d + "/nginx.conf") << main;
  pid_ = spawn({"/usr/sbin/nginx", "-c", d + "/nginx.conf", "-p", d, "-g", "daemon off;"},
               d + "/stdout.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepts(port_) && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      std::ifstream log(d + "/error.log");
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      throw std::runtime_error("nginx did not start: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!accepts(port_)) {
    stop_child(pid_);
    throw std::runtime_error("nginx did not listen on " + std::to_string(port_));
  }
}

NginxGateway::~NginxGateway() {
  stop_child(pid_);
}

}  // namespace remhart::testkit
