#pragma once
// Who is calling: a user (from an access token), a device key, or nobody.
#include <cstdint>
#include <string>

#include "auth/roles.hpp"

namespace remhart::auth {

struct Principal {
  enum class Kind { anonymous, user, device_key };
  Kind kind = Kind::anonymous;
  std::int64_t user_id = 0;
  std::string name;  ///< username, or the device key's id
  Role role = Role::viewer;
  std::string jti;             ///< users: the access token's id
  std::int64_t token_exp = 0;  ///< users: when the access token expires (seconds)
  std::string device, site;    ///< device keys: what they may write to (empty = any)
  std::int64_t rate_per_min = 0;

  bool is_user() const { return kind == Kind::user; }
  bool is_device_key() const { return kind == Kind::device_key; }
  /// How the audit log names the caller.
  std::string actor() const;
  /// Whether this caller may change something created by account `owner_id` (0: created by no
  /// account): its creator, or an admin (SPEC §1: runs belong to their creator).
  bool may_change_owned_by(std::int64_t owner_id) const {
    return is_user() && (role == Role::admin || (owner_id != 0 && owner_id == user_id));
  }
};

}  // namespace remhart::auth
