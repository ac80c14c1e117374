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

void check_object_name(std::string_view name) {
  if (name.empty() || name.size() > 512) {
    throw std::invalid_argument("an object name is 1–512 bytes");
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('/', start), name.size());
    const auto segment = name.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      throw std::invalid_argument("object name '" + std::string(name) +
                                  "' has an empty, '.' or '..' segment");
    }
    for (char c : segment) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
      if (!ok) {
        throw std::invalid_argument("object name '" + std::string(name) +
                                    "' may hold only letters, digits, '.', '_', '-' and '/'");
      }
    }
    start = end + 1;
  }
}

// ---- directory ----

namespace {

constexpr std::string_view kPartial = ".partial-";

core::TimeUs modified_us(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
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

void DirectoryObjectStore::put(std::string_view name, std::span<const std::byte> data) {
  check_object_name(name);
  const fs::path target = root_ / std::string(name);
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
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + target.string() + ": " + std::strerror(err));
  }
  // The rename itself is durable once the directory is synced.
  const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::optional<std::vector<std::byte>> DirectoryObjectStore::get(std::string_view name) const {
  check_object_name(name);
  std::ifstream in(root_ / std::string(name), std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read object " + std::string(name));
  std::vector<std::byte> out(bytes.size());
  if (!bytes.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

std::vector<ObjectInfo> DirectoryObjectStore::list(std::string_view prefix) const {
  std::vector<ObjectInfo> out;
  std::error_code ec;
  // Walk only the deepest directory the prefix names, not the whole store.
  const auto slash = prefix.rfind('/');
  if (slash != std::string_view::npos) check_object_name(prefix.substr(0, slash));
  const fs::path start =
      slash == std::string_view::npos ? root_ : root_ / std::string(prefix.substr(0, slash));
  for (auto it = fs::recursive_directory_iterator(start, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const auto name = fs::relative(it->path(), root_).generic_string();
    if (name.find(kPartial) != std::string::npos) continue;  // a write in progress or cut short
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    out.push_back({name, static_cast<std::uint64_t>(it->file_size()), modified_us(it->path())});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

bool DirectoryObjectStore::remove(std::string_view name) {
  check_object_name(name);
  return fs::remove(root_ / std::string(name));
}

// ---- MariaDB ----

namespace {
constexpr std::size_t kChunk = 4 << 20;
}

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
  check_object_name(name_view);
  const std::string name(name_view);
  pool_->with([&](maria::Connection& c) {
    maria::Transaction tx(c);
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
    maria::Statement(c, "REPLACE INTO objects(name, size, modified) VALUES(?, ?, ?)")
        .execute({name, static_cast<std::int64_t>(data.size()), core::now_us()});
    tx.commit();
  });
}

std::optional<std::vector<std::byte>> MariadbObjectStore::get(std::string_view name_view) const {
  check_object_name(name_view);
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

std::vector<ObjectInfo> MariadbObjectStore::list(std::string_view prefix) const {
  return pool_->with([&](maria::Connection& c) {
    std::vector<ObjectInfo> out;
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
  check_object_name(name_view);
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
