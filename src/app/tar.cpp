#include "app/tar.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>

namespace remhart::app::tar {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kBlock = 512;

// The ustar header's fields (offset, length).
struct Field {
  std::size_t at, len;
};
constexpr Field kName{0, 100}, kMode{100, 8}, kUid{108, 8}, kGid{116, 8}, kSize{124, 12},
    kMtime{136, 12}, kChecksum{148, 8}, kType{156, 1}, kMagic{257, 6}, kVersion{263, 2},
    kPrefix{345, 155};

void put_octal(std::array<char, kBlock>& h, Field f, std::uint64_t v) {
  // len − 1 octal digits and a NUL.
  std::string digits(f.len - 1, '0');
  for (std::size_t k = digits.size(); k-- > 0 && v > 0; v >>= 3) {
    digits[k] = static_cast<char>('0' + (v & 7));
  }
  if (v > 0) throw std::runtime_error("tar: a value does not fit its field");
  std::memcpy(h.data() + f.at, digits.data(), digits.size());
}

std::uint64_t get_octal(const std::array<char, kBlock>& h, Field f, const std::string& entry) {
  std::uint64_t v = 0;
  std::size_t k = f.at;
  const std::size_t end = f.at + f.len;
  while (k < end && h[k] == ' ') ++k;
  bool any = false;
  for (; k < end && h[k] >= '0' && h[k] <= '7'; ++k) {
    if (v >> 60) throw std::runtime_error("tar: entry '" + entry + "' has a number out of range");
    v = v * 8 + static_cast<std::uint64_t>(h[k] - '0');
    any = true;
  }
  if (!any || (k < end && h[k] != '\0' && h[k] != ' ')) {
    throw std::runtime_error("tar: entry '" + entry + "' has a malformed number field");
  }
  return v;
}

unsigned checksum(const std::array<char, kBlock>& h) {
  unsigned sum = 0;
  for (std::size_t k = 0; k < kBlock; ++k) {
    const bool in_field = k >= kChecksum.at && k < kChecksum.at + kChecksum.len;
    sum += in_field ? ' ' : static_cast<unsigned char>(h[k]);
  }
  return sum;
}

std::string field_text(const std::array<char, kBlock>& h, Field f) {
  const char* p = h.data() + f.at;
  return std::string(p, strnlen(p, f.len));
}

void check_name(const std::string& name) {
  if (name.empty() || name.front() == '/') {
    throw std::runtime_error("tar: entry name '" + name + "' is empty or absolute");
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('/', start), name.size());
    const auto seg = std::string_view(name).substr(start, end - start);
    if (seg == "..")
      throw std::runtime_error("tar: entry name '" + name + "' leaves the directory");
    if (seg.empty() && end != name.size()) {
      throw std::runtime_error("tar: entry name '" + name + "' has an empty segment");
    }
    start = end + 1;
  }
}

}  // namespace

Writer::Writer(const fs::path& file) : path_(file), out_(file, std::ios::binary | std::ios::trunc) {
  if (!out_) throw std::runtime_error("cannot write " + file.string());
}

void Writer::header(const std::string& name, std::uint64_t size) {
  check_name(name);
  std::array<char, kBlock> h{};
  if (name.size() <= kName.len) {
    std::memcpy(h.data() + kName.at, name.data(), name.size());
  } else {
    // Split at a '/' so the prefix takes at most 155 bytes and the name at most 100.
    const auto cut = name.rfind('/', kPrefix.len);
    if (cut == std::string::npos || name.size() - cut - 1 > kName.len) {
      throw std::runtime_error("tar: name too long: " + name);
    }
    std::memcpy(h.data() + kPrefix.at, name.data(), cut);
    std::memcpy(h.data() + kName.at, name.data() + cut + 1, name.size() - cut - 1);
  }
  put_octal(h, kMode, 0600);
  put_octal(h, kUid, 0);
  put_octal(h, kGid, 0);
  put_octal(h, kSize, size);
  put_octal(h, kMtime, static_cast<std::uint64_t>(::time(nullptr)));
  h[kType.at] = '0';
  std::memcpy(h.data() + kMagic.at, "ustar", 6);
  std::memcpy(h.data() + kVersion.at, "00", 2);
  put_octal(h, kChecksum, checksum(h));
  out_.write(h.data(), kBlock);
}

void Writer::pad(std::uint64_t size) {
  static const std::array<char, kBlock> zeros{};
  if (const auto rest = size % kBlock)
    out_.write(zeros.data(), static_cast<std::streamsize>(kBlock - rest));
  if (!out_) throw std::runtime_error("cannot write " + path_.string());
}

void Writer::add_file(const std::string& name, const fs::path& source) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + source.string());
  const auto size = fs::file_size(source);
  header(name, size);
  std::vector<char> buf(1 << 20);
  std::uint64_t left = size;
  while (left > 0) {
    const auto n = static_cast<std::streamsize>(std::min<std::uint64_t>(left, buf.size()));
    if (!in.read(buf.data(), n)) throw std::runtime_error(source.string() + " shrank while read");
    out_.write(buf.data(), n);
    left -= static_cast<std::uint64_t>(n);
  }
  pad(size);
}

void Writer::add_bytes(const std::string& name, std::string_view bytes) {
  header(name, bytes.size());
  out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  pad(bytes.size());
}

void Writer::finish() {
  static const std::array<char, 2 * kBlock> zeros{};
  out_.write(zeros.data(), zeros.size());
  out_.close();
  if (!out_) throw std::runtime_error("cannot write " + path_.string());
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot sync " + path_.string());
  }
  ::close(fd);
}

std::vector<Entry> extract(const fs::path& file, const fs::path& into) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  const auto total = fs::file_size(file);
  fs::create_directories(into);
  std::vector<Entry> entries;
  std::uint64_t offset = 0;
  for (;;) {
    std::array<char, kBlock> h{};
    if (!in.read(h.data(), kBlock)) {
      throw std::runtime_error("tar: " + file.string() + " ends without its end-of-archive block");
    }
    offset += kBlock;
    if (std::all_of(h.begin(), h.end(), [](char c) { return c == '\0'; })) break;
    std::string name = field_text(h, kName);
    if (const auto prefix = field_text(h, kPrefix);
        !prefix.empty() && field_text(h, kMagic).rfind("ustar", 0) == 0) {
      name = prefix + "/" + name;
    }
    const std::string shown = name.empty() ? "#" + std::to_string(entries.size() + 1) : name;
    if (get_octal(h, kChecksum, shown) != checksum(h)) {
      throw std::runtime_error("tar: entry '" + shown + "' has a bad header checksum");
    }
    const auto size = get_octal(h, kSize, shown);
    if (size > total - std::min(total, offset)) {
      throw std::runtime_error("tar: entry '" + shown + "' is larger than the rest of the file");
    }
    check_name(name);
    const char type = h[kType.at];
    const fs::path target = into / name;
    if (type == '5') {
      fs::create_directories(target);
    } else if (type == '0' || type == '\0') {
      fs::create_directories(target.parent_path());
      std::ofstream out(target, std::ios::binary | std::ios::trunc);
      if (!out) throw std::runtime_error("cannot write " + target.string());
      std::vector<char> buf(1 << 20);
      std::uint64_t left = size;
      while (left > 0) {
        const auto n = static_cast<std::streamsize>(std::min<std::uint64_t>(left, buf.size()));
        if (!in.read(buf.data(), n))
          throw std::runtime_error("tar: entry '" + shown + "' is cut short");
        out.write(buf.data(), n);
        left -= static_cast<std::uint64_t>(n);
      }
      out.close();
      if (!out) throw std::runtime_error("cannot write " + target.string());
      entries.push_back({name, size});
    } else {
      throw std::runtime_error("tar: entry '" + shown + "' is not a regular file or directory");
    }
    const auto padded = (size + kBlock - 1) / kBlock * kBlock;
    const bool read_data = type != '5';  // a directory's (unused) bytes are skipped whole
    in.seekg(static_cast<std::streamoff>(padded - (read_data ? size : 0)), std::ios::cur);
    offset += padded;
  }
  return entries;
}

}  // namespace remhart::app::tar
