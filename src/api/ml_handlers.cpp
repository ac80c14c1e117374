// Analytics routes (SPEC §9, §16): the model registry (cards, versions, activation) and the
// models' results — the latest per device from memory, history from storage (never
// recomputed), and the scheduled models run on demand.
#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "analytics/registry.hpp"
#include "api/analytics_service.hpp"
#include "api/context.hpp"
#include "api/errors.hpp"
#include "api/query_params.hpp"
#include "api/router.hpp"
#include "core/error.hpp"
#include "core/measurement.hpp"
#include "ml/io/xgboost_json.hpp"
#include "store/ml_results.hpp"

namespace remhart::api {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

// Each part of the analytics, or 503 when `analytics.enabled` is off.
template <typename T>
T& enabled(T* part) {
  if (!part) throw Error(ErrorKind::unavailable, "analytics are switched off", "", 30);
  return *part;
}

analytics::ModelRegistry& registry(ApiContext& ctx) {
  return enabled(ctx.models);
}

// `device`, optional: every device when absent.
std::string device_filter(const HttpRequest& req) {
  auto device = req.arg("device").value_or("");
  if (!device.empty() && !core::valid_device_id(device)) {
    throw Error(ErrorKind::bad_request, "device must match [A-Za-z0-9_.-]{1,64}", "device");
  }
  return device;
}

// The card a listing shows: the active version's, else the newest.
json summary(const std::vector<json>& cards) {
  for (const auto& c : cards) {
    if (c.value("active", false)) return c;
  }
  return cards.back();
}

void list_models(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx] {
    auto& reg = registry(ctx);
    json items = json::array();
    for (const auto& name : reg.names()) {
      const auto cards = reg.cards(name);
      if (!cards.empty()) items.push_back(summary(cards));
    }
    return json_response(200, dump_json({{"items", items}}));
  });
}

void get_model(ApiContext& ctx, HttpRequest& req, Reply reply) {
  offload(ctx, req, std::move(reply), [&ctx, name = req.params.at("name")] {
    auto& reg = registry(ctx);
    const auto cards = analytics::valid_model_name(name) ? reg.cards(name) : std::vector<json>{};
    if (cards.empty()) throw Error(ErrorKind::not_found, "no model named " + name);
    return json_response(200, dump_json({{"name", name},
                                         {"active_version", reg.active(name).value_or(0)},
                                         {"versions", cards}}));
  });
}

void activate_model(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto body = json_object_body(req.body);
  const auto v = body.find("version");
  if (v == body.end() || !v->is_number_integer() || v->get<std::int64_t>() < 1 ||
      v->get<std::int64_t>() > 1'000'000'000) {
    throw Error(ErrorKind::unprocessable, "version must be a positive integer", "version");
  }
  offload(ctx, req, std::move(reply),
          [&ctx, name = req.params.at("name"), version = v->get<int>()] {
            auto& reg = registry(ctx);
            if (!analytics::valid_model_name(name) || !reg.activate(name, version)) {
              throw Error(ErrorKind::not_found,
                          "model " + name + " has no version " + std::to_string(version));
            }
            if (ctx.analytics) ctx.analytics->reload();
            return json_response(200, dump_json({{"name", name}, {"active_version", version}}));
          });
}

// An XGBoost JSON model trained elsewhere, into a slot as its next version (active with
// ?activate=true).
void import_model(ApiContext& ctx, HttpRequest& req, Reply reply) {
  const auto* slot = analytics::find_model(req.params.at("name"));
  if (!slot) throw Error(ErrorKind::not_found, "no model slot named " + req.params.at("name"));
  if (!slot->trees) {
    throw Error(ErrorKind::unprocessable,
                std::string(slot->name) + " is computed: no trees to import", "name");
  }
  const bool activate = bool_arg(req, "activate").value_or(false);
  double threshold = 0.5;
  if (const auto t = req.arg("threshold")) {
    char* end = nullptr;
    threshold = std::strtod(t->c_str(), &end);
    if (t->empty() || end != t->c_str() + t->size() || !(threshold > 0 && threshold < 1)) {
      throw Error(ErrorKind::bad_request, "threshold must be a number in (0, 1)", "threshold");
    }
  }
  offload(ctx, req, std::move(reply),
          [&ctx, slot, activate, threshold, body = std::move(req.body),
           who = req.principal.name]() mutable {
            auto& reg = registry(ctx);
            analytics::TrainedModel m;
            try {
              m = analytics::import_model(*slot, std::move(body), threshold, who);
            } catch (const ml::io::ModelFormatError& e) {
              throw Error(ErrorKind::unprocessable, e.what(), "model");
            }
            const int version = reg.publish(m, core::now_us(), activate);
            if (activate && ctx.analytics) ctx.analytics->reload();
            return json_response(
                201, dump_json({{"name", m.name}, {"version", version}, {"active", activate}}));
          });
}

// Trains the models in the background (`remhart train` with the body's seed and scale), then
// publishes and serves them; the progress is in GET /api/ml/train and /health.
void train(ApiContext& ctx, HttpRequest& req, Reply reply) {
  auto& service = enabled(ctx.analytics);
  const auto body = json_object_body(req.body, true);
  std::uint64_t seed = 1;
  double scale = 1;
  if (const auto it = body.find("seed"); it != body.end()) {
    if (!it->is_number_unsigned()) {
      throw Error(ErrorKind::unprocessable, "seed must be a non-negative integer", "seed");
    }
    seed = it->get<std::uint64_t>();
  }
  if (const auto it = body.find("scale"); it != body.end()) {
    if (!it->is_number() || !(it->get<double>() > 0 && it->get<double>() <= 4)) {
      throw Error(ErrorKind::unprocessable, "scale must be a number in (0, 4]", "scale");
    }
    scale = it->get<double>();
  }
  double run_minutes = 30;
  if (const auto it = body.find("run_minutes"); it != body.end()) {
    if (!it->is_number() || !(it->get<double>() >= 2 && it->get<double>() <= 1440)) {
      throw Error(ErrorKind::unprocessable, "run_minutes must be a number in [2, 1440]",
                  "run_minutes");
    }
    run_minutes = it->get<double>();
  }
  if (!service.start_training(seed, scale, run_minutes)) {
    throw Error(ErrorKind::conflict, "a training is already running");
  }
  reply(json_response(202, dump_json({{"status", service.training_status()}})));
}

void training_status(ApiContext& ctx, HttpRequest&, Reply reply) {
  reply(json_response(200, dump_json({{"status", enabled(ctx.analytics).training_status()}})));
}

Handler latest(ApiContext& ctx, std::string_view module) {
  return [&ctx, module](HttpRequest& req, Reply reply) {
    auto& service = enabled(ctx.analytics);
    offload(ctx, req, std::move(reply),
            [&service, module, origin = origin_arg(req), device = device_filter(req)] {
              return json_response(
                  200, dump_json({{"items", service.latest_all(origin, device, module)}}));
            });
  };
}

// Runs a module's scheduled models now on one device's current features (?device=&origin=).
Handler evaluate(ApiContext& ctx, std::string_view module) {
  return [&ctx, module](HttpRequest& req, Reply reply) {
    auto& service = enabled(ctx.analytics);
    offload(ctx, req, std::move(reply),
            [&service, module, origin = origin_arg(req), device = device_arg(req)] {
              auto items = service.evaluate_now(origin, device, module);
              if (!items) {
                throw Error(ErrorKind::not_found, "no analysed sample of " + device + " in " +
                                                      origin + " since the server started");
              }
              return json_response(200, dump_json({{"items", std::move(*items)}}));
            });
  };
}

// History of one model, newest first (network-level results have no device).
Handler history(ApiContext& ctx, std::string model) {
  return [&ctx, model](HttpRequest& req, Reply reply) {
    store::MlResultQuery q;
    q.model = model;
    q.origin = origin_arg(req);
    q.device = device_filter(req);
    q.from = time_arg(req, "from").value_or(INT64_MIN);
    q.to = time_arg(req, "to").value_or(INT64_MAX);
    q.limit = static_cast<std::size_t>(int_arg(req, "limit", 1, 10000).value_or(100));
    auto& results = enabled(ctx.ml_results);
    offload(ctx, req, std::move(reply), [&results, q] {
      json items = json::array();
      for (const auto& r : results.query(q)) {
        items.push_back({{"device", r.device.empty() ? json(nullptr) : json(r.device)},
                         {"ts", core::format_rfc3339(r.ts)},
                         {"origin", r.origin},
                         {"model", r.model},
                         {"version", r.version},
                         {"result", json::parse(r.result_json, nullptr, false)}});
      }
      return json_response(200, dump_json({{"items", items}}));
    });
  };
}

}  // namespace

void add_ml_routes(Router& router, ApiContext& ctx) {
  router.add("GET", "/api/ml/models", Permission::read, bound(ctx, list_models));
  router.add("GET", "/api/ml/models/{name}", Permission::read, bound(ctx, get_model));
  router.add("POST", "/api/ml/models/{name}/activate", Permission::admin,
             bound(ctx, activate_model));
  router.add("POST", "/api/ml/models/{name}/import", Permission::admin, bound(ctx, import_model),
             Router::kLargeBody);
  router.add("POST", "/api/ml/train", Permission::train, bound(ctx, train));
  router.add("GET", "/api/ml/train", Permission::read, bound(ctx, training_status));
  for (const auto module : analytics::kModules) {
    const auto base = "/api/ml/" + std::string(module);
    router.add("GET", base + "/latest", Permission::read, latest(ctx, module));
    // On demand: the modules with per-device models on the schedule.
    if (std::any_of(analytics::kModels.begin(), analytics::kModels.end(), [&](const auto& m) {
          return m.module == module && !m.per_sample() && !m.network;
        })) {
      router.add("POST", base + "/evaluate", Permission::read, evaluate(ctx, module));
    }
  }
  for (const auto& m : analytics::kModels) {
    router.add("GET", "/api/ml/" + std::string(m.module) + "/" + std::string(m.name),
               Permission::read, history(ctx, std::string(m.name)));
  }
}

}  // namespace remhart::api
