#pragma once
// The GDPR export of an account (access and portability, Art. 15 and 20): everything stored
// about it, never a secret.
#include <cstdint>
#include <vector>

#include "auth/audit.hpp"
#include "auth/authenticator.hpp"
#include "auth/identity_store.hpp"

namespace remhart::auth {

struct UserExport {
  User user;
  std::vector<RefreshToken> sessions;          ///< refresh-token families (hashes only)
  std::vector<DeviceKey> device_keys_created;  ///< keys this user created
  std::vector<AuditEntry> audit;  ///< rows with its user id, and failed logins naming it
};

/// Collects the export (flushing the audit log first, so it is complete up to now). Throws
/// core::Error(not_found) when there is no such user.
UserExport export_user(Authenticator& accounts, AuditLog& audit, std::int64_t user_id);

}  // namespace remhart::auth
