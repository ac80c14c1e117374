#pragma once
// Everything the handlers need, wired by app/ (the composition root).
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/time.hpp"

namespace remhart::store {
class Store;
class NetworkRepository;
struct SimRun;
}  // namespace remhart::store
namespace remhart::grid {
struct Network;
}
namespace remhart::ingest {
class IngestService;
}
namespace remhart::runs {
class SimulationRuns;
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
class StudyRunner;
class StudyControl;

/// The network model studies run on: the active version, swapped whole on upload.
struct ActiveNetwork {
  std::mutex mu;
  std::int64_t id = 0;
  std::shared_ptr<const grid::Network> network;
};

struct ApiContext {
  store::Store& store;
  ingest::IngestService& ingest;
  LiveHub& hub;
  obs::Registry& metrics;
  /// Runs blocking work (database reads, device writes, password hashing) off the I/O threads.
  std::function<void(std::function<void()>)> run_blocking;
  std::string default_device;  ///< target of POST /api/grid/data without ?device=
  std::string version;
  core::TimeUs started_at = 0;
  std::function<bool()> ready;  ///< false while starting or shutting down
  /// Jobs waiting for run_blocking; beyond `max_queued_jobs` new work is refused with 503.
  std::function<std::size_t()> queued_jobs;
  std::size_t max_queued_jobs = 1000;
  auth::Authenticator* auth = nullptr;
  auth::AuditLog* audit = nullptr;
  store::NetworkRepository* networks = nullptr;
  ActiveNetwork* network = nullptr;
  runs::SimulationRuns* simulator = nullptr;
  StudyRunner* studies = nullptr;
};

struct HttpRequest;
struct HttpResponse;

/// Runs `fn` on the job pool and replies with its result or its error; throws
/// core::Error(unavailable) without queuing when the pool is saturated.
void offload(ApiContext& ctx, const HttpRequest& req, std::function<void(HttpResponse)> reply,
             std::function<HttpResponse()> fn);

/// Runs a grid study on the study pool (see StudyRunner): admitted per caller, stopped when its
/// client disconnects or its time budget is spent (`fn` checks the control between steps), and
/// answered with `fn`'s result or error — 503 naming the reason when it stopped before starting.
void offload_study(ApiContext& ctx, HttpRequest& req, std::function<void(HttpResponse)> reply,
                   std::function<HttpResponse(const StudyControl&)> fn);

/// The request body as a JSON object (400 when it is not one); an empty body is {} when
/// `empty_ok`.
nlohmann::json json_object_body(const std::string& body, bool empty_ok = false);
/// 204 No Content.
HttpResponse no_content();
/// Compact JSON text; invalid UTF-8 in strings is replaced, never thrown.
std::string dump_json(const nlohmann::json& j);

/// Query parameters: absent → nullopt; malformed or out of range → core::Error(bad_request)
/// naming the parameter.
std::optional<std::int64_t> int_arg(const HttpRequest& req, const char* name, std::int64_t lo,
                                    std::int64_t hi);
/// RFC 3339 or Unix milliseconds.
std::optional<core::TimeUs> time_arg(const HttpRequest& req, const char* name);

void add_grid_routes(Router& router, ApiContext& ctx);
void add_ops_routes(Router& router, ApiContext& ctx);
void add_auth_routes(Router& router, ApiContext& ctx);
void add_network_routes(Router& router, ApiContext& ctx);
void add_simulator_routes(Router& router, ApiContext& ctx);
/// A simulation run as the API and the live stream show it.
std::string run_json(const store::SimRun& run);

}  // namespace remhart::api
