#include "grid/io/matpower.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_set>
#include <vector>

namespace remhart::grid::io {

namespace {

struct Row {
  int line;
  std::vector<double> v;
};

class Parser {
 public:
  Parser(std::string_view text, std::string name) : text_(text), name_(std::move(name)) {}

  Network run() {
    std::string version;
    std::optional<double> base_mva;
    std::map<std::string, std::vector<Row>> matrices;
    while (next_statement()) {
      const std::string field = read_field();
      skip_space();
      if (peek() != '=') fail("expected '=' after mpc." + field);
      ++pos_;
      skip_space();
      const int start_line = line_;
      if (peek() == '[') {
        ++pos_;
        matrices[field] = read_matrix(field, start_line);
      } else if (peek() == '{') {
        skip_block('}', field, start_line);
      } else {
        const std::string value = read_scalar();
        if (field == "version") version = value;
        if (field == "baseMVA") base_mva = number(value, "baseMVA");
      }
    }
    if (version.empty()) fail_at(1, "no mpc.version: only MATPOWER case format version 2 is read");
    if (version != "'2'" && version != "\"2\"") {
      fail_at(1, "mpc.version is " + version + "; only version 2 is supported");
    }
    if (!base_mva) fail_at(1, "no mpc.baseMVA");
    for (const char* m : {"bus", "gen", "branch"}) {
      if (!matrices.count(m)) fail_at(line_, std::string("no mpc.") + m + " matrix");
    }
    Network net;
    net.name = name_;
    net.base_mva = *base_mva;
    std::unordered_set<std::int64_t> ids;
    for (const auto& r : matrices["bus"]) {
      need(r, 13, "bus", "bus_i type Pd Qd Gs Bs area Vm Va baseKV zone Vmax Vmin");
      Bus b;
      b.id = id(r, 0, "bus_i");
      const auto t = id(r, 1, "type");
      if (t < 1 || t > 4) fail_at(r.line, "bus type must be 1 (PQ), 2 (PV), 3 (reference) or 4");
      b.type = static_cast<BusType>(t);
      b.pd = finite(r, 2, "Pd");
      b.qd = finite(r, 3, "Qd");
      b.gs = finite(r, 4, "Gs");
      b.bs = finite(r, 5, "Bs");
      b.vm = finite(r, 7, "Vm");
      b.va = finite(r, 8, "Va");
      b.base_kv = finite(r, 9, "baseKV");
      b.vmax = r.v[11];
      b.vmin = r.v[12];
      if (!(b.vm > 0)) fail_at(r.line, "Vm must be positive");
      if (!ids.insert(b.id).second)
        fail_at(r.line, "bus " + std::to_string(b.id) + " is defined twice");
      net.buses.push_back(b);
    }
    for (const auto& r : matrices["gen"]) {
      need(r, 10, "gen", "bus Pg Qg Qmax Qmin Vg mBase status Pmax Pmin");
      Gen g;
      g.bus = known(r, ids, "gen");
      g.pg = finite(r, 1, "Pg");
      g.qg = finite(r, 2, "Qg");
      g.qmax = r.v[3];
      g.qmin = r.v[4];
      g.vg = finite(r, 5, "Vg");
      g.in_service = r.v[7] > 0;
      g.pmax = r.v[8];
      g.pmin = r.v[9];
      if (std::isnan(g.qmax) || std::isnan(g.qmin))
        fail_at(r.line, "Qmax and Qmin must be numbers");
      if (g.in_service && !(g.vg > 0)) fail_at(r.line, "Vg must be positive");
      net.gens.push_back(g);
    }
    for (const auto& r : matrices["branch"]) {
      need(r, 11, "branch", "fbus tbus r x b rateA rateB rateC ratio angle status");
      Branch br;
      br.from = known(r, ids, "branch");
      br.to = id(r, 1, "tbus");
      if (!ids.count(br.to)) fail_at(r.line, "tbus " + std::to_string(br.to) + " is not a bus");
      br.r = finite(r, 2, "r");
      br.x = finite(r, 3, "x");
      br.b = finite(r, 4, "b");
      br.rate_a = finite(r, 5, "rateA");
      br.ratio = finite(r, 8, "ratio");
      br.shift = finite(r, 9, "angle");
      br.in_service = r.v[10] > 0;
      if (br.ratio < 0) fail_at(r.line, "ratio must not be negative");
      if (br.in_service && br.r == 0 && br.x == 0) fail_at(r.line, "branch has zero impedance");
      net.branches.push_back(br);
    }
    return net;
  }

 private:
  [[noreturn]] void fail_at(int line, const std::string& what) const {
    throw NetworkError(name_ + ":" + std::to_string(line) + ": " + what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(line_, what); }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_comment() {
    while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
  }
  void skip_space() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '%') {
        skip_comment();
      } else if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else {
        break;
      }
    }
  }

  // Moves to the next `mpc.<field>` statement; other statements (function line, comments) are
  // skipped line by line.
  bool next_statement() {
    for (;;) {
      skip_space();
      if (pos_ >= text_.size()) return false;
      if (text_.compare(pos_, 4, "mpc.") == 0) {
        pos_ += 4;
        return true;
      }
      while (pos_ < text_.size() && text_[pos_] != '\n') {
        if (text_[pos_] == '%') break;
        ++pos_;
      }
    }
  }

  std::string read_field() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_'))
      ++pos_;
    if (pos_ == start) fail("expected a field name after 'mpc.'");
    return std::string(text_.substr(start, pos_ - start));
  }

  std::string read_scalar() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ';' && text_[pos_] != '\n' && text_[pos_] != '%')
      ++pos_;
    std::string v(text_.substr(start, pos_ - start));
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.pop_back();
    if (peek() == ';') ++pos_;
    return v;
  }

  void skip_block(char close, const std::string& field, int start_line) {
    while (pos_ < text_.size() && text_[pos_] != close) {
      if (text_[pos_] == '\n') ++line_;
      ++pos_;
    }
    if (pos_ >= text_.size()) fail_at(start_line, "mpc." + field + " is not closed");
    ++pos_;
  }

  double number(std::string_view token, const std::string& what) const {
    if (token == "Inf" || token == "inf") return std::numeric_limits<double>::infinity();
    if (token == "-Inf" || token == "-inf") return -std::numeric_limits<double>::infinity();
    if (token == "NaN" || token == "nan") return std::numeric_limits<double>::quiet_NaN();
    double v = 0;
    const char* b = token.data();
    const char* e = b + token.size();
    if (!token.empty() && *b == '+') ++b;
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p != e)
      fail("'" + std::string(token) + "' is not a number (" + what + ")");
    return v;
  }

  std::vector<Row> read_matrix(const std::string& field, int start_line) {
    std::vector<Row> rows;
    Row cur{line_, {}};
    auto end_row = [&] {
      if (!cur.v.empty()) rows.push_back(std::move(cur));
      cur = Row{line_, {}};
    };
    for (;;) {
      if (pos_ >= text_.size()) fail_at(start_line, "mpc." + field + " is not closed with ']'");
      const char c = text_[pos_];
      if (c == ']') {
        ++pos_;
        end_row();
        skip_space();
        if (peek() == ';') ++pos_;
        return rows;
      }
      if (c == '%') {
        skip_comment();
      } else if (c == '\n') {
        end_row();
        ++line_;
        ++pos_;
        cur.line = line_;
      } else if (c == ';') {
        end_row();
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == ',') {
        ++pos_;
      } else {
        const std::size_t start = pos_;
        while (pos_ < text_.size() && !std::strchr(" \t\r\n,;]%", text_[pos_])) ++pos_;
        if (cur.v.empty()) cur.line = line_;
        cur.v.push_back(number(text_.substr(start, pos_ - start), "mpc." + field));
      }
    }
  }

  void need(const Row& r, std::size_t cols, const char* what, const char* names) const {
    if (r.v.size() < cols) {
      fail_at(r.line, std::string(what) + " row has " + std::to_string(r.v.size()) +
                          " columns; needs at least " + std::to_string(cols) + " (" + names + ")");
    }
  }
  double finite(const Row& r, std::size_t col, const char* what) const {
    if (!std::isfinite(r.v[col])) fail_at(r.line, std::string(what) + " must be a finite number");
    return r.v[col];
  }
  std::int64_t id(const Row& r, std::size_t col, const char* what) const {
    const double v = r.v[col];
    if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 1e15) {
      fail_at(r.line, std::string(what) + " must be an integer");
    }
    return static_cast<std::int64_t>(v);
  }
  std::int64_t known(const Row& r, const std::unordered_set<std::int64_t>& ids,
                     const char* what) const {
    const auto b = id(r, 0, "bus");
    if (!ids.count(b))
      fail_at(r.line, std::string(what) + " refers to bus " + std::to_string(b) +
                          ", which is not in mpc.bus");
    return b;
  }

  std::string_view text_;
  std::string name_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

Network parse_matpower(std::string_view text, const std::string& name) {
  return Parser(text, name).run();
}

Network read_matpower(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NetworkError(path + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string name = path;
  if (const auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
  if (name.size() > 2 && name.ends_with(".m")) name.resize(name.size() - 2);
  auto net = parse_matpower(ss.str(), path);
  net.name = name;
  return net;
}

}  // namespace remhart::grid::io
