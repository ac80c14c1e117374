#pragma once
// Roles and permissions (SPEC §1): the one table that decides who may do what.
#include <optional>
#include <string_view>

namespace remhart::auth {

enum class Role { viewer, analyst, operator_, admin };

/// What a route requires. Routes declare one; the security gate enforces it (deny by default).
enum class Permission {
  probe,    ///< operational probes (health, readiness, metrics): no token, no rate limit
  public_,  ///< no token needed, rate-limited per address (login, token refresh)
  read,     ///< viewer and above: live data, history, network state, analytics, alarms, reports
  run,      ///< analyst, operator, admin: simulations, studies, reports, exports
  train,    ///< analyst, admin: train and evaluate models
  write,    ///< operator, admin: measurements by hand, devices, network model, alarms
  ingest,   ///< write, or a device key: sending measurements
  admin,    ///< admin only: users, device keys, audit log, settings, others' runs
};

std::string_view to_string(Role r);
std::string_view to_string(Permission p);
std::optional<Role> parse_role(std::string_view s);

/// Whether a user holding `r` has `p` (SPEC §1's table).
constexpr bool allows(Role r, Permission p) {
  switch (p) {
    case Permission::probe:
    case Permission::public_:
    case Permission::read:
      return true;
    case Permission::run:
      return r != Role::viewer;
    case Permission::train:
      return r == Role::analyst || r == Role::admin;
    case Permission::write:
    case Permission::ingest:
      return r == Role::operator_ || r == Role::admin;
    case Permission::admin:
      return r == Role::admin;
  }
  return false;
}

}  // namespace remhart::auth
