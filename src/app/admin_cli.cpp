#include "app/admin_cli.hpp"

#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "app/config.hpp"
#include "app/identity.hpp"
#include "auth/keyring.hpp"
#include "core/error.hpp"
#include "core/time.hpp"

namespace remhart::app {

using nlohmann::json;

namespace {

// A password from REMHART_USER_PASSWORD, else from standard input (asked twice, without echo,
// on a terminal). Never from the command line, where other users could read it.
std::string read_password() {
  if (const char* env = std::getenv("REMHART_USER_PASSWORD"); env && *env) return env;
  const bool tty = ::isatty(STDIN_FILENO);
  auto ask = [&](const char* prompt) {
    termios old{};
    if (tty) {
      std::cerr << prompt << std::flush;
      ::tcgetattr(STDIN_FILENO, &old);
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (tty) {
      ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
      std::cerr << "\n";
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  };
  std::string pw = ask("Password: ");
  if (tty && ask("Repeat: ") != pw)
    throw core::Error(core::ErrorKind::bad_request, "passwords differ");
  if (pw.empty()) {
    throw core::Error(core::ErrorKind::bad_request,
                      "no password: set REMHART_USER_PASSWORD or pipe it on standard input");
  }
  return pw;
}

const auth::Actor kCli{"cli", std::nullopt, "", ""};

auth::User find_user(auth::Authenticator& a, const std::string& username) {
  for (auto& u : a.users()) {
    if (u.username == username) return u;
  }
  throw core::Error(core::ErrorKind::not_found, "no user named '" + username + "'");
}

// Runs `fn` with the identity services of the configured data directory; errors → exit 1.
// What `device-key export-mosquitto` writes: a password line per live key that has broker
// credentials (user name: the key id; password: the key itself) and an ACL letting it publish
// only its device's or site's measurement topics; remhart's own account (mqtt.username) may
// read them all and write the dead-letter topic.
struct MosquittoFiles {
  std::string passwords, acl;
  int exported = 0, without_hash = 0;
};

MosquittoFiles mosquitto_files(const std::vector<auth::DeviceKey>& keys, const Config& c) {
  MosquittoFiles f;
  const auto& prefix = c.mqtt_topic_prefix;
  f.acl =
      "# written by `remhart device-key export-mosquitto`: each device key publishes only its\n"
      "# device's or site's measurement topics\n";
  if (!c.mqtt_username.empty()) {
    const auto dead =
        c.mqtt_dead_letter_topic.empty() ? prefix + "/dead-letter" : c.mqtt_dead_letter_topic;
    f.acl += "\nuser " + c.mqtt_username + "\ntopic read " + prefix +
             "/+/+/measurement\ntopic write " + dead + "\n";
  }
  for (const auto& k : keys) {
    if (k.revoked_at) continue;
    if (k.broker_hash.empty()) {
      ++f.without_hash;
      continue;
    }
    f.passwords += k.id + ":" + k.broker_hash + "\n";
    f.acl += "\n# " + k.name + "\nuser " + k.id + "\ntopic write " + prefix + "/" +
             (k.site.empty() ? "+" : k.site) + "/" + (k.device.empty() ? "+" : k.device) +
             "/measurement\n";
    ++f.exported;
  }
  return f;
}

// Written whole or not at all, readable by its owner only.
void write_private_file(const std::string& path, const std::string& text) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw core::Error(core::ErrorKind::bad_request, "cannot write " + tmp);
    std::filesystem::permissions(
        tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    out << text;
    if (!out.flush()) throw core::Error(core::ErrorKind::bad_request, "cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

int with_identity(const Config& c, const std::function<void(auth::Authenticator&)>& fn) {
  try {
    Identity id(c, nullptr, false);
    fn(id.authenticator());
    return 0;
  } catch (const core::Error& e) {
    std::cerr << "remhart: " << e.what();
    if (!e.field().empty()) std::cerr << " (" << e.field() << ")";
    std::cerr << "\n";
  } catch (const std::exception& e) {
    std::cerr << "remhart: " << e.what() << "\n";
  }
  return 1;
}

}  // namespace

void add_admin_commands(CLI::App& app, Action& action, std::optional<std::string>& config_file,
                        std::string& data_dir) {
  struct Common {
    bool json = false;
  };
  auto common = std::make_shared<Common>();
  // Options every leaf command takes.
  auto leaf = [&](CLI::App* parent, const char* name, const char* help) {
    auto* sub = parent->add_subcommand(name, help);
    sub->add_option("--config", config_file, "Configuration file (remhart.toml)");
    sub->add_option("--data-dir", data_dir, "Data directory (default ./data)");
    return sub;
  };

  // ---- users ----
  auto* user = app.add_subcommand("user", "Manage user accounts");
  user->require_subcommand(1);
  struct UserArgs {
    std::string username, role = "viewer", email, full_name;
  };
  auto ua = std::make_shared<UserArgs>();

  auto* add = leaf(user, "add", "Create a user (password from REMHART_USER_PASSWORD or stdin)");
  add->add_option("username", ua->username, "User name")->required();
  add->add_option("--role", ua->role, "viewer, analyst, operator or admin")->capture_default_str();
  add->add_option("--email", ua->email, "E-mail address");
  add->add_option("--full-name", ua->full_name, "Full name");
  add->callback([&action, ua] {
    action = [ua](const Config& c) {
      return with_identity(c, [&](auth::Authenticator& a) {
        auth::User u;
        u.username = ua->username;
        u.role = ua->role;
        u.email = ua->email;
        u.full_name = ua->full_name;
        const auto created = a.create_user(u, read_password(), kCli);
        std::cout << "created user " << created.username << " (id " << created.id << ", "
                  << created.role << ")\n";
      });
    };
  });

  auto* list = leaf(user, "list", "List users");
  list->add_flag("--json", common->json, "Machine-readable output");
  list->callback([&action, common] {
    action = [common](const Config& c) {
      return with_identity(c, [&](auth::Authenticator& a) {
        json items = json::array();
        for (const auto& u : a.users()) {
          if (common->json) {
            items.push_back({{"id", u.id},
                             {"username", u.username},
                             {"email", u.email},
                             {"full_name", u.full_name},
                             {"role", u.role},
                             {"disabled", u.disabled}});
          } else {
            std::cout << u.id << "\t" << u.username << "\t" << u.role
                      << (u.disabled ? "\tdisabled" : "") << "\n";
          }
        }
        if (common->json) std::cout << items.dump(2) << "\n";
      });
    };
  });

  auto patch_command = [&](const char* name, const char* help, bool takes_role,
                           std::function<auth::UserPatch(const UserArgs&)> make) {
    auto* sub = leaf(user, name, help);
    sub->add_option("username", ua->username, "User name")->required();
    if (takes_role)
      sub->add_option("role", ua->role, "viewer, analyst, operator or admin")->required();
    sub->callback([&action, ua, make, name] {
      action = [ua, make, name](const Config& c) {
        return with_identity(c, [&](auth::Authenticator& a) {
          const auto u = find_user(a, ua->username);
          a.update_user(u.id, make(*ua), kCli);
          std::cout << name << ": " << u.username << " done\n";
        });
      };
    });
  };
  patch_command("set-role", "Change a user's role", true, [](const UserArgs& x) {
    auth::UserPatch p;
    p.role = x.role;
    return p;
  });
  patch_command("disable", "Disable a user (their sessions end)", false, [](const UserArgs&) {
    auth::UserPatch p;
    p.disabled = true;
    return p;
  });
  patch_command("enable", "Enable a disabled user", false, [](const UserArgs&) {
    auth::UserPatch p;
    p.disabled = false;
    return p;
  });
  patch_command("reset-password",
                "Set a new password (from REMHART_USER_PASSWORD or stdin); sessions end", false,
                [](const UserArgs&) {
                  auth::UserPatch p;
                  p.password = read_password();
                  return p;
                });

  auto* del = leaf(user, "delete", "Delete a user (GDPR erase: audit rows are pseudonymised)");
  del->add_option("username", ua->username, "User name")->required();
  del->callback([&action, ua] {
    action = [ua](const Config& c) {
      return with_identity(c, [&](auth::Authenticator& a) {
        a.erase_user(find_user(a, ua->username).id, kCli);
        std::cout << "deleted user " << ua->username << "\n";
      });
    };
  });

  // ---- device keys ----
  auto* dk = app.add_subcommand("device-key", "Manage device keys (ingest-only credentials)");
  dk->require_subcommand(1);
  struct KeyArgs {
    std::string name, device, site, id, passwords, acl;
    std::int64_t rate = 0;
  };
  auto ka = std::make_shared<KeyArgs>();
  auto* create = leaf(dk, "create", "Create a key; it is printed once");
  create->add_option("--name", ka->name, "What the key is for")->required();
  create->add_option("--device", ka->device, "Only this device may be written");
  create->add_option("--site", ka->site, "Only devices of this site may be written");
  create->add_option("--rate-per-min", ka->rate,
                     "Request budget (default: limits.device_key_per_min)");
  create->add_flag("--json", common->json, "Machine-readable output");
  create->callback([&action, ka, common] {
    action = [ka, common](const Config& c) {
      return with_identity(c, [&](auth::Authenticator& a) {
        auth::DeviceKey k;
        k.name = ka->name;
        k.device = ka->device;
        k.site = ka->site;
        k.rate_per_min = ka->rate;
        const auto created = a.create_device_key(k, kCli);
        if (common->json) {
          std::cout << json{{"id", created.key.id}, {"key", created.secret}}.dump() << "\n";
        } else {
          std::cout << "device key " << created.key.id << " created. The key (shown only now):\n"
                    << created.secret << "\n";
        }
      });
    };
  });
  auto* klist = leaf(dk, "list", "List device keys");
  klist->add_flag("--json", common->json, "Machine-readable output");
  klist->callback([&action, common] {
    action = [common](const Config& c) {
      return with_identity(c, [&](auth::Authenticator& a) {
        json items = json::array();
        for (const auto& k : a.device_keys()) {
          if (common->json) {
            items.push_back({{"id", k.id},
                             {"name", k.name},
                             {"device", k.device},
                             {"site", k.site},
                             {"rate_per_min", k.rate_per_min},
                             {"revoked", k.revoked_at.has_value()}});
          } else {
            std::cout << k.id << "\t" << k.name << "\t" << (k.device.empty() ? "-" : k.device)
                      << "\t" << (k.site.empty() ? "-" : k.site)
                      << (k.revoked_at ? "\trevoked" : "") << "\n";
          }
        }
        if (common->json) std::cout << items.dump(2) << "\n";
      });
    };
  });
  auto* revoke = leaf(dk, "revoke", "Revoke a device key");
  revoke->add_option("id", ka->id, "Key id (dk_…)")->required();
  revoke->callback([&action, ka] {
    action = [ka](const Config& c) {
      return with_identity(c, [&](auth::Authenticator& a) {
        a.revoke_device_key(ka->id, kCli);
        std::cout << "revoked " << ka->id << "\n";
      });
    };
  });

  auto* mosq = leaf(dk, "export-mosquitto",
                    "Write a Mosquitto password file and ACL: each device key publishes only its "
                    "device's or site's measurement topics (docs/mqtt.md)");
  mosq->add_option("--passwords", ka->passwords, "Password file to write")->required();
  mosq->add_option("--acl", ka->acl, "ACL file to write")->required();
  mosq->callback([&action, ka] {
    action = [ka](const Config& c) {
      return with_identity(c, [&](auth::Authenticator& a) {
        const auto files = mosquitto_files(a.device_keys(), c);
        write_private_file(ka->passwords, files.passwords);
        write_private_file(ka->acl, files.acl);
        std::cout << "exported " << files.exported << " device key(s) to " << ka->passwords
                  << " and " << ka->acl;
        if (files.without_hash) {
          std::cout << "; " << files.without_hash
                    << " key(s) made before broker credentials left out (create new ones)";
        }
        std::cout << "\n";
        if (c.mqtt_username.empty()) {
          std::cout << "note: mqtt.username is not set, so the ACL has no entry for remhart's own "
                       "subscription; set it and export again\n";
        }
      });
    };
  });

  // ---- signing keys ----
  auto* tk = app.add_subcommand("token-key", "Manage the JWT signing keys");
  tk->require_subcommand(1);
  auto* rotate = leaf(tk, "rotate",
                      "Start signing with a new key; tokens signed by the previous keys stay "
                      "valid until they expire");
  rotate->callback([&action] {
    action = [](const Config& c) {
      if (!c.jwt_secret.empty()) {
        std::cerr << "remhart: auth.jwt_secret is configured; rotate it in the configuration\n";
        return 1;
      }
      try {
        const auto keys = Identity::open_keyring(c)->rotate();
        std::cout << "signing with key " << keys.front().kid << " (" << keys.size()
                  << " keys in the ring)\n";
        return 0;
      } catch (const std::exception& e) {
        std::cerr << "remhart: " << e.what() << "\n";
        return 1;
      }
    };
  });
}

}  // namespace remhart::app
