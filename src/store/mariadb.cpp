#include "store/mariadb.hpp"

#include <mysql.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/error.hpp"

namespace remhart::store::maria {

namespace {

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '%' && k + 2 < s.size()) {
      unsigned v = 0;
      const auto r = std::from_chars(s.data() + k + 1, s.data() + k + 3, v, 16);
      if (r.ec != std::errc() || r.ptr != s.data() + k + 3) {
        throw std::invalid_argument("bad percent escape in the database URL");
      }
      out.push_back(static_cast<char>(v));
      k += 2;
    } else {
      out.push_back(s[k]);
    }
  }
  return out;
}

bool is_integer_type(enum_field_types t) {
  switch (t) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_YEAR:
      return true;
    default:
      return false;
  }
}

bool is_real_type(enum_field_types t) {
  return t == MYSQL_TYPE_FLOAT || t == MYSQL_TYPE_DOUBLE || t == MYSQL_TYPE_DECIMAL ||
         t == MYSQL_TYPE_NEWDECIMAL;
}

}  // namespace

ConnectionOptions parse_url(std::string_view url) {
  ConnectionOptions o;
  std::string_view rest;
  for (std::string_view scheme : {"mariadb://", "mysql://"}) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  if (rest.empty()) throw std::invalid_argument("the database URL must start with mariadb://");
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    const auto query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    std::size_t start = 0;
    while (start <= query.size()) {
      const auto end = std::min(query.find('&', start), query.size());
      const auto item = query.substr(start, end - start);
      const auto eq = item.find('=');
      const auto key = item.substr(0, eq);
      const auto value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
      if (key == "socket") {
        o.socket = percent_decode(value);
      } else if (!key.empty()) {
        throw std::invalid_argument("unknown database URL option '" + std::string(key) +
                                    "' (known: socket)");
      }
      start = end + 1;
    }
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    o.database = percent_decode(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  if (o.database.empty()) throw std::invalid_argument("the database URL names no database");
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const auto user = rest.substr(0, at);
    const auto colon = user.find(':');
    o.user = percent_decode(user.substr(0, colon));
    if (colon != std::string_view::npos) o.password = percent_decode(user.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    const auto port = rest.substr(colon + 1);
    unsigned p = 0;
    const auto r = std::from_chars(port.data(), port.data() + port.size(), p);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || p == 0 || p > 65535) {
      throw std::invalid_argument("bad port in the database URL");
    }
    o.port = p;
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) o.host = std::string(rest);
  return o;
}

std::string redacted_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  const auto at = url.rfind('@');
  if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end) {
    return std::string(url);
  }
  const auto userinfo = url.substr(scheme_end + 3, at - scheme_end - 3);
  const auto colon = userinfo.find(':');
  if (colon == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, scheme_end + 3 + colon + 1)) + "***" +
         std::string(url.substr(at));
}

bool Error::connection_lost() const {
  switch (code_) {
    case 2002:  // CR_CONNECTION_ERROR
    case 2003:  // CR_CONN_HOST_ERROR
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1927:  // ER_CONNECTION_KILLED
    case 4031:  // ER_CLIENT_INTERACTION_TIMEOUT
      return true;
    default:
      return false;
  }
}

bool Error::disk_full() const {
  return code_ == 1114 /* ER_RECORD_FILE_FULL */ || code_ == 1021 /* ER_DISK_FULL */;
}

bool Error::transient() const {
  return code_ == 1213 /* ER_LOCK_DEADLOCK */ || code_ == 1205 /* ER_LOCK_WAIT_TIMEOUT */;
}

std::int64_t Row::int64(std::size_t k) const {
  if (const auto* v = std::get_if<std::int64_t>(&cells[k])) return *v;
  if (const auto* d = std::get_if<double>(&cells[k])) return static_cast<std::int64_t>(*d);
  if (const auto* s = std::get_if<std::string>(&cells[k])) return std::stoll(*s);
  return 0;
}

double Row::real(std::size_t k) const {
  if (const auto* d = std::get_if<double>(&cells[k])) return *d;
  if (const auto* v = std::get_if<std::int64_t>(&cells[k])) return static_cast<double>(*v);
  if (const auto* s = std::get_if<std::string>(&cells[k])) return std::stod(*s);
  return std::nan("");
}

std::string Row::text(std::size_t k) const {
  if (const auto* s = std::get_if<std::string>(&cells[k])) return *s;
  if (const auto* v = std::get_if<std::int64_t>(&cells[k])) return std::to_string(*v);
  if (const auto* d = std::get_if<double>(&cells[k])) return std::to_string(*d);
  return {};
}

// ---- Connection ----

Connection::Connection(const ConnectionOptions& o) : db_(mysql_init(nullptr)) {
  if (!db_) throw Error(2008, "mariadb: out of memory");
  const unsigned connect_s = static_cast<unsigned>(o.connect_timeout.count());
  const unsigned io_s = static_cast<unsigned>(o.io_timeout.count());
  mysql_options(db_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
  mysql_options(db_, MYSQL_OPT_READ_TIMEOUT, &io_s);
  mysql_options(db_, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
  mysql_options(db_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!mysql_real_connect(db_, o.socket.empty() ? o.host.c_str() : nullptr, o.user.c_str(),
                          o.password.c_str(), o.database.c_str(), o.port,
                          o.socket.empty() ? nullptr : o.socket.c_str(), 0)) {
    const Error e(mysql_errno(db_), std::string("mariadb: cannot connect: ") + mysql_error(db_));
    mysql_close(db_);
    db_ = nullptr;
    throw e;
  }
  // UTC, strict, and READ COMMITTED: the writer's existence checks need no gap locks.
  try {
    exec("SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'");
    exec("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  } catch (...) {
    mysql_close(db_);  // the destructor does not run for a constructor that throws
    db_ = nullptr;
    throw;
  }
}

Connection::~Connection() {
  if (db_) mysql_close(db_);
}

void Connection::fail(const char* what) {
  Error e(mysql_errno(db_), std::string("mariadb: ") + what + ": " + mysql_error(db_));
  if (e.connection_lost()) broken_ = true;
  throw e;
}

void Connection::exec(std::string_view sql) {
  if (mysql_real_query(db_, sql.data(), sql.size()) != 0) fail("query failed");
  // Drain any result so the connection is ready for the next command.
  do {
    if (MYSQL_RES* r = mysql_store_result(db_)) mysql_free_result(r);
  } while (mysql_next_result(db_) == 0);
  if (mysql_errno(db_) != 0) fail("query failed");
}

std::vector<Row> Connection::query(std::string_view sql) {
  if (mysql_real_query(db_, sql.data(), sql.size()) != 0) fail("query failed");
  MYSQL_RES* r = mysql_store_result(db_);
  if (!r) {
    if (mysql_errno(db_) != 0) fail("query failed");
    return {};
  }
  std::vector<Row> out;
  const unsigned n = mysql_num_fields(r);
  MYSQL_FIELD* fields = mysql_fetch_fields(r);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    const unsigned long* lengths = mysql_fetch_lengths(r);
    Row o;
    o.cells.resize(n);
    for (unsigned k = 0; k < n; ++k) {
      if (!row[k]) continue;
      const std::string_view text(row[k], lengths[k]);
      if (is_integer_type(fields[k].type)) {
        std::int64_t v = 0;
        std::from_chars(text.data(), text.data() + text.size(), v);
        o.cells[k] = v;
      } else {
        o.cells[k] = std::string(text);
      }
    }
    out.push_back(std::move(o));
  }
  mysql_free_result(r);
  return out;
}

std::uint64_t Connection::affected_rows() const {
  return mysql_affected_rows(db_);
}

bool Connection::alive() {
  if (broken_) return false;
  if (mysql_ping(db_) != 0) broken_ = true;
  return !broken_;
}

std::string quote(Connection& c, std::string_view s) {
  std::string out(s.size() * 2 + 3, '\0');
  out[0] = '\'';
  const auto n = mysql_real_escape_string(c.handle(), out.data() + 1, s.data(), s.size());
  out.resize(n + 1);
  out.push_back('\'');
  return out;
}

NamedLock::NamedLock(Connection& c, std::string name, int timeout_s)
    : c_(c), name_(std::move(name)) {
  const auto rows =
      c_.query("SELECT GET_LOCK(" + quote(c_, name_) + ", " + std::to_string(timeout_s) + ")");
  if (rows.empty() || rows[0].is_null(0) || rows[0].int64(0) != 1) {
    throw std::runtime_error(fmt::format(
        "another replica held the database lock '{}' for more than {} s", name_, timeout_s));
  }
}

NamedLock::~NamedLock() {
  try {
    c_.query("SELECT RELEASE_LOCK(" + quote(c_, name_) + ")");
  } catch (const std::exception&) {
    // The server releases a lock when its connection ends.
  }
}

void apply_migrations(Connection& c, const std::string& component,
                      const std::vector<std::vector<std::string>>& steps) {
  NamedLock lock(c, "remhart.migrations", 300);
  c.exec(
      "CREATE TABLE IF NOT EXISTS schema_versions(component VARCHAR(64) NOT NULL PRIMARY KEY, "
      "version INT NOT NULL) ENGINE=InnoDB");
  const auto rows =
      c.query("SELECT version FROM schema_versions WHERE component = " + quote(c, component));
  const std::int64_t have = rows.empty() ? 0 : rows[0].int64(0);
  if (have > static_cast<std::int64_t>(steps.size())) {
    throw std::runtime_error(fmt::format(
        "the database's {} schema is version {}, newer than this binary's {}: upgrade remhart",
        component, have, steps.size()));
  }
  for (auto v = static_cast<std::size_t>(have); v < steps.size(); ++v) {
    for (const auto& sql : steps[v]) c.exec(sql);
    c.exec(
        fmt::format("INSERT INTO schema_versions(component, version) VALUES({}, {}) "
                    "ON DUPLICATE KEY UPDATE version = VALUES(version)",
                    quote(c, component), v + 1));
    spdlog::info("database: {} schema migrated to version {}", component, v + 1);
  }
}

// ---- Statement ----

Statement::Statement(Connection& c, std::string_view sql)
    : conn_(c), stmt_(mysql_stmt_init(c.handle())) {
  if (!stmt_) c.fail("cannot make a statement");
  if (mysql_stmt_prepare(stmt_, sql.data(), sql.size()) != 0) {
    // The destructor does not run for a constructor that throws: close it here.
    try {
      fail("prepare failed");
    } catch (...) {
      mysql_stmt_close(stmt_);
      stmt_ = nullptr;
      throw;
    }
  }
}

Statement::~Statement() {
  if (stmt_) mysql_stmt_close(stmt_);
}

void Statement::fail(const char* what) {
  Error e(mysql_stmt_errno(stmt_),
          std::string("mariadb: ") + what + ": " + mysql_stmt_error(stmt_));
  if (e.connection_lost()) (void)conn_.alive();  // marks the connection broken
  throw e;
}

namespace {

// Parameter binds pointing into `params` (which outlives the execution).
std::vector<MYSQL_BIND> bind_params(const std::vector<Value>& params,
                                    std::vector<unsigned long>& lengths) {
  std::vector<MYSQL_BIND> b(params.size());
  lengths.assign(params.size(), 0);
  for (std::size_t k = 0; k < params.size(); ++k) {
    std::memset(&b[k], 0, sizeof(MYSQL_BIND));
    auto& v = const_cast<Value&>(params[k]);
    if (auto* i = std::get_if<std::int64_t>(&v)) {
      b[k].buffer_type = MYSQL_TYPE_LONGLONG;
      b[k].buffer = i;
    } else if (auto* d = std::get_if<double>(&v)) {
      if (std::isnan(*d)) {
        b[k].buffer_type = MYSQL_TYPE_NULL;
      } else {
        b[k].buffer_type = MYSQL_TYPE_DOUBLE;
        b[k].buffer = d;
      }
    } else if (auto* s = std::get_if<std::string>(&v)) {
      b[k].buffer_type = MYSQL_TYPE_STRING;
      b[k].buffer = s->data();
      b[k].buffer_length = s->size();
      lengths[k] = s->size();
      b[k].length = &lengths[k];
    } else {
      b[k].buffer_type = MYSQL_TYPE_NULL;
    }
  }
  return b;
}

}  // namespace

std::uint64_t Statement::execute(const std::vector<Value>& params) {
  std::vector<unsigned long> lengths;
  auto binds = bind_params(params, lengths);
  if (!binds.empty() && mysql_stmt_bind_param(stmt_, binds.data()) != 0) fail("bind failed");
  if (mysql_stmt_execute(stmt_) != 0) fail("execute failed");
  const auto affected = mysql_stmt_affected_rows(stmt_);
  return affected == static_cast<my_ulonglong>(-1) ? 0 : affected;
}

void Statement::query(const std::vector<Value>& params,
                      const std::function<void(const Row&)>& row) {
  execute(params);
  MYSQL_RES* meta = mysql_stmt_result_metadata(stmt_);
  if (!meta) return;
  struct Meta {
    MYSQL_RES* r;
    ~Meta() { mysql_free_result(r); }
  } guard{meta};
  const unsigned n = mysql_num_fields(meta);
  MYSQL_FIELD* fields = mysql_fetch_fields(meta);
  std::vector<MYSQL_BIND> binds(n);
  std::vector<std::int64_t> ints(n);
  std::vector<double> reals(n);
  std::vector<std::string> texts(n);
  std::vector<unsigned long> lengths(n);
  std::vector<my_bool> nulls(n), errors(n);
  enum class Kind { integer, real, text };
  std::vector<Kind> kinds(n);
  for (unsigned k = 0; k < n; ++k) {
    std::memset(&binds[k], 0, sizeof(MYSQL_BIND));
    binds[k].is_null = &nulls[k];
    binds[k].length = &lengths[k];
    binds[k].error = &errors[k];
    if (is_integer_type(fields[k].type)) {
      kinds[k] = Kind::integer;
      binds[k].buffer_type = MYSQL_TYPE_LONGLONG;
      binds[k].buffer = &ints[k];
    } else if (is_real_type(fields[k].type)) {
      kinds[k] = Kind::real;
      binds[k].buffer_type = MYSQL_TYPE_DOUBLE;
      binds[k].buffer = &reals[k];
    } else {
      kinds[k] = Kind::text;
      texts[k].resize(256);
      binds[k].buffer_type = MYSQL_TYPE_STRING;
      binds[k].buffer = texts[k].data();
      binds[k].buffer_length = texts[k].size();
    }
  }
  if (mysql_stmt_bind_result(stmt_, binds.data()) != 0) fail("bind result failed");
  Row out;
  out.cells.resize(n);
  for (;;) {
    const int rc = mysql_stmt_fetch(stmt_);
    if (rc == MYSQL_NO_DATA) break;
    if (rc == 1) fail("fetch failed");
    for (unsigned k = 0; k < n; ++k) {
      if (nulls[k]) {
        out.cells[k] = std::monostate{};
        continue;
      }
      switch (kinds[k]) {
        case Kind::integer:
          out.cells[k] = ints[k];
          break;
        case Kind::real:
          out.cells[k] = reals[k];
          break;
        case Kind::text: {
          std::string s(lengths[k], '\0');
          if (lengths[k] <= texts[k].size()) {
            std::memcpy(s.data(), texts[k].data(), lengths[k]);
          } else {  // longer than the buffer: fetch this column whole
            MYSQL_BIND b;
            std::memset(&b, 0, sizeof(b));
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = s.data();
            b.buffer_length = s.size();
            if (mysql_stmt_fetch_column(stmt_, &b, k, 0) != 0) fail("fetch failed");
          }
          out.cells[k] = std::move(s);
        }
      }
    }
    row(out);
  }
  mysql_stmt_free_result(stmt_);
}

std::vector<Row> Statement::rows(const std::vector<Value>& params) {
  std::vector<Row> out;
  query(params, [&](const Row& r) { out.push_back(r); });
  return out;
}

std::uint64_t Statement::execute_array(std::span<const Column> columns, std::size_t rows) {
  if (rows == 0) return 0;
  std::vector<MYSQL_BIND> binds(columns.size());
  std::vector<std::vector<char>> indicators(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c) {
    std::memset(&binds[c], 0, sizeof(MYSQL_BIND));
    const auto& col = columns[c];
    if (!col.ints.empty()) {
      binds[c].buffer_type = MYSQL_TYPE_LONGLONG;
      binds[c].buffer = const_cast<std::int64_t*>(col.ints.data());
      continue;
    }
    binds[c].buffer_type = MYSQL_TYPE_DOUBLE;
    binds[c].buffer = const_cast<double*>(col.reals.data());
    bool any_null = false;
    for (double x : col.reals) any_null = any_null || std::isnan(x);
    if (any_null) {
      auto& ind = indicators[c];
      ind.resize(rows);
      for (std::size_t r = 0; r < rows; ++r) {
        ind[r] = std::isnan(col.reals[r]) ? STMT_INDICATOR_NULL : STMT_INDICATOR_NONE;
      }
      binds[c].u.indicator = ind.data();
    }
  }
  unsigned int n = static_cast<unsigned int>(rows);
  if (mysql_stmt_attr_set(stmt_, STMT_ATTR_ARRAY_SIZE, &n) != 0) fail("array size failed");
  if (mysql_stmt_bind_param(stmt_, binds.data()) != 0) fail("bind failed");
  if (mysql_stmt_execute(stmt_) != 0) fail("execute failed");
  return mysql_stmt_affected_rows(stmt_);
}

// ---- Transaction ----

Transaction::Transaction(Connection& c) : c_(c) {
  c_.exec("START TRANSACTION");
}

Transaction::~Transaction() {
  if (!open_ || c_.broken()) return;
  try {
    c_.exec("ROLLBACK");
  } catch (const Error&) {
    // The connection went away: the server rolls the transaction back itself.
  }
}

void Transaction::commit() {
  c_.exec("COMMIT");
  open_ = false;
}

// ---- Pool ----

Pool::Pool(Options o) : opt_(std::move(o)) {
  if (opt_.max == 0) opt_.max = 1;
  for (std::size_t k = 0; k < std::min(opt_.min, opt_.max); ++k) {
    idle_.push_back(std::make_unique<Connection>(opt_.connection));
  }
}

Pool::~Pool() = default;

Pool::Lease::~Lease() {
  if (pool_ && conn_) pool_->release(std::move(conn_));
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, opt_.wait, [&] { return !idle_.empty() || in_use_ < opt_.max; })) {
    throw core::Error(core::ErrorKind::unavailable,
                      "every database connection is busy; retry shortly", "", 1);
  }
  ++in_use_;
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(c));
  }
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<Connection>(opt_.connection));
  } catch (...) {
    lock.lock();
    --in_use_;
    cv_.notify_one();
    throw;
  }
}

void Pool::drop_idle() {
  std::lock_guard lock(mu_);
  idle_.clear();
}

void Pool::release(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  --in_use_;
  if (!c->broken()) idle_.push_back(std::move(c));
  cv_.notify_one();
}

std::size_t Pool::in_use() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

std::size_t Pool::open() const {
  std::lock_guard lock(mu_);
  return in_use_ + idle_.size();
}

std::unique_ptr<Pool> open_migrated(const std::string& url, const std::string& component,
                                    const std::vector<std::vector<std::string>>& steps,
                                    std::size_t max) {
  Pool::Options o;
  o.connection = parse_url(url);
  o.min = 1;
  o.max = max;
  auto pool = std::make_unique<Pool>(o);
  pool->with([&](Connection& c) { apply_migrations(c, component, steps); });
  return pool;
}

}  // namespace remhart::store::maria
