#include "auth/user_export.hpp"

#include "core/error.hpp"

namespace remhart::auth {

UserExport export_user(Authenticator& accounts, AuditLog& audit, std::int64_t user_id) {
  const auto u = accounts.user(user_id);
  if (!u) throw core::Error(core::ErrorKind::not_found, "no such user");
  UserExport out;
  out.user = *u;
  out.sessions = accounts.refresh_sessions(user_id);
  for (auto& k : accounts.device_keys()) {
    if (k.created_by == u->username) out.device_keys_created.push_back(std::move(k));
  }
  audit.flush();
  AuditQuery q;
  q.limit = 100000;
  q.user_id = user_id;
  out.audit = audit.query(q);
  q.user_id.reset();
  q.actor = u->username;  // failed logins name the account without a user id
  for (auto& e : audit.query(q)) {
    if (!e.user_id) out.audit.push_back(std::move(e));
  }
  return out;
}

}  // namespace remhart::auth
