// Analytics on the real binary: `remhart train` publishes models into the data directory's
// registry; the server serves the monitoring models on every stored sample and the maintenance
// models on their schedule and on demand (latest results, stored history, the live stream) and
// lists, describes and activates them.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "testkit.hpp"

using namespace remhart::testkit;
using nlohmann::json;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

json get_json(HttpClient& http, const std::string& target, int status = 200) {
  const auto r = http.get(target);
  EXPECT_EQ(r.status, status) << target << ": " << r.body;
  return json::parse(r.body, nullptr, false);
}

}  // namespace

TEST(Analytics, TrainedModelsServeEveryStoredSample) {
  TempDir dir;
  const auto data = dir.path() + "/data";
  // A small set (five 4-minute runs per scenario): the pipeline, not the quality.
  const auto trained =
      run_cli("train --scale 0.05 --run-minutes 4 --threads 2 --quiet --data-dir " + data);
  ASSERT_EQ(trained.status, 0) << trained.output;
  EXPECT_EQ(run_cli("train --scale 0 --data-dir " + data).status, 2);
  EXPECT_EQ(run_cli("train --run-minutes 1 --data-dir " + data).status, 2);

  ServerProcess proc(remhart_binary(), data, {"--no-demo"},
                     {{"REMHART_ANALYTICS_STORE_EVERY_S", "10"},
                      {"REMHART_ANALYTICS_SCHEDULE_S", "30"},
                      {"REMHART_ANALYTICS_SCHEDULED_STORE_EVERY_S", "30"}});
  auto http = admin_client(proc);
  const auto health = get_json(*http, "/health");
  EXPECT_EQ(health["models_loaded"], 16);
  EXPECT_EQ(health["training"], "off");  // switched off by the test kit

  // The registry: one card per model, active, with its metrics against its baseline.
  const auto models = get_json(*http, "/api/ml/models");
  ASSERT_EQ(models["items"].size(), 16u);
  for (const auto& m : models["items"]) {
    EXPECT_EQ(m["version"], 1);
    EXPECT_TRUE(m["active"].get<bool>());
    EXPECT_TRUE(m["module"] == "monitoring" || m["module"] == "maintenance" ||
                m["module"] == "energy" || m["module"] == "decision")
        << m["module"];
    EXPECT_TRUE(m.contains("metrics") && m.contains("baseline") && m.contains("targets"));
    EXPECT_EQ(m["features"]["names"].size(), m["features"]["count"].get<std::size_t>());
  }
  const auto card = get_json(*http, "/api/ml/models/voltage-anomaly");
  EXPECT_EQ(card["active_version"], 1);
  EXPECT_EQ(card["versions"].size(), 1u);
  get_json(*http, "/api/ml/models/no-such-model", 404);
  EXPECT_EQ(http->post("/api/ml/models/voltage-anomaly/activate", R"({"version":1})").status, 200);
  EXPECT_EQ(http->post("/api/ml/models/voltage-anomaly/activate", R"({"version":2})").status, 404);
  const auto bad = http->post("/api/ml/models/voltage-anomaly/activate", R"({"version":"1"})");
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(json::parse(bad.body)["field"], "version");

  // A model trained elsewhere (here: our own version 1, as Python's xgboost would save it) is
  // imported into its slot as version 2 and activated; one for another slot, or naming other
  // features, is refused with the reason.
  const auto model = read_file(data + "/models/voltage-anomaly/1/model.json");
  auto imp = http->post("/api/ml/models/voltage-anomaly/import?activate=true&threshold=0.6", model);
  ASSERT_EQ(imp.status, 201) << imp.body;
  EXPECT_EQ(json::parse(imp.body)["version"], 2);
  EXPECT_EQ(get_json(*http, "/api/ml/models/voltage-anomaly")["active_version"], 2);
  imp = http->post("/api/ml/models/phase-imbalance/import", model);
  EXPECT_EQ(imp.status, 422) << imp.body;
  EXPECT_NE(imp.body.find("multi:softprob"), std::string::npos) << imp.body;
  auto renamed = json::parse(model);
  renamed["learner"]["feature_names"][3] = "something_else";
  imp = http->post("/api/ml/models/voltage-anomaly/import", renamed.dump());
  EXPECT_EQ(imp.status, 422) << imp.body;
  EXPECT_NE(imp.body.find("feature_names[3]"), std::string::npos) << imp.body;
  EXPECT_EQ(http->post("/api/ml/models/no-such-slot/import", model).status, 404);
  imp = http->post("/api/ml/models/power-quality-index/import", model);  // computed: no trees
  EXPECT_EQ(imp.status, 422) << imp.body;
  EXPECT_EQ(http->post("/api/ml/models/voltage-anomaly/import?threshold=2", model).status, 400);
  EXPECT_EQ(http->post("/api/ml/models/voltage-anomaly/activate", R"({"version":1})").status, 200);

  // A sag run stored as a backfill: every sample goes through the monitoring models, whose
  // results also go out live.
  WsClient ws(proc.port(),
              "/ws/grid-data?token=" + login(proc.port(), "admin", proc.admin_password()));
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // snapshot
  ws.send(R"({"type":"subscribe","types":["analytics"]})");
  auto r = http->post("/api/simulator/runs", json{{"scenario", "voltage_sag"},
                                                  {"mode", "backfill"},
                                                  {"start", "2026-11-20T18:00:00Z"},
                                                  {"duration_s", 300},
                                                  {"seed", 5},
                                                  {"params", {{"start_s", 200}, {"duration_s", 5}}}}
                                                 .dump());
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string origin = "sim:" + json::parse(r.body)["id"].get<std::string>();
  std::optional<json> live;
  for (int k = 0; k < 50 && !live; ++k) {
    std::optional<std::string> m;
    try {
      m = ws.read(std::chrono::seconds(5));
    } catch (const std::exception& e) {
      FAIL() << e.what() << " rss " << proc.rss_kb() << "\n" << proc.output();
    }
    ASSERT_TRUE(m) << "no analytics message";
    const auto j = json::parse(*m);
    if (j["type"] == "analytics" && j["data"]["origin"] == origin) live = j["data"];
  }
  ASSERT_TRUE(live);
  EXPECT_EQ((*live)["module"], "monitoring");
  EXPECT_EQ((*live)["results"].size(), 4u);
  EXPECT_TRUE((*live)["results"]["voltage-anomaly"]["result"].contains("anomaly_score"));
  json latest;
  for (int k = 0; k < 600; ++k) {
    latest = get_json(*http, "/api/ml/monitoring/latest?origin=" + origin);
    bool done = latest["items"].size() >= 13 * 4;
    for (const auto& item : latest["items"]) {
      done = done && item["ts"].get<std::string>() >= "2026-11-20T18:04:5";
    }
    if (done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(latest["items"].size(), 13u * 4u) << latest.dump();
  for (const auto& item : latest["items"]) {
    for (const char* key :
         {"device", "ts", "origin", "model", "version", "result", "inputs_window"}) {
      EXPECT_TRUE(item.contains(key)) << key << " in " << item.dump();
    }
    EXPECT_EQ(item["origin"], origin);
    const auto& res = item["result"];
    if (item["model"] == "voltage-anomaly") {
      EXPECT_GE(res["anomaly_score"].get<double>(), 0);
      EXPECT_LE(res["anomaly_score"].get<double>(), 1);
      EXPECT_TRUE(res["is_anomaly"].is_boolean());
    } else if (item["model"] == "frequency-stability") {
      EXPECT_EQ(res["horizon_s"], 60);
      EXPECT_NEAR(res["predicted_hz"].get<double>(), 50, 1);
    } else if (item["model"] == "phase-imbalance") {
      EXPECT_TRUE(res.contains("likely_cause"));
    } else {
      EXPECT_EQ(item["model"], "harmonic-analysis");
      EXPECT_GE(res["thd_v_pct"].get<double>(), 0);
    }
  }
  // History from storage (one result per device every 10 s, and on every flag change), newest
  // first, filtered by device and time.
  const auto hist = get_json(
      *http, "/api/ml/monitoring/voltage-anomaly?device=sub-hv&origin=" + origin + "&limit=1000");
  EXPECT_GE(hist["items"].size(), 25u);
  for (std::size_t k = 1; k < hist["items"].size(); ++k) {
    EXPECT_GT(hist["items"][k - 1]["ts"].get<std::string>(),
              hist["items"][k]["ts"].get<std::string>());
  }
  const auto window =
      get_json(*http, "/api/ml/monitoring/phase-imbalance?device=sub-hv&origin=" + origin +
                          "&from=2026-11-20T18:01:00Z&to=2026-11-20T18:02:00Z");
  EXPECT_GE(window["items"].size(), 5u);
  EXPECT_LE(window["items"].size(), 7u);
  get_json(*http, "/api/ml/monitoring/voltage-anomaly?device=bad%20id", 400);
  get_json(*http, "/api/ml/monitoring/no-such-model", 404);
  EXPECT_NE(http->get("/metrics").body.find("remhart_analytics_models_loaded 16"),
            std::string::npos);

  // The maintenance models ran on their schedule (every 30 s of each device's samples: ten
  // times in the 5-minute run) and were stored; their latest per device is kept.
  const auto maint = get_json(*http, "/api/ml/maintenance/latest?origin=" + origin);
  ASSERT_EQ(maint["items"].size(), 13u * 4u) << maint.dump();
  for (const auto& item : maint["items"]) {
    const auto& res = item["result"];
    if (item["model"] == "equipment-failure") {
      EXPECT_GE(res["failure_probability"].get<double>(), 0);
      EXPECT_LE(res["failure_probability"].get<double>(), 1);
      EXPECT_EQ(res["contributing_factors"].size(), 4u);
    } else if (item["model"] == "overload-risk") {
      EXPECT_TRUE(res["loading_pct"].is_number());
      EXPECT_EQ(res["probabilities"].size(), 3u);
    } else if (item["model"] == "power-quality-index") {
      EXPECT_GE(res["pqi"].get<double>(), 0);
      EXPECT_LE(res["pqi"].get<double>(), 100);
      EXPECT_EQ(res["components"].size(), 5u);
    } else {
      EXPECT_EQ(item["model"], "voltage-sag");
      EXPECT_TRUE(res["affected_phases"].is_array());
    }
  }
  const auto pqi_hist =
      get_json(*http, "/api/ml/maintenance/power-quality-index?device=sub-hv&origin=" + origin);
  EXPECT_GE(pqi_hist["items"].size(), 9u);
  EXPECT_LE(pqi_hist["items"].size(), 11u);
  // On demand: the device's current features, not stored.
  auto now = http->post("/api/ml/maintenance/evaluate?device=sub-hv&origin=" + origin, "");
  ASSERT_EQ(now.status, 200) << now.body;
  EXPECT_EQ(json::parse(now.body)["items"].size(), 4u);
  EXPECT_EQ(get_json(*http, "/api/ml/maintenance/power-quality-index?device=sub-hv&origin=" +
                                origin)["items"]
                .size(),
            pqi_hist["items"].size());
  EXPECT_EQ(http->post("/api/ml/maintenance/evaluate?device=nobody&origin=" + origin, "").status,
            404);
  EXPECT_EQ(http->post("/api/ml/maintenance/evaluate", "").status, 400);
  // Five minutes are not a day: the day-ahead models say so rather than guess.
  const auto short_energy = get_json(*http, "/api/ml/energy/latest?device=sub-hv&origin=" + origin);
  ASSERT_EQ(short_energy["items"].size(), 2u) << short_energy.dump();
  for (const auto& item : short_energy["items"]) {
    EXPECT_EQ(item["result"]["status"], "insufficient_history") << item.dump();
  }
  // Decision support, on the same schedule: a compensation and a balancing plan per device.
  const auto decision = get_json(*http, "/api/ml/decision/latest?device=sub-hv&origin=" + origin);
  ASSERT_EQ(decision["items"].size(), 2u) << decision.dump();
  for (const auto& item : decision["items"]) {
    const auto& res = item["result"];
    if (item["model"] == "reactive-power") {
      EXPECT_TRUE(res["power_factor"].is_number());
      EXPECT_EQ(res["target_power_factor"], 0.95);
    } else {
      EXPECT_EQ(item["model"], "load-balancing");
      EXPECT_EQ(res["phase_p_kw"].size(), 3u);
    }
  }
  // Two days at 15-minute steps: a load forecast for the next 24 h with its interval, and
  // the device's load-profile cluster.
  r = http->post("/api/simulator/runs", json{{"scenario", "normal_day"},
                                             {"mode", "backfill"},
                                             {"start", "2026-11-18T00:00:00Z"},
                                             {"duration_s", 2 * 86400},
                                             {"step_s", 900},
                                             {"seed", 9}}
                                            .dump());
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string days = "sim:" + json::parse(r.body)["id"].get<std::string>();
  json forecast;
  for (int k = 0; k < 600; ++k) {
    const auto e = get_json(*http, "/api/ml/energy/latest?device=sub-hv&origin=" + days);
    for (const auto& item : e["items"]) {
      if (item["model"] == "load-forecast" && item["ts"].get<std::string>() >= "2026-11-19T23:4") {
        forecast = item["result"];
      }
    }
    if (!forecast.is_null()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(forecast.is_null());
  EXPECT_EQ(forecast["status"], "ok") << forecast.dump();
  ASSERT_EQ(forecast["forecast"].size(), 96u);
  // The last sample (23:45) opens the step in progress: the forecast starts there.
  EXPECT_EQ(forecast["forecast"][0]["ts"], "2026-11-19T23:45:00.000000Z");
  for (const auto& step : forecast["forecast"]) {
    EXPECT_GT(step["p_kw"].get<double>(), 0);
    EXPECT_LE(step["p10_kw"].get<double>(), step["p_kw"].get<double>());
    EXPECT_GE(step["p90_kw"].get<double>(), step["p_kw"].get<double>());
  }
  auto evaluated = http->post("/api/ml/energy/evaluate?device=sub-hv&origin=" + days, "");
  for (int k = 0; k < 20 && evaluated.status == 503; ++k) {  // its shard busy with the backfill
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    evaluated = http->post("/api/ml/energy/evaluate?device=sub-hv&origin=" + days, "");
  }
  ASSERT_EQ(evaluated.status, 200) << evaluated.body;
  const auto dr = json::parse(evaluated.body);
  bool clustered = false;
  for (const auto& item : dr["items"]) {
    if (item["model"] != "demand-response") continue;
    clustered = true;
    EXPECT_EQ(item["result"]["status"], "ok");
    EXPECT_GE(item["result"]["flexible_kw"].get<double>(), 0);
  }
  EXPECT_TRUE(clustered) << dr.dump();

  // Deleting the run takes its analytics along.
  EXPECT_EQ(http->request("DELETE", "/api/simulator/runs/" + origin.substr(4)).status, 204);
  EXPECT_EQ(get_json(*http, "/api/ml/monitoring/latest?origin=" + origin)["items"].size(), 0u);
  EXPECT_EQ(get_json(*http, "/api/ml/monitoring/voltage-anomaly?origin=" + origin)["items"].size(),
            0u);
  EXPECT_EQ(get_json(*http, "/api/ml/maintenance/latest?origin=" + origin)["items"].size(), 0u);

  // The network-level models run on the state estimator's rounds of the pinned (live) demo run:
  // the losses of every estimate, set-points and the stability score on their schedule.
  EXPECT_EQ(proc.terminate(), 0);
  ServerProcess demo(
      remhart_binary(), data, {},
      {{"REMHART_GRID_STATE_INTERVAL_S", "1"}, {"REMHART_ANALYTICS_NETWORK_SCHEDULE_S", "1"}});
  auto dh = std::make_unique<HttpClient>(demo.port());  // the first admin is the first process's
  dh->set_header("Authorization", "Bearer " + login(demo.port(), "admin", proc.admin_password()));
  const std::string live_origin = get_json(*dh, "/api/simulator/active")["origin"];
  // The network's items (device null) among the devices'.
  const auto network_items = [](const json& all) {
    json out = json::array();
    for (const auto& item : all["items"]) {
      if (item["device"].is_null()) out.push_back(item);
    }
    return out;
  };
  json energy, stability;
  for (int k = 0; k < 300; ++k) {
    energy = network_items(get_json(*dh, "/api/ml/energy/latest?origin=" + live_origin));
    stability = network_items(get_json(*dh, "/api/ml/decision/latest?origin=" + live_origin));
    if (energy.size() == 2 && !stability.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(energy.size(), 2u) << energy.dump() << demo.output();
  for (const auto& item : energy) {
    EXPECT_TRUE(item["device"].is_null());
    EXPECT_GE(item["network_id"].get<int>(), 1);
    const auto& res = item["result"];
    if (item["model"] == "energy-loss") {
      EXPECT_GT(res["losses_kw"].get<double>(), 0);
      EXPECT_NEAR(res["power_flow_losses_kw"].get<double>(), res["losses_kw"].get<double>(),
                  0.01 * res["losses_kw"].get<double>());
    } else {
      EXPECT_EQ(item["model"], "power-flow");
      EXPECT_GE(res["saving_kw"].get<double>(), 0);
      EXPECT_EQ(res["set_points"]["taps"].size(), 1u);
    }
  }
  bool scored = false;
  for (const auto& item : stability) {
    if (item["model"] != "stability-score") continue;
    scored = true;
    EXPECT_GE(item["result"]["score"].get<double>(), 0);
    EXPECT_LE(item["result"]["score"].get<double>(), 100);
    EXPECT_GT(item["result"]["n_minus_1"]["islanding"].get<int>(), 0);  // a radial feeder
  }
  EXPECT_TRUE(scored) << stability.dump();
  // The demo run starts with eight days of 15-minute history: the feeder head has a forecast at
  // once, and the battery plan over it.
  json planned;
  for (int k = 0; k < 300 && planned.is_null(); ++k) {
    for (const auto& item :
         network_items(get_json(*dh, "/api/ml/decision/latest?origin=" + live_origin))) {
      if (item["model"] == "optimal-dispatch") planned = item["result"];
    }
    if (planned.is_null()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(planned.is_null()) << demo.output();
  EXPECT_EQ(planned["plan"].size(), 96u);
  EXPECT_GE(planned["peak_reduction_kw"].get<double>(), 0);
  EXPECT_EQ(planned["feeder_head_device"], "sub-hv");
  const auto loss_hist = get_json(*dh, "/api/ml/energy/energy-loss?origin=" + live_origin);
  ASSERT_GE(loss_hist["items"].size(), 1u);
  EXPECT_TRUE(loss_hist["items"][0]["device"].is_null());
}

// POST /api/ml/train: a background job (analyst or admin) whose progress GET /api/ml/train and
// /health report; when done its models are published, activated and served.
TEST(Analytics, TrainingThroughTheApi) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"});
  auto http = admin_client(proc);
  EXPECT_EQ(get_json(*http, "/health")["models_loaded"], 0);
  EXPECT_EQ(get_json(*http, "/api/ml/train")["status"], "off");
  auto r = http->post("/api/ml/train", R"({"seed":3,"run_minutes":1})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(json::parse(r.body)["field"], "run_minutes");
  r = http->post("/api/ml/train", R"({"seed":3,"scale":0.05,"run_minutes":2})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(http->post("/api/ml/train", "{}").status, 409);  // one at a time
  std::string status;
  for (int k = 0; k < 1200; ++k) {
    status = get_json(*http, "/api/ml/train")["status"];
    if (!status.starts_with("running")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(status, "done");
  const auto health = get_json(*http, "/health");
  EXPECT_EQ(health["models_loaded"], 16);
  EXPECT_EQ(health["training"], "done");
  const auto card = get_json(*http, "/api/ml/models/phase-imbalance");
  EXPECT_EQ(card["active_version"], 1);
  EXPECT_EQ(card["versions"][0]["data"]["seed"], 3);
}
