#include "app/data_cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <stdexcept>

#include "api/json_out.hpp"
#include "app/config.hpp"
#include "app/serve.hpp"
#include "app/tar.hpp"
#include "core/time.hpp"
#include "store/archive.hpp"
#include "store/mariadb.hpp"
#include "store/object_store.hpp"
#include "store/sqlite.hpp"

namespace remhart::app {

namespace fs = std::filesystem;

namespace {

class Usage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

int guarded(const char* command, const std::function<void()>& body) {
  try {
    body();
    return 0;
  } catch (const Usage& e) {
    std::cerr << "remhart " << command << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "remhart " << command << ": " << e.what() << "\n";
    return 1;
  }
}

std::string random_suffix() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

constexpr core::TimeUs kDay = 86'400 * core::kUsPerSecond;
constexpr const char* kManifest = "remhart-backup.json";
constexpr const char* kDump = "mariadb.sql";
constexpr const char* kDatabase = "remhart.db";

void append_number(std::string& out, double x) {
  if (!core::is_present(x)) return;  // absent: an empty cell
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  out.append(buf, r.ptr);
}

void append_csv(std::string& out, std::string_view device, const core::Record& r) {
  out += device;
  out += ',';
  core::append_rfc3339(out, r.ts);
  const double* v = core::as_array(r.values);
  for (std::size_t k = 0; k < core::kValueCount; ++k) {
    out += ',';
    append_number(out, v[k]);
  }
  out += '\n';
}

// A [client] option file for the MariaDB command-line tools, owner-only, so the password never
// appears on a command line.
fs::path client_options(const std::string& url, const fs::path& dir) {
  const auto o = store::maria::parse_url(url);
  const auto path = dir / "client.cnf";
  {
    std::ofstream f(path);
    f << "[client]\nuser=" << o.user << "\npassword=" << o.password << "\n";
    if (o.socket.empty()) {
      f << "host=" << o.host << "\nport=" << o.port << "\nprotocol=TCP\n";
    } else {
      f << "socket=" << o.socket << "\n";
    }
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  return path;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

void run_tool(const std::string& command, const char* what) {
  const int rc = std::system(command.c_str());
  if (rc != 0)
    throw std::runtime_error(std::string(what) + " failed (exit " + std::to_string(rc) + ")");
}

// Files of the data directory that go into a backup as they are: everything but the live
// database (copied through the backup API), the lock and unfinished writes.
std::vector<fs::path> plain_files(const fs::path& data_dir, const fs::path& skip_dir) {
  std::vector<fs::path> out;
  if (!fs::exists(data_dir)) return out;
  for (auto it = fs::recursive_directory_iterator(data_dir);
       it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && it->path() == skip_dir) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    const auto rel = fs::relative(it->path(), data_dir).generic_string();
    if (rel == kDatabase || rel == std::string(kDatabase) + "-wal" ||
        rel == std::string(kDatabase) + "-shm" || rel == std::string(kDatabase) + "-journal" ||
        rel == "remhart.lock" || rel.find(".partial") != std::string::npos) {
      continue;
    }
    out.push_back(it->path());
  }
  return out;
}

}  // namespace

int run_export(const Config& c, const ExportArgs& a) {
  return guarded("export", [&] {
    const auto from = core::parse_time_param(a.from);
    if (!from) throw Usage("--from must be an RFC 3339 time or Unix milliseconds");
    const auto to = core::parse_time_param(a.to);
    if (!to) throw Usage("--to must be an RFC 3339 time or Unix milliseconds");
    if (*to <= *from) throw Usage("--to must be after --from");
    if (a.format != "csv" && a.format != "ndjson") throw Usage("--format must be csv or ndjson");
    if (!core::valid_origin(a.origin)) throw Usage("--origin must be real or sim:<run id>");
    if (!a.device.empty() && !core::valid_device_id(a.device)) {
      throw Usage("--device must be a device id ([A-Za-z0-9_.-], 1–64)");
    }
    // The embedded store belongs to one process at a time; MariaDB takes any number.
    std::optional<DataDirLock> lock;
    if (c.database_url.empty()) lock.emplace(c.data_dir);
    const auto store = open_store(c);
    const auto objects = open_objects(c);
    std::vector<std::string> devices;
    if (!a.device.empty()) {
      devices.push_back(a.device);
    } else {
      for (const auto& key : store->list_series()) {
        if (key.origin == a.origin) devices.push_back(key.device);
      }
      for (auto& d : store::archived_devices(*objects, a.origin)) devices.push_back(std::move(d));
      std::sort(devices.begin(), devices.end());
      devices.erase(std::unique(devices.begin(), devices.end()), devices.end());
    }
    std::ofstream file;
    std::ostream* out = &std::cout;
    const std::string partial = a.output + ".partial";
    if (!a.output.empty()) {
      file.open(partial, std::ios::binary | std::ios::trunc);
      if (!file) throw std::runtime_error("cannot write " + partial);
      out = &file;
    }
    std::string text;
    if (a.format == "csv") {
      text = "device,ts";
      for (std::size_t k = 0; k < core::kValueCount; ++k) {
        text += ',';
        text += core::kFieldNames[k];
      }
      text += '\n';
    }
    std::size_t total = 0;
    for (const auto& device : devices) {
      // A day at a time: memory stays bounded however long the range.
      for (core::TimeUs t = *from; t < *to; t += kDay) {
        const core::TimeUs end = std::min(*to, t + kDay);
        const auto archived = store::read_archive(*objects, a.origin, device, t, end);
        std::vector<core::Record> hot;
        store::DataQuery q;
        q.device = device;
        q.origin = a.origin;
        q.from = t;
        q.to = end;
        q.ascending = true;
        q.limit = 100'000;
        for (;;) {
          auto page = store->query(q);
          hot.insert(hot.end(), page.records.begin(), page.records.end());
          if (!page.more || page.records.empty()) break;
          q.from = page.records.back().ts + 1;
        }
        // Merge by time; a sample in both (archived, then sent again) is written once, as archived.
        std::size_t i = 0, j = 0;
        while (i < archived.size() || j < hot.size()) {
          const core::Record* r;
          if (j == hot.size() || (i < archived.size() && archived[i].ts <= hot[j].ts)) {
            if (j < hot.size() && archived[i].ts == hot[j].ts) ++j;
            r = &archived[i++];
          } else {
            r = &hot[j++];
          }
          if (a.format == "csv") {
            append_csv(text, device, *r);
          } else {
            api::append_sample_json(text, device, a.origin, *r);
            text += '\n';
          }
          ++total;
          if (text.size() > (1 << 20)) {
            out->write(text.data(), static_cast<std::streamsize>(text.size()));
            text.clear();
          }
        }
      }
    }
    out->write(text.data(), static_cast<std::streamsize>(text.size()));
    out->flush();
    if (!*out) throw std::runtime_error("cannot write the export");
    if (!a.output.empty()) {
      file.close();
      fs::rename(partial, a.output);
    }
    std::cerr << "exported " << total << " samples of " << devices.size() << " device(s)\n";
  });
}

int run_backup(const Config& c, const std::string& file) {
  return guarded("backup", [&] {
    const fs::path target = fs::absolute(file);
    const fs::path data_dir = fs::absolute(c.data_dir);
    const fs::path work = target.parent_path() / (".remhart-backup-" + random_suffix());
    fs::create_directories(work);
    fs::permissions(work, fs::perms::owner_all);
    struct Cleanup {
      fs::path dir;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } cleanup{work};
    nlohmann::json manifest = {{"format", 1},
                               {"version", REMHART_VERSION},
                               {"created", core::format_rfc3339(core::now_us())},
                               {"database", c.database_url.empty() ? "sqlite" : "mariadb"}};
    std::vector<std::pair<std::string, fs::path>> entries;
    if (fs::exists(data_dir / kDatabase)) {
      store::backup_database((data_dir / kDatabase).string(), (work / kDatabase).string());
      entries.emplace_back(kDatabase, work / kDatabase);
    }
    if (!c.database_url.empty()) {
      const auto options = client_options(c.database_url, work);
      const auto o = store::maria::parse_url(c.database_url);
      run_tool("mariadb-dump --defaults-extra-file=" + shell_quote(options.string()) +
                   " --single-transaction --skip-lock-tables --hex-blob --no-create-db " +
                   shell_quote(o.database) + " > " + shell_quote((work / kDump).string()),
               "mariadb-dump");
      entries.emplace_back(kDump, work / kDump);
    }
    for (const auto& p : plain_files(data_dir, work)) {
      entries.emplace_back(fs::relative(p, data_dir).generic_string(), p);
    }
    std::uint64_t bytes = 0;
    auto& files = manifest["files"] = nlohmann::json::array();
    for (const auto& [name, path] : entries) {
      const auto size = fs::file_size(path);
      files.push_back({{"name", name}, {"size", size}});
      bytes += size;
    }
    const fs::path partial = target.string() + ".partial";
    tar::Writer w(partial);
    w.add_bytes(kManifest, manifest.dump(2) + "\n");
    for (const auto& [name, path] : entries) w.add_file(name, path);
    w.finish();
    fs::permissions(partial, fs::perms::owner_read | fs::perms::owner_write);
    fs::rename(partial, target);
    std::cout << "backup: " << entries.size() << " files, " << bytes << " bytes -> "
              << target.string() << "\n";
  });
}

int run_restore(const Config& c, const std::string& file, bool force) {
  return guarded("restore", [&] {
    if (!fs::exists(file)) throw Usage("no backup file " + file);
    fs::create_directories(c.data_dir);
    DataDirLock lock(c.data_dir);  // the server must not run meanwhile
    const fs::path data_dir = fs::absolute(c.data_dir);
    const fs::path work = data_dir / (".restore-" + random_suffix() + ".partial");
    struct Cleanup {
      fs::path dir;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(dir, ec);
      }
    } cleanup{work};
    const auto entries = tar::extract(file, work);
    nlohmann::json manifest;
    try {
      std::ifstream in(work / kManifest);
      manifest = nlohmann::json::parse(in);
    } catch (const std::exception&) {
      throw std::runtime_error(file + " is not a remhart backup (no readable " + kManifest + ")");
    }
    if (manifest.value("format", 0) != 1) {
      throw std::runtime_error(file + " has backup format " +
                               manifest.value("format", nlohmann::json()).dump() +
                               "; this binary reads format 1");
    }
    const bool has_db = fs::exists(work / kDatabase);
    if (has_db && fs::exists(data_dir / kDatabase) && !force) {
      throw Usage(data_dir.string() + " already holds a database: --force replaces it");
    }
    if (has_db) {
      const auto check = store::check_database_file((work / kDatabase).string());
      if (check != "ok") throw std::runtime_error("the backup's database is damaged: " + check);
    }
    if (fs::exists(work / kDump)) {
      if (c.database_url.empty()) {
        throw Usage("the backup holds a MariaDB database: set storage.database_url to restore it");
      }
      const auto o = store::maria::parse_url(c.database_url);
      {
        store::maria::Connection conn(o);
        const auto rows = conn.query(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND "
            "TABLE_NAME = 'measurements'");
        if (!force && !rows.empty() && rows[0].int64(0) > 0) {
          throw Usage("database " + o.database +
                      " already holds measurements: --force replaces them");
        }
      }
      const auto options = client_options(c.database_url, work);
      run_tool("mariadb --defaults-extra-file=" + shell_quote(options.string()) + " " +
                   shell_quote(o.database) + " < " + shell_quote((work / kDump).string()),
               "mariadb (loading the dump)");
    }
    std::size_t restored = 0;
    for (const auto& e : entries) {
      if (e.name == kManifest || e.name == kDump) continue;
      const fs::path to = data_dir / e.name;
      if (e.name == kDatabase) {
        // An old write-ahead log would be replayed into the restored file.
        for (const char* suffix : {"-wal", "-shm", "-journal"}) {
          fs::remove(data_dir / (std::string(kDatabase) + suffix));
        }
      }
      fs::create_directories(to.parent_path());
      fs::rename(work / e.name, to);
      ++restored;
    }
    std::cout << "restored " << restored << " files"
              << (fs::exists(work / kDump) ? " and the MariaDB database" : "") << " from " << file
              << " (made " << manifest.value("created", "?") << " by remhart "
              << manifest.value("version", "?") << ")\n";
  });
}

void add_data_commands(CLI::App& app, Action& action, std::optional<std::string>& config_file,
                       std::string& data_dir) {
  auto leaf = [&](const char* name, const char* help) {
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("--config", config_file, "Configuration file (remhart.toml)");
    sub->add_option("--data-dir", data_dir, "Data directory (default ./data)");
    return sub;
  };
  auto ea = std::make_shared<ExportArgs>();
  auto* exp = leaf("export",
                   "Write stored samples (hot store and archives) as CSV or NDJSON; with SQLite "
                   "the server must be stopped");
  exp->add_option("--from", ea->from, "Start (inclusive): RFC 3339 or Unix milliseconds")
      ->required();
  exp->add_option("--to", ea->to, "End (exclusive)")->required();
  exp->add_option("--device", ea->device, "One device (default: every device of the origin)");
  exp->add_option("--origin", ea->origin, "real (default) or sim:<run id>");
  exp->add_option("--format", ea->format, "csv (default, the import format) or ndjson");
  exp->add_option("--output", ea->output, "File to write (default: standard output)");
  exp->callback([&action, ea] { action = [ea](const Config& c) { return run_export(c, *ea); }; });

  auto backup_file = std::make_shared<std::string>();
  auto* backup = leaf("backup",
                      "Write a consistent copy of the data directory and the database to FILE "
                      "while the server runs");
  backup->add_option("file", *backup_file, "Backup file to write")->required();
  backup->callback([&action, backup_file] {
    action = [backup_file](const Config& c) { return run_backup(c, *backup_file); };
  });

  auto restore_file = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto* restore = leaf("restore", "Bring a backup back (the server must be stopped)");
  restore->add_option("file", *restore_file, "Backup file to read")->required();
  restore->add_flag("--force", *force, "Replace an existing database");
  restore->callback([&action, restore_file, force] {
    action = [restore_file, force](const Config& c) {
      return run_restore(c, *restore_file, *force);
    };
  });
}

}  // namespace remhart::app
