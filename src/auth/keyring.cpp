#include "auth/keyring.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "auth/crypto.hpp"

namespace remhart::auth {

using nlohmann::json;

namespace {

SigningKey new_key() {
  return {random_token("k", 6), random_bytes(32)};
}

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::runtime_error("JWT key file " + path + ": " + why);
}

void save(const std::string& path, const std::vector<SigningKey>& keys) {
  json arr = json::array();
  for (const auto& k : keys)
    arr.push_back({{"kid", k.kid}, {"secret", base64url_encode(k.secret)}});
  const std::string text = json{{"keys", arr}}.dump(2) + "\n";
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(tmp, std::strerror(errno));
  ::fchmod(fd, 0600);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) fail(path, "could not be written");
}

std::vector<SigningKey> load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(path, std::strerror(errno));
  if (st.st_mode & 077) fail(path, "is readable by other users; chmod 600 it");
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const json j = json::parse(ss.str(), nullptr, false);
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array() || j["keys"].empty()) {
    fail(path, "is not {\"keys\": [{\"kid\", \"secret\"}, …]}");
  }
  std::vector<SigningKey> keys;
  for (const auto& k : j["keys"]) {
    if (!k.is_object() || !k.contains("kid") || !k["kid"].is_string() || !k.contains("secret") ||
        !k["secret"].is_string()) {
      fail(path, "a key lacks kid or secret");
    }
    const auto secret = base64url_decode(k["secret"].get<std::string>());
    if (!secret || secret->size() < 32) fail(path, "a secret is not 32+ bytes of base64url");
    keys.push_back({k["kid"].get<std::string>(), *secret});
  }
  return keys;
}

}  // namespace

std::vector<SigningKey> load_or_create_keyring(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) {
    std::vector<SigningKey> keys{new_key()};
    save(path, keys);
    return keys;
  }
  return load(path);
}

std::vector<SigningKey> rotate_keyring(const std::string& path) {
  auto keys = load_or_create_keyring(path);
  keys.insert(keys.begin(), new_key());
  if (keys.size() > kKeysKept) keys.resize(kKeysKept);
  save(path, keys);
  return keys;
}

SigningKey key_from_secret(const std::string& secret) {
  return {"c" + hex(sha256(secret)).substr(0, 8), secret};
}

}  // namespace remhart::auth
