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

[[noreturn]] void fail(const std::string& where, const std::string& why) {
  throw std::runtime_error(where + ": " + why);
}

std::string file_name(const std::string& path) {
  return "JWT key file " + path;
}

void save(const std::string& path, const std::vector<SigningKey>& keys) {
  const std::string text = keyring_json(keys);
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail(file_name(tmp), std::strerror(errno));
  ::fchmod(fd, 0600);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    fail(file_name(path), "could not be written");
}

std::vector<SigningKey> load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(file_name(path), std::strerror(errno));
  if (st.st_mode & 077) fail(file_name(path), "is readable by other users; chmod 600 it");
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_keyring(ss.str(), file_name(path));
}

}  // namespace

std::vector<SigningKey> new_keyring() {
  return {new_key()};
}

std::vector<SigningKey> rotated(std::vector<SigningKey> ring) {
  ring.insert(ring.begin(), new_key());
  if (ring.size() > kKeysKept) ring.resize(kKeysKept);
  return ring;
}

std::string keyring_json(const std::vector<SigningKey>& keys) {
  json arr = json::array();
  for (const auto& k : keys)
    arr.push_back({{"kid", k.kid}, {"secret", base64url_encode(k.secret)}});
  return json{{"keys", arr}}.dump(2) + "\n";
}

std::vector<SigningKey> parse_keyring(const std::string& text, const std::string& where) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array() || j["keys"].empty()) {
    fail(where, "is not {\"keys\": [{\"kid\", \"secret\"}, …]}");
  }
  std::vector<SigningKey> keys;
  for (const auto& k : j["keys"]) {
    if (!k.is_object() || !k.contains("kid") || !k["kid"].is_string() || !k.contains("secret") ||
        !k["secret"].is_string()) {
      fail(where, "a key lacks kid or secret");
    }
    const auto secret = base64url_decode(k["secret"].get<std::string>());
    if (!secret || secret->size() < 32) fail(where, "a secret is not 32+ bytes of base64url");
    keys.push_back({k["kid"].get<std::string>(), *secret});
  }
  return keys;
}

std::vector<SigningKey> FileKeyring::load_or_create() {
  if (::access(path_.c_str(), F_OK) != 0) {
    auto keys = new_keyring();
    save(path_, keys);
    return keys;
  }
  return load(path_);
}

std::vector<SigningKey> FileKeyring::rotate() {
  auto keys = rotated(load_or_create());
  save(path_, keys);
  return keys;
}

SigningKey key_from_secret(const std::string& secret) {
  return {"c" + hex(sha256(secret)).substr(0, 8), secret};
}

}  // namespace remhart::auth
