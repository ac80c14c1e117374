#pragma once
// Everything the handlers need, wired by app/ (the composition root), and the helpers every
// handler file shares.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "api/session_cookie.hpp"
#include "core/time.hpp"

namespace remhart::store {
class Store;
struct SimRun;
class MlResultRepository;
}  // namespace remhart::store
namespace remhart::analytics {
class ModelRegistry;
}
namespace remhart::core {
class ObjectStore;
}
namespace remhart::ingest {
class IngestService;
class MqttSource;
}  // namespace remhart::ingest
namespace remhart::runs {
class SimulationRuns;
}
namespace remhart::bus {
class RedisBus;
}
namespace remhart::obs {
class Registry;
}
namespace remhart::auth {
class Authenticator;
class AuditLog;
}  // namespace remhart::auth

namespace remhart::ingest {
class MqttSource;
}

namespace remhart::api {

class ActiveNetwork;
class LiveHub;
class Router;
class SecurityGate;
class StudyRunner;
class StudyControl;
class StateService;
class AnalyticsService;

/// Everything the handlers need, all present: app/ wires each member for the whole life of the
/// router.
struct ApiContext {
  store::Store& store;
  ingest::IngestService& ingest;
  LiveHub& hub;
  obs::Registry& metrics;
  SecurityGate& gate;
  auth::Authenticator& auth;
  auth::AuditLog& audit;
  ActiveNetwork& networks;
  runs::SimulationRuns& simulator;
  StudyRunner& studies;
  /// Runs blocking work (database reads and writes, password hashing, model uploads, exports)
  /// off the I/O threads.
  std::function<void(std::function<void()>)> run_blocking;
  /// Jobs waiting for run_blocking; beyond `max_queued_jobs` new work is refused with 503.
  std::function<std::size_t()> queued_jobs;
  std::size_t max_queued_jobs = 1000;
  std::function<bool()> ready;  ///< false while starting or shutting down
  std::string default_device;   ///< target of POST /api/grid/data without ?device=
  CookiePolicy cookies;         ///< the browser session's cookie
  std::string settings_json;  ///< the effective configuration, secrets redacted (GET /api/settings)
  std::string version;
  core::TimeUs started_at = 0;
  std::string data_dir;  ///< its file system's free space decides readiness
  /// The estimator running on its own (its latest estimate), when configured.
  const StateService* state = nullptr;
  /// Analytics (null when switched off): the model registry, the monitoring models serving
  /// every sample, their stored history.
  analytics::ModelRegistry* models = nullptr;
  AnalyticsService* analytics = nullptr;
  store::MlResultRepository* ml_results = nullptr;
  /// The MQTT source (null without `mqtt.url`): for /health and /ready.
  const ingest::MqttSource* mqtt = nullptr;
  /// Archives and other blobs (a deleted simulation run's archive files go with it).
  core::ObjectStore* objects = nullptr;
  /// Cross-replica live fan-out (null without `redis.url`): for /health and /ready.
  const bus::RedisBus* redis = nullptr;
};

struct HttpRequest;
struct HttpResponse;

/// Runs `fn` on the job pool and replies with its result or its error; throws
/// core::Error(unavailable) without queuing when the pool is saturated.
void offload(ApiContext& ctx, const HttpRequest& req, std::function<void(HttpResponse)> reply,
             std::function<HttpResponse()> fn);

/// offload() for work that answers later from another thread: `fn` runs on the job pool and is
/// given the reply, which it must call exactly once or hand to whatever will; if `fn` throws
/// before, the error is the answer.
void offload_async(ApiContext& ctx, const HttpRequest& req, std::function<void(HttpResponse)> reply,
                   std::function<void(std::function<void(HttpResponse)>)> fn);

/// Runs a grid study on the study pool (see StudyRunner): admitted per caller, stopped when its
/// client disconnects or its time budget is spent (`fn` checks the control between steps), and
/// answered with `fn`'s result or error — 503 naming the reason when it stopped before starting.
void offload_study(ApiContext& ctx, HttpRequest& req, std::function<void(HttpResponse)> reply,
                   std::function<HttpResponse(const StudyControl&)> fn);

/// The request body as a JSON object (400 when it is not one); an empty body is {} when
/// `empty_ok`.
nlohmann::json json_object_body(const std::string& body, bool empty_ok = false);
/// Compact JSON text; invalid UTF-8 in strings is replaced, never thrown.
std::string dump_json(const nlohmann::json& j);

/// A route handler from a plain function of the context: route tables read
/// `router.add("GET", "/path", Permission::read, bound(ctx, list_things))`.
std::function<void(HttpRequest&, std::function<void(HttpResponse)>)> bound(
    ApiContext& ctx, void (*fn)(ApiContext&, HttpRequest&, std::function<void(HttpResponse)>));

void add_grid_routes(Router& router, ApiContext& ctx);
void add_ops_routes(Router& router, ApiContext& ctx);
void add_auth_routes(Router& router, ApiContext& ctx);
void add_network_routes(Router& router, ApiContext& ctx);
void add_simulator_routes(Router& router, ApiContext& ctx);
void add_ml_routes(Router& router, ApiContext& ctx);
class StaticFiles;
/// The dashboard at `/` (the router's fallback); `files` null when it is not built.
void add_web_routes(Router& router, const StaticFiles* files);
/// A simulation run as the API and the live stream show it.
std::string run_json(const store::SimRun& run);

}  // namespace remhart::api
