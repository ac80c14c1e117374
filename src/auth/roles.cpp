#include "auth/roles.hpp"

namespace remhart::auth {

std::string_view to_string(Role r) {
  switch (r) {
    case Role::viewer:
      return "viewer";
    case Role::analyst:
      return "analyst";
    case Role::operator_:
      return "operator";
    case Role::admin:
      return "admin";
  }
  return "?";
}

std::string_view to_string(Permission p) {
  switch (p) {
    case Permission::probe:
      return "probe";
    case Permission::public_:
      return "public";
    case Permission::read:
      return "read";
    case Permission::run:
      return "run";
    case Permission::train:
      return "train";
    case Permission::write:
      return "write";
    case Permission::ingest:
      return "ingest";
    case Permission::admin:
      return "admin";
  }
  return "?";
}

std::optional<Role> parse_role(std::string_view s) {
  for (Role r : {Role::viewer, Role::analyst, Role::operator_, Role::admin}) {
    if (s == to_string(r)) return r;
  }
  return std::nullopt;
}

}  // namespace remhart::auth
