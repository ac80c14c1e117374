#include "api/openapi.hpp"

#include <cctype>
#include <map>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "api/context.hpp"
#include "api/errors.hpp"

namespace remhart::api {

using nlohmann::json;

namespace {

struct Param {
  const char* name;
  const char* type;  // JSON Schema type
  const char* description;
};

struct Doc {
  const char* summary;
  std::vector<Param> query;
  const char* request;   // schema name of a JSON body, "text" for a text body, or nullptr
  int status;            // the success status
  const char* response;  // schema name, or nullptr (no body)
};

const Param kDevice{"device", "string", "device id"};
const Param kOrigin{"origin", "string", "\"real\" (default) or \"sim:<run>\""};
const Param kFrom{"from", "string", "RFC 3339 or Unix milliseconds (inclusive)"};
const Param kTo{"to", "string", "RFC 3339 or Unix milliseconds (exclusive)"};

// A model's stored history, newest first (docs/api.md says how often each model stores).
Doc history(const char* summary) {
  return {summary,
          {{"device", "string", "device id (all devices when absent)"},
           kOrigin,
           kFrom,
           kTo,
           {"limit", "integer", "1–10,000 (100)"}},
          nullptr,
          200,
          "MlResultList"};
}

// One entry per route; a route without one fails the OpenAPI test.
const std::map<std::string, Doc, std::less<>>& docs() {
  static const std::map<std::string, Doc, std::less<>> kDocs = {
      {"GET /health", {"Liveness, with a real database query", {}, nullptr, 200, "Health"}},
      {"GET /ready",
       {"Readiness: 503 with the reason while it cannot take data", {}, nullptr, 200, "Ready"}},
      {"GET /metrics", {"Prometheus metrics (text)", {}, nullptr, 200, "text"}},
      {"GET /api/settings",
       {"The effective configuration, read-only, secrets redacted", {}, nullptr, 200, "object"}},
      {"GET /api/openapi.json", {"This document", {}, nullptr, 200, "object"}},
      {"POST /api/auth/login",
       {"Sign in (JSON or OAuth2 password form)", {}, "Credentials", 200, "Session"}},
      {"POST /api/auth/refresh",
       {"New tokens for a refresh token (rotated; reuse revokes the family)",
        {},
        "RefreshRequest",
        200,
        "Session"}},
      {"POST /api/auth/session",
       {"Sign in for a browser: the refresh token is set as an HttpOnly cookie",
        {},
        "Credentials",
        200,
        "Session"}},
      {"POST /api/auth/session/refresh",
       {"New access token from the session cookie (needs X-Remhart-Session: 1)",
        {},
        nullptr,
        200,
        "Session"}},
      {"POST /api/auth/logout",
       {"Revoke the access token and a session (all sessions without one)",
        {},
        "RefreshRequest",
        204,
        nullptr}},
      {"POST /api/auth/password",
       {"Change the caller's password; other sessions end", {}, "PasswordChange", 200, "Session"}},
      {"GET /api/auth/me", {"The caller's account", {}, nullptr, 200, "User"}},
      {"GET /api/users", {"Every account", {}, nullptr, 200, "UserList"}},
      {"POST /api/users", {"Create an account", {}, "NewUser", 201, "User"}},
      {"GET /api/users/{id}", {"One account", {}, nullptr, 200, "User"}},
      {"PATCH /api/users/{id}",
       {"Change an account's email, name, role, password or disabled flag",
        {},
        "UserPatch",
        200,
        "User"}},
      {"DELETE /api/users/{id}",
       {"Erase an account (GDPR: audit rows pseudonymised)", {}, nullptr, 204, nullptr}},
      {"GET /api/users/{id}/export",
       {"Everything held about an account (GDPR)", {}, nullptr, 200, "object"}},
      {"GET /api/device-keys",
       {"Device keys (never the secret)", {}, nullptr, 200, "DeviceKeyList"}},
      {"POST /api/device-keys",
       {"Create a device key; the secret is shown once", {}, "NewDeviceKey", 201, "DeviceKey"}},
      {"DELETE /api/device-keys/{id}", {"Revoke a device key", {}, nullptr, 204, nullptr}},
      {"GET /api/audit",
       {"The audit log, newest first",
        {kFrom,
         kTo,
         {"limit", "integer", "1–1,000 (100)"},
         {"cursor", "string", "`next` of the previous page"},
         {"user", "string", "a user id or an actor name"},
         {"kind", "string", "request or security"},
         {"event", "string", "e.g. login_failed"}},
        nullptr,
        200,
        "AuditPage"}},
      {"POST /api/grid/ingest",
       {"Ingest samples: JSON array or object, NDJSON or CSV; per-item errors",
        {{"atomic", "boolean", "all or nothing (false)"}},
        "SampleBatch",
        200,
        "IngestReply"}},
      {"POST /api/grid/data",
       {"Ingest one sample in the original single-point shape",
        {kDevice},
        "LegacyPoint",
        201,
        "Sample"}},
      {"GET /api/grid/latest",
       {"The newest sample of a device, or of every device",
        {kDevice, kOrigin},
        nullptr,
        200,
        "SampleList"}},
      {"GET /api/grid/data",
       {"Raw samples of a device, paged",
        {kDevice,
         kOrigin,
         kFrom,
         kTo,
         {"limit", "integer", "1–10,000 (1,000)"},
         {"order", "string", "asc or desc (desc)"},
         {"cursor", "string", "`next` of the previous page"}},
        nullptr,
        200,
        "DataPage"}},
      {"GET /api/grid/series",
       {"A chart series: buckets aligned to the epoch",
        {kDevice,
         kOrigin,
         kFrom,
         kTo,
         {"step", "string", "seconds or a duration (chosen for ~2,000 points)"},
         {"agg", "string", "avg, min, max or last"},
         {"fields", "string", "comma-separated field names"}},
        nullptr,
        200,
        "Series"}},
      {"GET /api/grid/devices", {"The device registry", {}, nullptr, 200, "DeviceList"}},
      {"POST /api/grid/devices", {"Register a device", {}, "Device", 201, "Device"}},
      {"GET /api/grid/devices/{id}", {"One device", {}, nullptr, 200, "Device"}},
      {"PUT /api/grid/devices/{id}", {"Replace a device's record", {}, "Device", 200, "Device"}},
      {"DELETE /api/grid/devices/{id}",
       {"Delete a device with its samples", {}, nullptr, 204, nullptr}},
      {"GET /api/grid/state",
       {"Weighted-least-squares state estimate of the active model from the devices' newest "
        "samples and pseudo-measurements",
        {kOrigin,
         {"max_age_s", "integer", "newest samples at most this old (900)"},
         {"pseudo", "boolean", "complete the meters with pseudo-measurements (true)"}},
        nullptr,
        200,
        "StateEstimate"}},
      {"POST /api/grid/networks",
       {"Upload a network model (MATPOWER text or the JSON format); it becomes the active one",
        {{"format", "string", "json or matpower (by Content-Type)"},
         {"name", "string", "the model's name"}},
        "text",
        201,
        "NetworkUploaded"}},
      {"GET /api/grid/networks", {"Every uploaded version", {}, nullptr, 200, "NetworkVersions"}},
      {"GET /api/grid/network",
       {"The active model in the JSON network format", {}, nullptr, 200, "object"}},
      {"POST /api/grid/powerflow",
       {"AC power flow of the active model, with what-if changes",
        {},
        "PowerFlowRequest",
        200,
        "PowerFlowResult"}},
      {"POST /api/grid/contingency",
       {"N-1 contingency analysis of the active model",
        {},
        "ContingencyRequest",
        200,
        "ContingencyReport"}},
      {"GET /api/simulator/scenarios",
       {"The scenario catalogue with typed parameters", {}, nullptr, 200, "object"}},
      {"GET /api/simulator/runs", {"Simulation runs", {}, nullptr, 200, "RunList"}},
      {"POST /api/simulator/runs", {"Start a simulation run", {}, "RunRequest", 202, "RunStarted"}},
      {"GET /api/simulator/runs/{id}",
       {"One run: status, progress, counts", {}, nullptr, 200, "Run"}},
      {"POST /api/simulator/runs/{id}/stop",
       {"Stop a run (its creator or an admin)", {}, nullptr, 200, "Run"}},
      {"DELETE /api/simulator/runs/{id}",
       {"Delete a run with its samples and labels (its creator or an admin)",
        {},
        nullptr,
        204,
        nullptr}},
      {"POST /api/simulator/runs/{id}/pin",
       {"Pin a run as the active data source (its creator or an admin)", {}, nullptr, 200, "Run"}},
      {"GET /api/simulator/runs/{id}/labels",
       {"Ground-truth label intervals",
        {kDevice, kFrom, kTo, {"limit", "integer", "1–100,000 (10,000)"}},
        nullptr,
        200,
        "Labels"}},
      {"GET /api/simulator/runs/{id}/truth",
       {"The run's true bus voltages, a snapshot each simulated minute",
        {kFrom, kTo, {"limit", "integer", "1–10,000 (1,000)"}},
        nullptr,
        200,
        "object"}},
      {"GET /api/simulator/runs/{id}/state-score",
       {"The run's state estimates scored against its true bus voltages",
        {{"limit", "integer", "the newest snapshots scored, 1–1,000 (30)"}},
        nullptr,
        200,
        "object"}},
      {"GET /api/simulator/active", {"The pinned run", {}, nullptr, 200, "Run"}},
      {"GET /api/ml/models",
       {"The analytics models: each one's active (else newest) model card",
        {},
        nullptr,
        200,
        "ModelList"}},
      {"GET /api/ml/models/{name}",
       {"One model: its active version and every version's card",
        {},
        nullptr,
        200,
        "ModelVersions"}},
      {"POST /api/ml/models/{name}/activate",
       {"Serve another version (an older one: the roll-back)",
        {},
        "ModelActivation",
        200,
        "ModelActivated"}},
      {"POST /api/ml/models/{name}/import",
       {"Import an XGBoost JSON model trained elsewhere as the slot's next version (its objective, "
        "classes and feature names checked)",
        {{"activate", "boolean", "serve it at once (false)"},
         {"threshold", "number", "decision threshold of a binary model, (0, 1) (0.5)"}},
        "object",
        201,
        "ModelImported"}},
      {"POST /api/ml/train",
       {"Train the analytics models in the background on simulated runs (remhart train), then "
        "publish, activate and serve them; 409 while one is running",
        {},
        "TrainRequest",
        202,
        "TrainingStatus"}},
      {"GET /api/ml/train",
       {"The training's status: off, running: <stage> <percent>, done, failed: …, cancelled, "
        "not_needed",
        {},
        nullptr,
        200,
        "TrainingStatus"}},
      {"GET /api/ml/monitoring/latest",
       {"The monitoring models' latest result for every device (or one)",
        {{"device", "string", "device id (all devices when absent)"}, kOrigin},
        nullptr,
        200,
        "MlResultList"}},
      {"GET /api/ml/monitoring/voltage-anomaly",
       history("Voltage anomaly (model 1): stored results, newest first")},
      {"GET /api/ml/monitoring/harmonic-analysis",
       history("Harmonic analysis (model 2): stored results, newest first")},
      {"GET /api/ml/monitoring/frequency-stability",
       history("Frequency stability (model 3): stored results, newest first")},
      {"GET /api/ml/monitoring/phase-imbalance",
       history("Phase imbalance (model 4): stored results, newest first")},
      {"GET /api/ml/maintenance/latest",
       {"The predictive-maintenance models' latest (scheduled) result for every device (or one)",
        {{"device", "string", "device id (all devices when absent)"}, kOrigin},
        nullptr,
        200,
        "MlResultList"}},
      {"POST /api/ml/maintenance/evaluate",
       {"Run the predictive-maintenance models now on a device's current features (not stored; "
        "404 when the device has sent nothing since the server started)",
        {{"device", "string", "device id (required)"}, kOrigin},
        nullptr,
        200,
        "MlResultList"}},
      {"GET /api/ml/maintenance/equipment-failure",
       history("Equipment failure (model 5): stored results, newest first")},
      {"GET /api/ml/maintenance/overload-risk",
       history("Overload risk (model 6): stored results, newest first")},
      {"GET /api/ml/maintenance/power-quality-index",
       history("Power quality index (model 7): stored results, newest first")},
      {"GET /api/ml/maintenance/voltage-sag",
       history("Voltage sag (model 8): stored results, newest first")},
      {"GET /api/ml/energy/latest",
       {"The energy-flow models' latest results: the whole network's (device null; with no device "
        "filter) from the state estimate",
        {{"device", "string", "device id (all devices and the network when absent)"}, kOrigin},
        nullptr,
        200,
        "MlResultList"}},
      {"POST /api/ml/energy/evaluate",
       {"Run the energy-flow models of a device (load forecast, demand response) now on its "
        "stored history (not stored; 404 when the device has sent nothing since the server "
        "started)",
        {{"device", "string", "device id (required)"}, kOrigin},
        nullptr,
        200,
        "MlResultList"}},
      {"GET /api/ml/energy/load-forecast",
       history("Load forecast (model 9): stored 24 h forecasts at 15 min with the 80 % interval")},
      {"GET /api/ml/energy/demand-response",
       history("Demand response (model 12): stored profile clusters and flexible kW")},
      {"GET /api/ml/decision/optimal-dispatch",
       history(
           "Optimal dispatch (model 16): stored battery plans over the feeder head's forecast")},
      {"GET /api/ml/energy/energy-loss",
       history("Energy loss (model 10): stored results of the network, newest first")},
      {"GET /api/ml/energy/power-flow",
       history("Power-flow optimisation (model 11): stored set-points and savings, newest first")},
      {"GET /api/ml/decision/stability-score",
       history("Grid stability score (model 15): stored results of the network, newest first")},
      {"GET /api/ml/decision/latest",
       {"The decision-support models' latest (scheduled) result for every device (or one)",
        {{"device", "string", "device id (all devices when absent)"}, kOrigin},
        nullptr,
        200,
        "MlResultList"}},
      {"POST /api/ml/decision/evaluate",
       {"Run the decision-support models now on a device's current features (not stored; 404 "
        "when the device has sent nothing since the server started)",
        {{"device", "string", "device id (required)"}, kOrigin},
        nullptr,
        200,
        "MlResultList"}},
      {"GET /api/ml/decision/reactive-power",
       history("Reactive power compensation (model 13): stored results, newest first")},
      {"GET /api/ml/decision/load-balancing",
       history("Load balancing (model 14): stored results, newest first")},
      {"POST /api/simulator/run",
       {"Start a run (the original system's path)", {}, "RunRequest", 202, "RunStarted"}},
      {"GET /api/simulator/list",
       {"Runs (the original system's path)", {}, nullptr, 200, "RunList"}},
      {"GET /api/simulator/templates/list",
       {"Scenarios (the original system's path)", {}, nullptr, 200, "object"}},
      {"GET /api/simulator/{id}",
       {"One run (the original system's path)", {}, nullptr, 200, "Run"}},
      {"POST /api/simulator/{id}/activate",
       {"Pin a run (the original system's path)", {}, nullptr, 200, "Run"}},
  };
  return kDocs;
}

json object(std::initializer_list<std::pair<const char*, json>> props) {
  json p = json::object();
  for (const auto& [k, v] : props) p[k] = v;
  return {{"type", "object"}, {"properties", p}};
}
json ref(const std::string& name) {
  return {{"$ref", "#/components/schemas/" + name}};
}
json array_of(json items) {
  return {{"type", "array"}, {"items", std::move(items)}};
}
json items_of(const std::string& name) {
  return object({{"items", array_of(ref(name))}});
}
const json kString = {{"type", "string"}};
const json kNumber = {{"type", "number"}};
const json kInteger = {{"type", "integer"}};
const json kBool = {{"type", "boolean"}};
const json kTriple = {
    {"type", "array"}, {"items", {{"type", {"number", "null"}}}}, {"minItems", 3}, {"maxItems", 3}};

json schemas() {
  return {
      {"Error", object({{"error", kString},
                        {"message", kString},
                        {"field", kString},
                        {"request_id", kString}})},
      {"Health", object({{"status", kString},
                         {"database", kString},
                         {"models_loaded", kInteger},
                         {"training", kString},
                         {"mqtt", kString},
                         {"storage", kString},
                         {"version", kString},
                         {"uptime_s", kNumber}})},
      {"Ready", object({{"status", kString},
                        {"queued_samples", kInteger},
                        {"degraded", {{"type", "array"}, {"items", kString}}}})},
      {"Credentials", object({{"username", kString}, {"password", kString}})},
      {"RefreshRequest", object({{"refresh_token", kString}})},
      {"PasswordChange", object({{"current_password", kString}, {"new_password", kString}})},
      {"Session", object({{"access_token", kString},
                          {"token_type", kString},
                          {"expires_in", kInteger},
                          {"refresh_token", kString},
                          {"user", ref("User")}})},
      {"User", object({{"id", kInteger},
                       {"username", kString},
                       {"email", kString},
                       {"full_name", kString},
                       {"role", {{"enum", {"viewer", "analyst", "operator", "admin"}}}},
                       {"disabled", kBool}})},
      {"UserList", items_of("User")},
      {"NewUser", object({{"username", kString},
                          {"password", kString},
                          {"email", kString},
                          {"full_name", kString},
                          {"role", kString}})},
      {"UserPatch", object({{"email", kString},
                            {"full_name", kString},
                            {"role", kString},
                            {"password", kString},
                            {"disabled", kBool}})},
      {"DeviceKey", object({{"id", kString},
                            {"name", kString},
                            {"device", kString},
                            {"site", kString},
                            {"rate_per_min", kInteger},
                            {"key", kString}})},
      {"DeviceKeyList", items_of("DeviceKey")},
      {"NewDeviceKey", object({{"name", kString},
                               {"device", kString},
                               {"site", kString},
                               {"rate_per_min", kInteger}})},
      {"AuditPage", object({{"items", array_of({{"type", "object"}})},
                            {"next", {{"type", {"string", "null"}}}}})},
      {"Sample", object({{"device", kString},
                         {"ts", kString},
                         {"origin", kString},
                         {"v", kTriple},
                         {"i", kTriple},
                         {"p", kTriple},
                         {"q", kTriple},
                         {"f", kNumber},
                         {"thd_v", kTriple},
                         {"thd_i", kTriple},
                         {"temp", kNumber},
                         {"v_avg", kNumber},
                         {"i_avg", kNumber},
                         {"p_total", kNumber},
                         {"q_total", kNumber},
                         {"pf", kNumber}})},
      {"SampleList", items_of("Sample")},
      {"SampleBatch", array_of(ref("Sample"))},
      {"LegacyPoint", object({{"voltage", {{"type", "object"}}},
                              {"current", {{"type", "object"}}},
                              {"active_power", {{"type", "object"}}},
                              {"reactive_power", {{"type", "object"}}},
                              {"frequency", {{"type", "object"}}},
                              {"timestamp", kString}})},
      {"IngestReply", object({{"accepted", kInteger},
                              {"duplicates", kInteger},
                              {"rejected", array_of(object({{"index", kInteger},
                                                            {"line", kInteger},
                                                            {"field", kString},
                                                            {"message", kString}}))}})},
      {"DataPage",
       object({{"items", array_of(ref("Sample"))}, {"next", {{"type", {"string", "null"}}}}})},
      {"Series", object({{"device", kString},
                         {"origin", kString},
                         {"step", kNumber},
                         {"agg", kString},
                         {"fields", array_of(kString)},
                         {"points", array_of({{"type", "array"}})}})},
      {"Device", object({{"id", kString},
                         {"name", kString},
                         {"kind", kString},
                         {"nominal_voltage", kNumber},
                         {"rated_current", kNumber},
                         {"nominal_frequency", kNumber},
                         {"accuracy_class", kNumber},
                         {"element", kString},
                         {"site", kString},
                         {"location", {{"type", {"object", "null"}}}},
                         {"tags", array_of(kString)}})},
      {"DeviceList", items_of("Device")},
      {"NetworkUploaded", object({{"id", kInteger},
                                  {"name", kString},
                                  {"buses", kInteger},
                                  {"branches", kInteger},
                                  {"generators", kInteger},
                                  {"active", kBool}})},
      {"NetworkVersions", object({{"items", array_of(object({{"id", kInteger},
                                                             {"name", kString},
                                                             {"uploaded_at", kString},
                                                             {"uploaded_by", kString},
                                                             {"active", kBool}}))}})},
      {"PowerFlowRequest", object({{"method", kString},
                                   {"start", kString},
                                   {"enforce_q_limits", kBool},
                                   {"slack", kString},
                                   {"changes", array_of({{"type", "object"}})}})},
      {"PowerFlowResult", object({{"network_id", kInteger},
                                  {"converged", kBool},
                                  {"iterations", kInteger},
                                  {"max_mismatch", kNumber},
                                  {"losses_mw", kNumber},
                                  {"buses", array_of({{"type", "object"}})},
                                  {"branches", array_of({{"type", "object"}})},
                                  {"generators", array_of({{"type", "object"}})},
                                  {"violations", array_of({{"type", "object"}})}})},
      {"ContingencyRequest",
       object(
           {{"method", kString}, {"branches", {{"type", "array"}}}, {"loading_limit", kNumber}})},
      {"ContingencyReport", object({{"network_id", kInteger},
                                    {"base", {{"type", "object"}}},
                                    {"outages", array_of({{"type", "object"}})},
                                    {"complete", kBool},
                                    {"stopped", kString},
                                    {"time_ms", kNumber}})},
      {"MlResult", object({{"device", kString},
                           {"ts", kString},
                           {"origin", kString},
                           {"model", kString},
                           {"version", kInteger},
                           {"result", {{"type", "object"}}},
                           {"inputs_window", {{"type", "object"}}}})},
      {"MlResultList", items_of("MlResult")},
      {"ModelCard", object({{"name", kString},
                            {"module", kString},
                            {"version", kInteger},
                            {"active", kBool},
                            {"created_at", kString},
                            {"algorithm", kString},
                            {"hyper_parameters", {{"type", "object"}}},
                            {"features", {{"type", "object"}}},
                            {"data", {{"type", "object"}}},
                            {"truth", kString},
                            {"outputs", array_of({{"type", "object"}})},
                            {"baseline", {{"type", "object"}}},
                            {"metrics", {{"type", "object"}}},
                            {"targets", array_of({{"type", "object"}})},
                            {"serving", {{"type", "object"}}}})},
      {"ModelList", items_of("ModelCard")},
      {"ModelVersions", object({{"name", kString},
                                {"active_version", kInteger},
                                {"versions", array_of(ref("ModelCard"))}})},
      {"ModelActivation", object({{"version", kInteger}})},
      {"TrainRequest", object({{"seed", kInteger}, {"scale", kNumber}, {"run_minutes", kNumber}})},
      {"TrainingStatus", object({{"status", kString}})},
      {"ModelImported", object({{"name", kString}, {"version", kInteger}, {"active", kBool}})},
      {"ModelActivated", object({{"name", kString}, {"active_version", kInteger}})},
      {"StateEstimate", object({{"network_id", kInteger},
                                {"origin", kString},
                                {"devices", kInteger},
                                {"measurements", kInteger},
                                {"converged", kBool},
                                {"objective", kNumber},
                                {"chi2_limit", kNumber},
                                {"bad_data_detected", kBool},
                                {"losses_mw", kNumber},
                                {"losses_sigma_mw", kNumber},
                                {"pseudo_measurements", kInteger},
                                {"head_scale", kNumber},
                                {"buses", array_of({{"type", "object"}})},
                                {"branches", array_of({{"type", "object"}})}})},
      {"RunRequest", object({{"scenario", kString},
                             {"mode", kString},
                             {"start", kString},
                             {"duration_s", kNumber},
                             {"step_s", kNumber},
                             {"speed", kNumber},
                             {"seed", kInteger},
                             {"params", {{"type", "object"}}}})},
      {"Run", object({{"id", kString},
                      {"scenario", kString},
                      {"mode", kString},
                      {"status", kString},
                      {"progress", kNumber},
                      {"samples", kInteger},
                      {"origin", kString},
                      {"pinned", kBool}})},
      {"RunList", items_of("Run")},
      {"RunStarted",
       object({{"id", kString}, {"status", kString}, {"origin", kString}, {"run", ref("Run")}})},
      {"Labels", object({{"items", array_of(object({{"device", kString},
                                                    {"from", kString},
                                                    {"to", kString},
                                                    {"event", kString},
                                                    {"severity", kNumber},
                                                    {"data_fault", kBool}}))}})},
  };
}

std::string key_of(const Route& r) {
  return r.method + " " + r.pattern;
}

json operation(const Route& r, const Doc& d) {
  json op = {{"summary", d.summary}, {"x-permission", std::string(auth::to_string(r.permission))}};
  if (r.permission == Permission::probe || r.permission == Permission::public_) {
    op["security"] = json::array();
  }
  json params = json::array();
  for (const auto& s : r.segments) {
    if (s.size() > 2 && s.front() == '{') {
      params.push_back({{"name", s.substr(1, s.size() - 2)},
                        {"in", "path"},
                        {"required", true},
                        {"schema", kString}});
    }
  }
  for (const auto& p : d.query) {
    params.push_back({{"name", p.name},
                      {"in", "query"},
                      {"description", p.description},
                      {"schema", {{"type", p.type}}}});
  }
  if (!params.empty()) op["parameters"] = params;
  if (d.request) {
    op["requestBody"] =
        std::string(d.request) == "text"
            ? json{{"content",
                    {{"text/plain", {{"schema", kString}}},
                     {"application/json", {{"schema", {{"type", "object"}}}}}}}}
            : json{{"content", {{"application/json", {{"schema", ref(d.request)}}}}}};
  }
  json ok = {{"description", "success"}};
  if (d.response) {
    const std::string name = d.response;
    ok["content"] = name == "text" ? json{{"text/plain", {{"schema", kString}}}}
                    : name == "object"
                        ? json{{"application/json", {{"schema", {{"type", "object"}}}}}}
                        : json{{"application/json", {{"schema", ref(name)}}}};
  }
  json responses = {{std::to_string(d.status), ok}};
  for (const char* status : {"400", "401", "403", "404", "422", "429", "503"}) {
    responses[status] = {{"$ref", std::string("#/components/responses/Error")}};
  }
  op["responses"] = responses;
  return op;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string openapi_document(const Router& router, const std::string& version) {
  json paths = json::object();
  for (const auto& r : router.routes()) {
    const auto it = docs().find(key_of(r));
    json op = it == docs().end() ? json{{"summary", "(undocumented)"}} : operation(r, it->second);
    paths[r.pattern][lower(r.method)] = std::move(op);
  }
  json doc = {
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "REMHART Twin API"},
        {"version", version},
        {"description",
         "Errors are {error, message, field?, request_id} with the statuses of docs/api.md. The "
         "live stream is a WebSocket at /ws/grid-data (docs/api.md)."}}},
      {"paths", paths},
      {"components",
       {{"schemas", schemas()},
        {"responses",
         {{"Error",
           {{"description", "the error shape of every failure"},
            {"content", {{"application/json", {{"schema", ref("Error")}}}}}}}}},
        {"securitySchemes",
         {{"bearer",
           {{"type", "http"},
            {"scheme", "bearer"},
            {"bearerFormat", "JWT or rdk_ device key"}}}}}}},
      {"security", json::array({{{"bearer", json::array()}}})},
  };
  return dump_json(doc);
}

std::vector<std::string> undocumented_routes(const Router& router) {
  std::vector<std::string> out;
  for (const auto& r : router.routes()) {
    if (!docs().count(key_of(r))) out.push_back(key_of(r));
  }
  return out;
}

// The route table is complete once the server listens: the document is built on the first
// request and served from then on (a public route should not rebuild ~50 KB of JSON each time).
void add_openapi_route(Router& router, std::string version) {
  auto once = std::make_shared<std::once_flag>();
  auto document = std::make_shared<std::string>();
  router.add("GET", "/api/openapi.json", Permission::public_,
             [&router, version, once, document](HttpRequest&, Reply reply) {
               std::call_once(*once, [&] { *document = openapi_document(router, version); });
               reply(json_response(200, *document));
             });
}

}  // namespace remhart::api
