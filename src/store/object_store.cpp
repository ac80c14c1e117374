#include "store/object_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

#include "store/mariadb.hpp"

namespace remhart::store {

namespace fs = std::filesystem;

// ---- directory ----

namespace {

constexpr std::string_view kPartial = ".partial-";

core::TimeUs modified_us(const struct stat& st) {
  return static_cast<core::TimeUs>(st.st_mtim.tv_sec) * core::kUsPerSecond +
         st.st_mtim.tv_nsec / 1000;
}

void sync_fd(int fd, const fs::path& p) {
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error("cannot sync " + p.string() + ": " + std::strerror(err));
  }
}

}  // namespace

DirectoryObjectStore::DirectoryObjectStore(fs::path root) : root_(std::move(root)) {
  fs::create_directories(root_);
}

namespace {

// Writes `data` to a new temporary file beside `target` and syncs it; returns its path.
fs::path write_partial(const fs::path& target, std::span<const std::byte> data) {
  fs::create_directories(target.parent_path());
  std::random_device rd;
  const fs::path tmp = target.parent_path() /
                       (target.filename().string() + std::string(kPartial) + std::to_string(rd()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("cannot write " + tmp.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  try {
    sync_fd(fd, tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  return tmp;
}

// The rename or link of a file into `dir` is durable once the directory is synced.
void sync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

void DirectoryObjectStore::put(std::string_view name, std::span<const std::byte> data) {
  core::check_object_name(name);
  const fs::path target = root_ / std::string(name);
  const auto tmp = write_partial(target, data);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + target.string() + ": " + std::strerror(err));
  }
  sync_dir(target.parent_path());
}

bool DirectoryObjectStore::put_new(std::string_view name, std::span<const std::byte> data) {
  core::check_object_name(name);
  const fs::path target = root_ / std::string(name);
  const auto tmp = write_partial(target, data);
  // link() fails when the name exists: the first writer keeps it.
  const int linked = ::link(tmp.c_str(), target.c_str());
  const int err = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (err == EEXIST) return false;
    throw std::runtime_error("cannot write " + target.string() + ": " + std::strerror(err));
  }
  sync_dir(target.parent_path());
  return true;
}

std::optional<std::vector<std::byte>> DirectoryObjectStore::get(std::string_view name) const {
  core::check_object_name(name);
  std::ifstream in(root_ / std::string(name), std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read object " + std::string(name));
  std::vector<std::byte> out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

std::vector<core::ObjectInfo> DirectoryObjectStore::list(std::string_view prefix) const {
  std::vector<core::ObjectInfo> out;
  std::error_code ec;
  // Walk only the deepest directory the prefix names, not the whole store.
  const auto slash = prefix.rfind('/');
  if (slash != std::string_view::npos) core::check_object_name(prefix.substr(0, slash));
  const fs::path start =
      slash == std::string_view::npos ? root_ : root_ / std::string(prefix.substr(0, slash));
  for (auto it = fs::recursive_directory_iterator(start, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    // Lexically, and from one stat: a file another writer renames or removes meanwhile is
    // skipped, never an error.
    const auto name = it->path().lexically_relative(root_).generic_string();
    if (name.find(kPartial) != std::string::npos) continue;  // a write in progress or cut short
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back({name, static_cast<std::uint64_t>(st.st_size), modified_us(st)});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

bool DirectoryObjectStore::remove(std::string_view name) {
  core::check_object_name(name);
  return fs::remove(root_ / std::string(name));
}

// ---- MariaDB ----

namespace {

constexpr std::size_t kChunk = 4 << 20;

// Replaces the chunks of `name` by `data`'s (inside the caller's transaction).
void write_chunks(maria::Connection& c, const std::string& name, std::span<const std::byte> data) {
  maria::Statement(c, "DELETE FROM object_chunks WHERE name = ?").execute({name});
  maria::Statement insert(c, "INSERT INTO object_chunks(name, seq, data) VALUES(?, ?, ?)");
  const auto* bytes = reinterpret_cast<const char*>(data.data());
  std::size_t at = 0;
  std::int64_t seq = 0;
  do {  // an empty object is one empty chunk
    const auto n = std::min(kChunk, data.size() - at);
    insert.execute({name, seq++, std::string(bytes + at, n)});
    at += n;
  } while (at < data.size());
}

}  // namespace

MariadbObjectStore::MariadbObjectStore(const std::string& url) : url_(url) {
  maria::Pool::Options o;
  o.connection = maria::parse_url(url);
  o.min = 1;
  o.max = 4;
  pool_ = std::make_unique<maria::Pool>(o);
  pool_->with([](maria::Connection& c) {
    maria::apply_migrations(
        c, "objects",
        {{"CREATE TABLE IF NOT EXISTS objects(name VARBINARY(512) NOT NULL PRIMARY KEY, size "
          "BIGINT NOT NULL, modified BIGINT NOT NULL) ENGINE=InnoDB",
          "CREATE TABLE IF NOT EXISTS object_chunks(name VARBINARY(512) NOT NULL, seq INT NOT "
          "NULL, data LONGBLOB NOT NULL, PRIMARY KEY(name, seq)) ENGINE=InnoDB"}});
  });
}

MariadbObjectStore::~MariadbObjectStore() = default;

std::string MariadbObjectStore::where() const {
  return "database " + maria::redacted_url(url_);
}

void MariadbObjectStore::put(std::string_view name_view, std::span<const std::byte> data) {
  core::check_object_name(name_view);
  const std::string name(name_view);
  pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    write_chunks(c, name, data);
    maria::Statement(c, "REPLACE INTO objects(name, size, modified) VALUES(?, ?, ?)")
        .execute({name, static_cast<std::int64_t>(data.size()), core::now_us()});
    tx.commit();
  });
}

bool MariadbObjectStore::put_new(std::string_view name_view, std::span<const std::byte> data) {
  core::check_object_name(name_view);
  const std::string name(name_view);
  return pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    // The row of the name first: a racing writer waits on its key, then finds it taken.
    if (maria::Statement(c, "INSERT IGNORE INTO objects(name, size, modified) VALUES(?, ?, ?)")
            .execute({name, static_cast<std::int64_t>(data.size()), core::now_us()}) == 0) {
      return false;  // the transaction rolls back
    }
    write_chunks(c, name, data);
    tx.commit();
    return true;
  });
}

std::optional<std::vector<std::byte>> MariadbObjectStore::get(std::string_view name_view) const {
  core::check_object_name(name_view);
  const std::string name(name_view);
  return pool_->with([&](maria::Connection& c) -> std::optional<std::vector<std::byte>> {
    // One snapshot, so a put that commits meanwhile is seen wholly or not at all.
    maria::Transaction tx(c);
    if (maria::Statement(c, "SELECT size FROM objects WHERE name = ?").rows({name}).empty()) {
      return std::nullopt;
    }
    std::vector<std::byte> out;
    maria::Statement(c, "SELECT data FROM object_chunks WHERE name = ? ORDER BY seq")
        .query({name}, [&](const maria::Row& r) {
          const auto& s = std::get<std::string>(r.cells[0]);
          const auto* p = reinterpret_cast<const std::byte*>(s.data());
          out.insert(out.end(), p, p + s.size());
        });
    tx.commit();
    return out;
  });
}

std::vector<core::ObjectInfo> MariadbObjectStore::list(std::string_view prefix) const {
  return pool_->with([&](maria::Connection& c) {
    std::vector<core::ObjectInfo> out;
    maria::Statement(c,
                     "SELECT name, size, modified FROM objects WHERE LEFT(name, ?) = ? ORDER BY "
                     "name")
        .query({static_cast<std::int64_t>(prefix.size()), std::string(prefix)},
               [&](const maria::Row& r) {
                 out.push_back({r.text(0), static_cast<std::uint64_t>(r.int64(1)), r.int64(2)});
               });
    return out;
  });
}

bool MariadbObjectStore::remove(std::string_view name_view) {
  core::check_object_name(name_view);
  const std::string name(name_view);
  return pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
    const auto n = maria::Statement(c, "DELETE FROM objects WHERE name = ?").execute({name});
    maria::Statement(c, "DELETE FROM object_chunks WHERE name = ?").execute({name});
    tx.commit();
    return n > 0;
  });
}

}  // namespace remhart::store
