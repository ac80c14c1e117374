// Simulation runs over HTTP and the live stream, on the real binary: the demo run `make run`
// starts, the run lifecycle (start, progress, stop, delete), isolation of concurrent runs,
// labels, parameter errors, the original system's paths, and runs cut off by a restart.
#include <gtest/gtest.h>

#include <optional>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "testkit.hpp"

using namespace remhart::testkit;
using nlohmann::json;

namespace {

json get_json(HttpClient& http, const std::string& target, int status = 200) {
  const auto r = http.get(target);
  EXPECT_EQ(r.status, status) << target << ": " << r.body;
  return json::parse(r.body, nullptr, false);
}

json post_json(HttpClient& http, const std::string& target, const json& body, int status) {
  const auto r = http.post(target, body.dump());
  EXPECT_EQ(r.status, status) << target << " " << body.dump() << ": " << r.body;
  return json::parse(r.body, nullptr, false);
}

// Polls a run until it leaves `running` (or the time runs out).
json wait_finished(HttpClient& http, const std::string& id, int seconds = 60) {
  json run;
  for (int k = 0; k < seconds * 10; ++k) {
    run = get_json(http, "/api/simulator/runs/" + id);
    if (run["status"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return run;
}

// Devices whose latest sample is at or after `since` (RFC 3339, as the server writes it): the
// demo run's history comes first, its live samples from the run's start.
std::size_t latest_count(HttpClient& http, const std::string& origin,
                         const std::string& since = "") {
  std::size_t n = 0;
  const auto latest = get_json(http, "/api/grid/latest?origin=" + origin);
  for (const auto& item : latest["items"]) {
    n += item["ts"].get<std::string>() >= since;
  }
  return n;
}

}  // namespace

TEST(Simulator, DemoRunStartsWithTheServerAndFeedsLiveData) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data");
  auto http = admin_client(proc);
  const auto active = get_json(*http, "/api/simulator/active");
  EXPECT_EQ(active["scenario"], "normal_day");
  EXPECT_EQ(active["mode"], "realtime");
  EXPECT_EQ(active["status"], "running");
  EXPECT_EQ(active["pinned"], true);
  const std::string origin = active["origin"];
  std::size_t meters = 0;
  for (int k = 0; k < 50 && meters < 10; ++k) {
    meters = latest_count(*http, origin, active["start"]);  // live, not the history before
    if (meters < 10) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GE(meters, 10u);  // 13 meters; a rare simulated data fault may hold one back
  EXPECT_EQ(latest_count(*http, "real"), 0u);
  const auto devices = get_json(*http, "/api/grid/devices");
  EXPECT_GE(devices["items"].size(), 13u);
  EXPECT_NE(http->get("/metrics").body.find("remhart_sim_runs_running 1"), std::string::npos);

  // The twin's state from its 13 meters and the twin's pseudo-measurements: every bus, with its
  // uncertainty, and the losses; the meters alone do not observe the feeder.
  auto r = http->get("/api/grid/state?origin=" + origin);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto st = nlohmann::json::parse(r.body);
  EXPECT_TRUE(st["converged"].get<bool>());
  EXPECT_GT(st["pseudo_measurements"].get<int>(), 20);
  EXPECT_GT(st["head_scale"].get<double>(), 0);
  ASSERT_EQ(st["buses"].size(), 33u);
  for (const auto& b : st["buses"]) {
    EXPECT_NEAR(b["vm_pu"].get<double>(), 1.0, 0.1);
    EXPECT_GE(b["vm_sigma_pu"].get<double>(), 0);
  }
  EXPECT_GT(st["losses_mw"].get<double>(), 0);
  EXPECT_EQ(st["branches"].size(), 32u);
  EXPECT_GT(st["losses_sigma_mw"].get<double>(), 0);
  EXPECT_GT(st["branches"][0]["p_from_sigma_mw"].get<double>(), 0);
  EXPECT_GT(st["branches"][0]["loading_sigma"].get<double>(), 0);
  r = http->get("/api/grid/state?pseudo=false&origin=" + origin);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(http->get("/api/grid/state?pseudo=maybe").status, 400);
}

// The estimator runs on its own: the pinned demo run's state every interval, on the live stream
// as `network_state` messages and served by GET /api/grid/state while fresh.
TEST(Simulator, TheEstimatorKeepsTheDemoTwinsStateLive) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {},
                     {{"REMHART_GRID_STATE_INTERVAL_S", "1"}});
  auto http = admin_client(proc);
  const std::string origin = get_json(*http, "/api/simulator/active")["origin"];
  const auto token = login(proc.port(), "admin", proc.admin_password());
  WsClient ws(proc.port(), "/ws/grid-data?token=" + token);
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // snapshot
  ws.send(R"({"type":"subscribe","types":["network_state"]})");
  std::optional<json> state;
  for (int k = 0; k < 30 && !state; ++k) {
    const auto m = ws.read(std::chrono::seconds(5));
    ASSERT_TRUE(m) << "no network_state message";
    const auto j = json::parse(*m);
    if (j["type"] == "network_state" && j["data"]["origin"] == origin) state = j["data"];
  }
  ASSERT_TRUE(state);
  EXPECT_TRUE((*state)["converged"].get<bool>());
  EXPECT_EQ((*state)["buses"].size(), 33u);
  // The route serves the kept estimate while it is fresh: twice the same.
  const auto a = get_json(*http, "/api/grid/state?origin=" + origin);
  const auto b = get_json(*http, "/api/grid/state?origin=" + origin);
  EXPECT_EQ(a["origin"], origin);
  EXPECT_FALSE(a["estimated_at"].get<std::string>().empty());
  EXPECT_LE(a["estimated_at"].get<std::string>(), b["estimated_at"].get<std::string>());
  const auto metrics = http->get("/metrics").body;
  EXPECT_NE(metrics.find("remhart_state_estimates_total"), std::string::npos);
  EXPECT_NE(metrics.find("remhart_state_estimate_failures_total 0"), std::string::npos);
}

TEST(Simulator, RunLifecycleIsolationLabelsAndErrors) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"});
  auto http = admin_client(proc);

  const auto catalogue = get_json(*http, "/api/simulator/scenarios");
  EXPECT_EQ(catalogue["items"].size(), 12u);

  // Two backfill runs at once, each answered at once with its id.
  const auto t0 = std::chrono::steady_clock::now();
  const auto a = post_json(*http, "/api/simulator/runs",
                           {{"scenario", "line_fault"},
                            {"mode", "backfill"},
                            {"start", "2026-11-20T18:00:00Z"},
                            {"duration_s", 1200},
                            {"step_s", 1},
                            {"seed", 3},
                            {"params", {{"start_s", 300}, {"reclose_after_s", 30}}}},
                           202);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  const auto b = post_json(*http, "/api/simulator/runs",
                           {{"scenario", "normal"},
                            {"mode", "backfill"},
                            {"start", 1'780'000'000'000},
                            {"duration_s", 600},
                            {"step_s", 2},
                            // No simulated data faults: a dropped sample would make the count
                            // below random (it failed 298 of 300 once, unseeded).
                            {"params", {{"data_fault_rate_per_h", 0}}}},
                           202);
  const std::string ida = a["id"], idb = b["id"];
  EXPECT_EQ(a["status"], "running");
  EXPECT_EQ(a["origin"], "sim:" + ida);
  const auto ra = wait_finished(*http, ida), rb = wait_finished(*http, idb);
  EXPECT_EQ(ra["status"], "completed");
  EXPECT_EQ(rb["status"], "completed");
  EXPECT_EQ(ra["progress"], 1.0);
  EXPECT_EQ(ra["steps"], 1200);
  EXPECT_EQ(rb["scenario"], "normal_day");  // the alias resolved
  EXPECT_GT(ra["samples"].get<int>(), 1200 * 11);
  EXPECT_EQ(ra["rejected"], 0);
  EXPECT_EQ(ra["seed"], 3);

  // Each run's data under its own origin, in its own time range.
  const auto da = get_json(
      *http, "/api/grid/data?device=latA-head&origin=sim:" + ida + "&limit=5000&order=asc");
  EXPECT_EQ(da["items"].size(), 1200u);
  EXPECT_EQ(da["items"][0]["ts"], "2026-11-20T18:00:00.000000Z");
  const auto db =
      get_json(*http, "/api/grid/data?device=latA-head&origin=sim:" + idb + "&limit=5000");
  EXPECT_EQ(db["items"].size(), 300u);
  // The tripped lateral's head carries no current while open.
  int zero = 0;
  for (const auto& s : da["items"]) zero += s["i"][0].get<double>() == 0;
  EXPECT_GE(zero, 25);
  EXPECT_LE(zero, 35);

  // Labels: the fault and the trip, per device, as intervals.
  const auto labels = get_json(*http, "/api/simulator/runs/" + ida + "/labels?device=latA1");
  bool fault = false;
  for (const auto& l : labels["items"]) fault |= l["event"] == "line_fault";
  EXPECT_TRUE(fault) << labels.dump();

  // The true bus voltages, a snapshot each simulated minute: 20 over the 20 minutes.
  const auto truth = get_json(*http, "/api/simulator/runs/" + ida + "/truth");
  ASSERT_EQ(truth["items"].size(), 20u) << truth.dump().substr(0, 300);
  for (const auto& snap : truth["items"]) {
    ASSERT_EQ(snap["buses"].size(), 33u);
    for (const auto& b : snap["buses"]) EXPECT_NEAR(b["vm_pu"].get<double>(), 1.0, 0.2);
  }
  EXPECT_EQ(http->get("/api/simulator/runs/nope/truth").status, 404);
  // Its state estimates, scored against that truth at each snapshot: within the reported
  // uncertainty (the meters and the twin's pseudo-measurements at that step).
  const auto score = get_json(*http, "/api/simulator/runs/" + ida + "/state-score?limit=5");
  ASSERT_EQ(score["snapshots"], 5) << score.dump().substr(0, 400);
  EXPECT_LT(score["rmse_vm_pu"].get<double>(), 0.005) << score.dump().substr(0, 400);
  EXPECT_GE(score["inside_3sigma"].get<double>(), 0.8) << score.dump().substr(0, 400);

  // A realtime run until stopped: progress and a clean stop.
  const auto c = post_json(*http, "/api/simulator/runs", {{"scenario", "peak_load"}}, 202);
  const std::string idc = c["id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const auto stopped =
      post_json(*http, "/api/simulator/runs/" + idc + "/stop", json::object(), 200);
  EXPECT_EQ(stopped["status"], "stopped");
  EXPECT_GE(stopped["steps"].get<int>(), 2);
  EXPECT_GT(latest_count(*http, "sim:" + idc), 0u);

  // Pin, list, delete: the deleted run's samples go, nothing else does.
  EXPECT_EQ(post_json(*http, "/api/simulator/runs/" + ida + "/pin", json::object(), 200)["pinned"],
            true);
  EXPECT_EQ(get_json(*http, "/api/simulator/active")["id"], ida);
  EXPECT_EQ(get_json(*http, "/api/simulator/runs")["items"].size(), 3u);
  EXPECT_EQ(http->request("DELETE", "/api/simulator/runs/" + idb).status, 204);
  EXPECT_EQ(latest_count(*http, "sim:" + idb), 0u);
  EXPECT_EQ(get_json(*http, "/api/grid/data?device=latA-head&origin=sim:" + idb)["items"].size(),
            0u);
  EXPECT_EQ(
      get_json(*http, "/api/grid/data?device=latA-head&origin=sim:" + ida + "&limit=5000")["items"]
          .size(),
      1200u);
  get_json(*http, "/api/simulator/runs/" + idb, 404);
  EXPECT_EQ(get_json(*http, "/api/simulator/runs/" + ida + "/truth")["items"].size(), 20u);
  EXPECT_EQ(http->request("DELETE", "/api/simulator/runs/" + idb).status, 404);

  // Bad requests name the field.
  const std::pair<json, std::string> bad[] = {
      {{{"scenario", "meteor"}}, "scenario"},
      {{{"mode", "backfill"}}, "scenario"},
      {{{"scenario", "normal_day"}, {"mode", "sometimes"}}, "mode"},
      {{{"scenario", "voltage_sag"}, {"params", {{"fault_impedance_ohm", -1}}}},
       "params.fault_impedance_ohm"},
      {{{"scenario", "voltage_sag"}, {"params", {{"bogus", 1}}}}, "params.bogus"},
      {{{"scenario", "normal_day"}, {"mode", "backfill"}, {"start", "2099-01-01T00:00:00Z"}},
       "start"},
      {{{"scenario", "normal_day"}, {"mode", "backfill"}, {"speed", 5}}, "speed"},
      {{{"scenario", "normal_day"}, {"step_s", 0}}, "step_s"},
      {{{"scenario", "normal_day"}, {"duration_s", "long"}}, "duration_s"},
      {{{"scenario", "normal_day"}, {"colour", "red"}}, "colour"},
      {{{"scenario", "custom"}, {"params", {{"events", {{{"type", "trip"}, {"at_s", 5}}}}}}},
       "params.events[0].branch"},
  };
  for (const auto& [body, field] : bad) {
    const auto r = post_json(*http, "/api/simulator/runs", body, 422);
    EXPECT_EQ(r["field"], field) << body.dump();
  }
  EXPECT_EQ(http->post("/api/simulator/runs", "{").status, 400);
}

TEST(Simulator, OriginalPathsLiveMessagesAndRestart) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"});
  auto http = admin_client(proc);
  const auto token = login(proc.port(), "admin", proc.admin_password());
  WsClient ws(proc.port(), "/ws/grid-data?token=" + token);
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // snapshot
  ws.send(R"({"type":"subscribe","types":["simulation"]})");
  ASSERT_TRUE(ws.read(std::chrono::seconds(10)));  // snapshot again

  const auto started = post_json(*http, "/api/simulator/run",
                                 {{"scenario_type", "frequency_drift"},
                                  {"mode", "accelerated"},
                                  {"speed", 20},
                                  {"duration_s", 60},
                                  {"parameters", {{"start_s", 10}}}},
                                 202);
  const std::string id = started["id"];
  bool saw_running = false, saw_completed = false;
  for (int k = 0; k < 100 && !saw_completed; ++k) {
    const auto m = ws.read(std::chrono::seconds(10));
    ASSERT_TRUE(m);
    const auto j = json::parse(*m);
    ASSERT_EQ(j["type"], "simulation") << *m;
    if (j["data"]["id"] != id) continue;
    saw_running |= j["data"]["status"] == "running";
    saw_completed |= j["data"]["status"] == "completed";
  }
  EXPECT_TRUE(saw_running);
  EXPECT_TRUE(saw_completed);
  const auto run = get_json(*http, "/api/simulator/" + id);
  EXPECT_EQ(run["scenario"], "frequency_excursion");
  EXPECT_EQ(run["status"], "completed");
  EXPECT_EQ(get_json(*http, "/api/simulator/list")["items"].size(), 1u);
  EXPECT_EQ(get_json(*http, "/api/simulator/templates/list")["items"].size(), 12u);
  EXPECT_EQ(post_json(*http, "/api/simulator/" + id + "/activate", json::object(), 200)["pinned"],
            true);

  // A realtime run cut off by a restart is reported stopped, its samples kept.
  const auto rt = post_json(*http, "/api/simulator/runs", {{"scenario", "normal_day"}}, 202);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  proc.kill9();
  proc.restart();
  http = admin_client(proc);
  const auto after = get_json(*http, "/api/simulator/runs/" + rt["id"].get<std::string>());
  EXPECT_EQ(after["status"], "stopped");
  EXPECT_EQ(get_json(*http, "/api/simulator/active")["id"], id);
}

// `remhart simulate` without --out: a run into the data directory that a server then shows;
// refused while a server holds the directory.
TEST(Simulator, CliRunIntoTheStore) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  auto run = [](const std::string& args) {
    auto r = run_cli("simulate " + args);
    return std::pair{r.status, r.output};
  };
  const auto [rc, out] =
      run("--scenario voltage_sag --duration 10m --step 1s --seed 4 --quiet "
          "--param start_s=60 --data-dir " +
          data);
  ASSERT_EQ(rc, 0) << out;
  const auto [bad_rc, bad_out] = run("--scenario voltage_sag --param bus=999 --data-dir " + data);
  EXPECT_EQ(bad_rc, 2);
  EXPECT_NE(bad_out.find("--param bus"), std::string::npos) << bad_out;

  ServerProcess proc(remhart_binary(), data, {"--no-demo"});
  auto http = admin_client(proc);
  const auto runs = get_json(*http, "/api/simulator/runs")["items"];
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "completed");
  EXPECT_EQ(runs[0]["created_by"], "cli");
  EXPECT_EQ(runs[0]["steps"], 600);
  const std::string origin = runs[0]["origin"];
  EXPECT_EQ(latest_count(*http, origin), 13u);
  const auto labels = get_json(*http, "/api/simulator/runs/" + runs[0]["id"].get<std::string>() +
                                          "/labels?device=fdr1-head");
  bool sag = false;
  for (const auto& l : labels["items"]) sag |= l["event"] == "voltage_sag";
  EXPECT_TRUE(sag);

  const auto [locked_rc, locked_out] = run("--duration 1m --data-dir " + data);
  EXPECT_EQ(locked_rc, 1);
  EXPECT_NE(locked_out.find("another remhart process"), std::string::npos) << locked_out;
}

// `simulator.max_runs` bounds the runs going at once; finished runs free their slot.
TEST(Simulator, RunsGoingAtOnceAreBounded) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"},
                     {{"REMHART_SIMULATOR_MAX_RUNS", "1"}});
  auto http = admin_client(proc);
  const auto live = post_json(*http, "/api/simulator/runs", {{"scenario", "normal_day"}}, 202);
  const auto refused = post_json(*http, "/api/simulator/runs", {{"scenario", "peak_load"}}, 409);
  EXPECT_EQ(refused["error"], "conflict");
  post_json(*http, "/api/simulator/runs/" + live["id"].get<std::string>() + "/stop", json::object(),
            200);
  for (int k = 0; k < 3; ++k) {  // each finishes on its own before the next starts
    const auto r =
        post_json(*http, "/api/simulator/runs",
                  {{"scenario", "normal_day"}, {"mode", "backfill"}, {"duration_s", 60}}, 202);
    EXPECT_EQ(wait_finished(*http, r["id"])["status"], "completed");
  }
}

// Found by attack: 4 backfill runs of 366 days grew the data directory by 23.5 MB/s towards
// ~70 GB on a 77 GB disk. Runs have a storage budget each and in total, refused up front.
TEST(Simulator, RunsAreHeldToTheirStorageBudgets) {
  TempDir dir;
  ServerProcess proc(
      remhart_binary(), dir.path() + "/data", {"--no-demo"},
      {{"REMHART_SIMULATOR_RUN_BUDGET_MB", "100"}, {"REMHART_SIMULATOR_TOTAL_BUDGET_MB", "150"}});
  auto http = admin_client(proc);
  auto backfill = [&](double days, double step_s = 1) {
    return http->post("/api/simulator/runs", json{{"scenario", "normal_day"},
                                                  {"mode", "backfill"},
                                                  {"start", "2025-01-01T00:00:00Z"},
                                                  {"duration_s", days * 86400},
                                                  {"step_s", step_s}}
                                                 .dump());
  };
  // One year at one sample a minute (~440 MB): over a run's budget, refused at once.
  auto r = backfill(366, 60);
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(json::parse(r.body)["field"], "duration_s") << r.body;
  // One day is about 72 MB: two fit the total of 150 MB, a third does not.
  r = backfill(1);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string first = json::parse(r.body)["id"];
  r = backfill(1);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string second = json::parse(r.body)["id"];
  r = backfill(1);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_NE(r.body.find("simulator.total_budget_mb"), std::string::npos) << r.body;
  // Deleting a run frees its share.
  EXPECT_EQ(http->request("DELETE", "/api/simulator/runs/" + first).status, 204);
  r = backfill(1);
  EXPECT_EQ(r.status, 202) << r.body;
  for (const auto& id : {second, std::string(json::parse(r.body)["id"])}) {
    http->request("DELETE", "/api/simulator/runs/" + id);
  }
}

// An open-ended realtime run stops when it reaches its budget.
TEST(Simulator, AnOpenEndedRunStopsAtItsBudget) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"},
                     {{"REMHART_SIMULATOR_RUN_BUDGET_MB", "1"}});
  auto http = admin_client(proc);
  const auto r =
      http->post("/api/simulator/runs",
                 json{{"scenario", "normal_day"}, {"mode", "realtime"}, {"step_s", 0.01}}.dump());
  ASSERT_EQ(r.status, 202) << r.body;
  const auto run = wait_finished(*http, json::parse(r.body)["id"]);
  EXPECT_EQ(run["status"], "stopped");
  EXPECT_NE(run["error"].get<std::string>().find("storage budget"), std::string::npos);
  // Stopped at the step that crossed 1 MiB at 64 bytes a sample (13 meters a step).
  EXPECT_LE(run["samples"].get<long>() * 64, (1 << 20) + 64 * 13);
  EXPECT_GT(run["samples"].get<long>() * 64, 1 << 20);
}
