#pragma once
// Everything the handlers need, wired by app/ (the composition root).
#include <functional>
#include <string>

#include "core/time.hpp"

namespace remhart::store {
class Store;
}
namespace remhart::ingest {
class IngestService;
}
namespace remhart::obs {
class Registry;
}
namespace remhart::auth {
class Authenticator;
class AuditLog;
}  // namespace remhart::auth

namespace remhart::api {

class LiveHub;
class Router;

struct ApiContext {
  store::Store& store;
  ingest::IngestService& ingest;
  LiveHub& hub;
  obs::Registry& metrics;
  /// Runs blocking work (database reads, device writes) off the I/O threads.
  std::function<void(std::function<void()>)> run_blocking;
  std::string default_device;  ///< target of POST /api/grid/data without ?device=
  std::string version;
  core::TimeUs started_at = 0;
  std::function<bool()> ready;  ///< false while starting or shutting down
  auth::Authenticator* auth = nullptr;
  auth::AuditLog* audit = nullptr;
};

void add_grid_routes(Router& router, ApiContext& ctx);
void add_ops_routes(Router& router, ApiContext& ctx);
void add_auth_routes(Router& router, ApiContext& ctx);

}  // namespace remhart::api
