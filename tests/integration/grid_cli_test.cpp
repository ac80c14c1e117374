// `remhart powerflow` as a standalone tool: text and JSON output, exit codes, refused files.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "shared_data.hpp"
#include "testkit.hpp"

using namespace remhart::testkit;

namespace {

int run(const std::string& args, std::string* out) {
  auto r = run_cli(args);
  *out = std::move(r.output);
  return r.status;
}

const char* kCase = R"(function mpc = two
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	1	3	0	0	0	0	1	1	0	11	1	1.1	0.9;
	2	1	80	30	0	0	1	1	0	11	1	1.1	0.9;
];
mpc.gen = [
	1	0	0	100	-100	1.0	100	1	200	0;
];
mpc.branch = [
	1	2	0	0.1	0	0	0	0	0	0	1;
];
)";

// A ring of three buses (loads at buses 2 and 3), as MATPOWER text.
std::string ring_case() {
  std::string c = kCase;
  c.replace(c.find("];\nmpc.gen"), 2, "\t3\t1\t40\t10\t0\t0\t1\t1\t0\t11\t1\t1.1\t0.95;\n];");
  c.replace(c.find("\t1\t2\t0\t0.1\t0\t0\t0\t0\t0\t0\t1;"), 0,
            "\t1\t3\t0\t0.2\t0\t50\t0\t0\t0\t0\t1;\n\t2\t3\t0\t0.2\t0\t50\t0\t0\t0\t0\t1;\n");
  return c;
}

}  // namespace

TEST(PowerflowCli, TextJsonAndExitCodes) {
  TempDir dir;
  const std::string file = dir.path() + "/two.m";
  std::ofstream(file) << kCase;
  std::string out;
  ASSERT_EQ(run("powerflow " + file, &out), 0) << out;
  EXPECT_NE(out.find("two: converged in"), std::string::npos) << out;
  EXPECT_NE(out.find("losses 0.000 MW"), std::string::npos) << out;
  ASSERT_EQ(run("powerflow --json " + file, &out), 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["converged"].get<bool>());
  ASSERT_EQ(j["buses"].size(), 2u);
  EXPECT_EQ(j["buses"][1]["id"], 2);
  EXPECT_NEAR(j["buses"][1]["vm_pu"].get<double>(), 0.96549, 1e-5);
  EXPECT_LT(j["max_mismatch"].get<double>(), 1e-8);
  ASSERT_EQ(run("powerflow --json --method fdxb " + file, &out), 0) << out;
  const auto fd = nlohmann::json::parse(out);
  EXPECT_EQ(fd["method"], "fdxb");
  EXPECT_NEAR(fd["buses"][1]["vm_pu"].get<double>(), 0.96549, 1e-5);

  // The JSON network format works too (exported by the server, see GridApi).
  std::ofstream(dir.path() + "/two.json")
      << R"({"format":"remhart-network","version":1,"base_mva":100,"buses":[{"id":1,"type":"ref"},)"
         R"({"id":2,"pd_mw":80,"qd_mvar":30}],"branches":[{"from":1,"to":2,"x_pu":0.1}],)"
         R"("generators":[{"bus":1}]})";
  ASSERT_EQ(run("powerflow --json " + dir.path() + "/two.json", &out), 0) << out;
  EXPECT_NEAR(nlohmann::json::parse(out)["buses"][1]["vm_pu"].get<double>(), 0.96549, 1e-5);
  std::ofstream(dir.path() + "/bad.json")
      << R"({"format":"remhart-network","version":1,"buses":[{"id":"x"}]})";
  EXPECT_EQ(run("powerflow " + dir.path() + "/bad.json", &out), 1);
  EXPECT_NE(out.find("buses[0].id"), std::string::npos) << out;

  // Refused input: the message names the file and line; exit 1. Usage errors: exit 2.
  std::string bad = kCase;
  bad.replace(bad.find("0.1\t0"), 3, "x.y");
  std::ofstream(dir.path() + "/bad.m") << bad;
  EXPECT_EQ(run("powerflow " + dir.path() + "/bad.m", &out), 1);
  EXPECT_NE(out.find("bad.m:12:"), std::string::npos) << out;
  EXPECT_EQ(run("powerflow " + dir.path() + "/missing.m", &out), 1);
  EXPECT_EQ(run("powerflow", &out), 2);
  EXPECT_EQ(run("powerflow --method bogus " + file, &out), 2);
  EXPECT_EQ(run("powerflow --start flat " + file, &out), 2);
  EXPECT_NE(out.find("--start must be auto"), std::string::npos) << out;
  for (const char* start : {"case", "dc"}) {
    ASSERT_EQ(run(std::string("powerflow --json --start ") + start + " " + file, &out), 0) << out;
    EXPECT_NEAR(nlohmann::json::parse(out)["buses"][1]["vm_pu"].get<double>(), 0.96549, 1e-5);
  }
  // An overloaded case does not converge: a result, exit 1, no crash.
  std::string heavy = kCase;
  heavy.replace(heavy.find("80\t30"), 5, "900\t30");
  std::ofstream(dir.path() + "/heavy.m") << heavy;
  EXPECT_EQ(run("powerflow --json " + dir.path() + "/heavy.m", &out), 1);
  EXPECT_FALSE(nlohmann::json::parse(out)["converged"].get<bool>());
}

// The grid-model API on the real server: upload, read back, power flow with what-if changes,
// N-1, persistence across a restart, and refused input.
TEST(GridApi, UploadSolveWhatIfContingencyAndRestart) {
  TempDir dir;
  const std::string pw = random_password();
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"},
                     {{"REMHART_ADMIN_PASSWORD", pw}});
  auto admin = admin_client(proc);
  // A fresh install has a model: the twin's network, registered at first start.
  const auto first = nlohmann::json::parse(admin->get("/api/grid/networks").body);
  ASSERT_EQ(first["items"].size(), 1u);
  EXPECT_EQ(first["items"][0]["uploaded_by"], "first start");
  EXPECT_EQ(nlohmann::json::parse(admin->get("/api/grid/network").body)["buses"].size(), 33u);
  // A ring of three buses feeding a load at bus 3, written as MATPOWER.
  const std::string ring =
      std::string(kCase).replace(std::string(kCase).find("];\nmpc.gen"), 2,
                                 "\t3\t1\t40\t10\t0\t0\t1\t1\t0\t11\t1\t1.1\t0.95;\n];");
  std::string c = ring;
  c.replace(c.find("\t1\t2\t0\t0.1\t0\t0\t0\t0\t0\t0\t1;"), 0,
            "\t1\t3\t0\t0.2\t0\t50\t0\t0\t0\t0\t1;\n\t2\t3\t0\t0.2\t0\t50\t0\t0\t0\t0\t1;\n");
  auto r = admin->post("/api/grid/networks?name=ring", c, "text/plain");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["buses"], 3);
  const auto doc = admin->get("/api/grid/network");
  ASSERT_EQ(doc.status, 200);
  const auto net = nlohmann::json::parse(doc.body);
  EXPECT_EQ(net["format"], "remhart-network");
  EXPECT_EQ(net["branches"].size(), 3u);

  r = admin->post("/api/grid/powerflow", "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto pf = nlohmann::json::parse(r.body);
  ASSERT_TRUE(pf["converged"].get<bool>());
  EXPECT_EQ(pf["network_id"], nlohmann::json::parse(doc.headers.at("x-network-id")));
  const double v3 = pf["buses"][2]["vm_pu"].get<double>();
  // Heavier load: lower voltage at bus 3; the balance holds.
  r = admin->post("/api/grid/powerflow",
                  R"({"changes":[{"type":"scale_load","factor":1.5}],"method":"fdxb"})");
  pf = nlohmann::json::parse(r.body);
  ASSERT_TRUE(pf["converged"].get<bool>()) << r.body;
  EXPECT_LT(pf["buses"][2]["vm_pu"].get<double>(), v3);
  EXPECT_NEAR(pf["generators"][0]["pg_mw"].get<double>(), 1.5 * 120 + pf["losses_mw"].get<double>(),
              1e-6);
  // Distributed slack: with one generator it takes the whole balance, reported as slack_mw.
  r = admin->post("/api/grid/powerflow", R"({"slack":"distributed","enforce_q_limits":true})");
  pf = nlohmann::json::parse(r.body);
  ASSERT_TRUE(pf["converged"].get<bool>()) << r.body;
  EXPECT_NEAR(pf["slack_mw"].get<double>(), 120 + pf["losses_mw"].get<double>(), 1e-6);
  EXPECT_EQ(admin->post("/api/grid/powerflow", R"({"slack":"both"})").status, 422);
  // Either start reaches the same solution; anything else is refused, naming the field.
  for (const char* start : {"case", "dc", "auto"}) {
    r = admin->post("/api/grid/powerflow", std::string(R"({"start":")") + start + "\"}");
    pf = nlohmann::json::parse(r.body);
    ASSERT_TRUE(pf["converged"].get<bool>()) << r.body;
    EXPECT_NEAR(pf["buses"][2]["vm_pu"].get<double>(), v3, 1e-8) << start;
  }
  for (const char* bad : {R"({"start":"flat"})", R"({"start":1})"}) {
    r = admin->post("/api/grid/powerflow", bad);
    EXPECT_EQ(r.status, 422) << bad;
    EXPECT_EQ(nlohmann::json::parse(r.body)["field"], "start") << r.body;
  }
  // An outage that islands bus 2 cannot be solved: refused, naming the changes.
  r = admin->post(
      "/api/grid/powerflow",
      R"({"changes":[{"type":"outage","branch":{"from":1,"to":2}},{"type":"outage","branch":1}]})");
  EXPECT_EQ(r.status, 422) << r.body;
  r = admin->post("/api/grid/powerflow", R"({"changes":[{"type":"scale_load"}]})");
  EXPECT_EQ(r.status, 422);
  EXPECT_EQ(nlohmann::json::parse(r.body)["field"], "changes[0].factor");
  r = admin->post("/api/grid/powerflow", R"({"changes":[{"type":"outage","branch":99}]})");
  EXPECT_EQ(nlohmann::json::parse(r.body)["field"], "changes[0].branch");

  r = admin->post("/api/grid/contingency", R"({"loading_limit":1.0})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto n1 = nlohmann::json::parse(r.body);
  ASSERT_EQ(n1["outages"].size(), 3u);
  EXPECT_EQ(n1["network_id"], pf["network_id"]);
  for (const auto& o : n1["outages"]) EXPECT_FALSE(o["islanded"].get<bool>());  // a ring
  // Losing 1–3 leaves bus 3 on the long way round: under its 0.95 p.u. limit.
  const auto& v = n1["outages"][0]["violations"];
  ASSERT_EQ(v.size(), 1u) << r.body;
  EXPECT_EQ(v[0]["kind"], "voltage_low");
  EXPECT_EQ(v[0]["bus"], 3);
  // Losing 1–2 sends 120 MW through 0.4 p.u. of reactance: no operating point (voltage
  // collapse), reported as a result.
  EXPECT_FALSE(n1["outages"][2]["converged"].get<bool>());
  EXPECT_FALSE(n1["outages"][2]["message"].get<std::string>().empty());

  // Refused uploads: the line is named.
  r = admin->post("/api/grid/networks",
                  "mpc.version = '2';\nmpc.baseMVA = 100;\nmpc.bus = [\n 1 3 x;\n];", "text/plain");
  EXPECT_EQ(r.status, 422);
  EXPECT_NE(r.body.find("upload:4:"), std::string::npos) << r.body;
  r = admin->post(
      "/api/grid/networks",
      R"({"format":"remhart-network","version":1,"buses":[],"branches":[],"generators":[]})");
  EXPECT_EQ(r.status, 422);

  // The active model survives a restart.
  proc.restart();
  admin = admin_client(proc);
  EXPECT_EQ(admin->get("/api/grid/network").body, doc.body);
  const auto list = nlohmann::json::parse(admin->get("/api/grid/networks").body);
  ASSERT_EQ(list["items"].size(), 2u);  // the first start's, and the upload (newest first)
  EXPECT_EQ(list["items"][0]["name"], "ring");
  EXPECT_TRUE(list["items"][0]["active"].get<bool>());
  EXPECT_FALSE(list["items"][1]["active"].get<bool>());
}

// GET /api/grid/state: the latest samples of devices placed on the model (bus meters and branch
// meters) are turned into measurements and estimated; noise-free samples give back the
// power-flow state.
TEST(GridApi, StateEstimateFromLiveDeviceSamples) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"});
  auto admin = admin_client(proc);
  ASSERT_EQ(admin->post("/api/grid/networks?name=ring", ring_case(), "text/plain").status, 201);
  const auto truth = nlohmann::json::parse(admin->post("/api/grid/powerflow", "{}").body);
  ASSERT_TRUE(truth["converged"].get<bool>());
  const double nominal = 11000 / std::sqrt(3.0);
  auto device = [&](const std::string& id, const std::string& element) {
    const auto r = admin->post("/api/grid/devices", nlohmann::json{{"id", id},
                                                                   {"element", element},
                                                                   {"nominal_voltage", nominal},
                                                                   {"rated_current", 20000}}
                                                        .dump());
    ASSERT_EQ(r.status, 201) << r.body;
  };
  const long long ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count() -
                       10'000;
  // One sample: |V| on all phases, P and Q (MW, Mvar) split evenly.
  auto sample = [&](const std::string& id, double vm, double p_mw, double q_mvar) {
    const double v = vm * nominal, p = p_mw * 1e6 / 3, q = q_mvar * 1e6 / 3;
    const double i = std::hypot(p, q) / v;
    return nlohmann::json{{"device", id},   {"ts", ts},       {"v", {v, v, v}}, {"i", {i, i, i}},
                          {"p", {p, p, p}}, {"q", {q, q, q}}, {"f", 50.0}};
  };
  // Bus meters: power drawn at the bus (load − generation).
  const double pg = truth["generators"][0]["pg_mw"], qg = truth["generators"][0]["qg_mvar"];
  const double drawn_p[] = {-pg, 80, 40}, drawn_q[] = {-qg, 30, 10};
  nlohmann::json batch = nlohmann::json::array();
  for (int b = 0; b < 3; ++b) {
    const std::string id = "bus-" + std::to_string(b + 1);
    device(id, "bus:" + std::to_string(b + 1));
    batch.push_back(sample(id, truth["buses"][b]["vm_pu"], drawn_p[b], drawn_q[b]));
  }
  // Branch meters at the from end.
  for (const auto& br : truth["branches"]) {
    const std::string id = "line-" + std::to_string(br["index"].get<int>());
    device(id, "branch:" + std::to_string(br["from"].get<int>()) + "-" +
                   std::to_string(br["to"].get<int>()) + ":from");
    const int from = br["from"].get<int>() - 1;
    batch.push_back(sample(id, truth["buses"][from]["vm_pu"], br["p_from_mw"], br["q_from_mvar"]));
  }
  auto r = admin->post("/api/grid/ingest", batch.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(nlohmann::json::parse(r.body)["accepted"], 6) << r.body;

  r = admin->get("/api/grid/state");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto st = nlohmann::json::parse(r.body);
  EXPECT_TRUE(st["converged"].get<bool>());
  EXPECT_EQ(st["devices"], 6);
  EXPECT_EQ(st["measurements"], 18);
  for (int b = 0; b < 3; ++b) {
    EXPECT_NEAR(st["buses"][b]["vm_pu"].get<double>(), truth["buses"][b]["vm_pu"].get<double>(),
                1e-6);
    EXPECT_NEAR(st["buses"][b]["va_deg"].get<double>(), truth["buses"][b]["va_deg"].get<double>(),
                1e-4);
  }
  EXPECT_FALSE(st["bad_data_detected"].get<bool>());
  // The losses at the estimated voltages are the power flow's.
  EXPECT_NEAR(st["losses_mw"].get<double>(), truth["losses_mw"].get<double>(), 1e-4);

  // A window that excludes every sample leaves nothing to estimate from.
  r = admin->get("/api/grid/state?max_age_s=1");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(nlohmann::json::parse(r.body)["field"], "measurements");
  EXPECT_EQ(admin->get("/api/grid/state?origin=bogus").status, 400);
}

// `remhart simulate --out`: labelled samples in CSV and NDJSON, the same for the same seed,
// and option errors naming the option.
TEST(SimulateCli, WritesLabelledSamplesAndNamesBadOptions) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("remhart-sim-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string out;
  const auto csv = (dir / "lf.csv").string();
  ASSERT_EQ(run("simulate --scenario fault --duration 2m --step 1s --seed 5 --quiet "
                "--start 2026-11-28T18:00:00Z --param start_s=30 --param permanent=false --out " +
                    csv,
                &out),
            0)
      << out;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line.substr(0, 18), "device,ts,va,vb,vc");
  EXPECT_NE(line.find("event,severity,data_fault"), std::string::npos);
  std::size_t rows = 0, fault_rows = 0;
  std::set<std::string> devices;
  while (std::getline(in, line)) {
    ++rows;
    devices.insert(line.substr(0, line.find(',')));
    if (line.find(",line_fault,") != std::string::npos) ++fault_rows;
  }
  EXPECT_EQ(devices.size(), 13u);
  EXPECT_GT(rows, 120u * 12);
  EXPECT_LT(rows, 120u * 13);  // meters below the open breaker stop reporting
  EXPECT_GT(fault_rows, 10u);

  const auto a = (dir / "a.ndjson").string(), b = (dir / "b.ndjson").string();
  ASSERT_EQ(run("simulate --duration 30s --seed 9 --quiet --start 1781524800000 --out " + a, &out),
            0);
  ASSERT_EQ(run("simulate --duration 30s --seed 9 --quiet --start 1781524800000 --out " + b, &out),
            0);
  std::ifstream fa(a), fb(b);
  std::stringstream sa, sb;
  sa << fa.rdbuf();
  sb << fb.rdbuf();
  EXPECT_EQ(sa.str(), sb.str());
  std::istringstream lines(sa.str());
  ASSERT_TRUE(std::getline(lines, line));
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["ts"], "2026-06-15T12:00:00.000000Z");
  EXPECT_EQ(j["v"].size(), 3u);
  EXPECT_EQ(j["label"]["event"], "none");

  // A custom current ramp spans the run given on the command line (not a day).
  const auto ramp = (dir / "ramp.csv").string();
  ASSERT_EQ(run("simulate --scenario custom --param current_pattern=increasing --param "
                "current_min=10 --param current_max=50 --duration 10m --step 10s --quiet "
                "--start 2026-01-14T18:00:00Z --out " +
                    ramp,
                &out),
            0)
      << out;
  std::vector<double> head_current;
  std::ifstream ramp_in(ramp);
  std::getline(ramp_in, line);
  while (std::getline(ramp_in, line)) {
    if (!line.starts_with("fdr1-head,")) continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    for (std::string c; std::getline(ss, c, ',');) cols.push_back(c);
    head_current.push_back(std::stod(cols[5]));  // ia
  }
  ASSERT_GE(head_current.size(), 50u);
  EXPECT_GT(head_current.back() / head_current.front(), 4.0);

  EXPECT_EQ(run("simulate --scenario meteor --out " + a, &out), 2);
  EXPECT_NE(out.find("--scenario"), std::string::npos) << out;
  EXPECT_EQ(run("simulate --scenario voltage_sag --param fault_impedance_ohm=-1 --out " + a, &out),
            2);
  EXPECT_NE(out.find("--param fault_impedance_ohm"), std::string::npos) << out;
  EXPECT_EQ(run("simulate --duration soon --out " + a, &out), 2);
  EXPECT_NE(out.find("--duration"), std::string::npos) << out;
  EXPECT_EQ(run("simulate --out " + (dir / "x.txt").string(), &out), 2);
  EXPECT_NE(out.find("--out"), std::string::npos) << out;
  EXPECT_EQ(run("simulate --twin /nonexistent.json --out " + a, &out), 1);
  EXPECT_NE(out.find("/nonexistent.json"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

// Found by attack: every uploaded version was kept (52 MB each for a 15.6 MB upload). Only the
// newest `grid.keep_network_versions` stay; uploads are bounded by the body limit.
TEST(GridApi, OnlyTheNewestNetworkVersionsAreKept) {
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"},
                     {{"REMHART_GRID_KEEP_NETWORK_VERSIONS", "3"}});
  auto admin = admin_client(proc);
  for (int k = 0; k < 5; ++k) {
    ASSERT_EQ(
        admin->post("/api/grid/networks?name=ring" + std::to_string(k), ring_case(), "text/plain")
            .status,
        201);
  }
  const auto list = nlohmann::json::parse(admin->get("/api/grid/networks").body);
  ASSERT_EQ(list["items"].size(), 3u);
  EXPECT_EQ(list["items"][0]["name"], "ring4");
  EXPECT_TRUE(list["items"][0]["active"].get<bool>());
  EXPECT_EQ(list["items"][2]["name"], "ring2");
  // Nesting is bounded before a tree is built.
  std::string deep(100, '[');
  const auto r = admin->post("/api/grid/networks", "{\"buses\":" + deep + "}");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("nested too deeply"), std::string::npos) << r.body;
}

namespace {
std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

// Found by attack: two N-1 studies of case9241pegase by an analyst (> 75 s each on the two shared
// job threads, running on after the client left) made a viewer's 3 ms query and a login time out.
// Studies have their own pool, a per-user limit, a time budget, and stop when the client leaves.
TEST(GridApi, LongStudiesNeverDelayReadsOrLoginsAndStopWhenTheirClientLeaves) {
  const auto mfile = matpower_dir() / "case2869pegase.m";
  REMHART_REQUIRE_SHARED(mfile);
  TempDir dir;
  ServerProcess proc(remhart_binary(), dir.path() + "/data", {"--no-demo"},
                     {{"REMHART_LIMITS_STUDY_SECONDS", "4"}});
  auto admin = admin_client(proc);
  ASSERT_EQ(admin->post("/api/grid/networks?name=pegase", read_text(mfile), "text/plain").status,
            201);
  const auto pw = random_password();
  ASSERT_EQ(
      admin
          ->post("/api/users",
                 nlohmann::json{{"username", "ana"}, {"password", pw}, {"role", "analyst"}}.dump())
          .status,
      201);
  const auto token = login(proc.port(), "ana", pw);
  auto as_ana = [&] {
    auto c = std::make_unique<HttpClient>(proc.port());
    c->set_header("Authorization", "Bearer " + token);
    return c;
  };

  // Two studies at once: the per-user limit (2) admits them, a third waits its turn as 429.
  std::vector<std::thread> studies;
  std::vector<HttpResult> results(2);
  std::vector<double> seconds(2);
  for (int k = 0; k < 2; ++k) {
    studies.emplace_back([&, k] {
      const auto t0 = std::chrono::steady_clock::now();
      results[k] = as_ana()->post("/api/grid/contingency", "{}");
      seconds[k] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(as_ana()->post("/api/grid/contingency", "{}").status, 429);
  // Reads and logins meanwhile answer at once.
  for (int k = 0; k < 5; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(admin->get("/api/grid/devices").status, 200);
    EXPECT_NO_THROW(login(proc.port(), "ana", pw));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  }
  for (auto& t : studies) t.join();
  for (int k = 0; k < 2; ++k) {
    ASSERT_EQ(results[k].status, 200) << results[k].body;
    const auto j = nlohmann::json::parse(results[k].body);
    EXPECT_FALSE(j["complete"].get<bool>());  // stopped by the 4 s budget
    EXPECT_EQ(j["stopped"], "the time budget was spent");
    EXPECT_LT(seconds[k], 12.0);  // the second waited for the one study thread
  }

  // A client that leaves: its study stops, and its slot is free again at once.
  for (int k = 0; k < 2; ++k) {
    HttpClient gone(proc.port());
    const std::string body = "{}";
    gone.raw("POST /api/grid/contingency HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                 "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n" + body,
             std::chrono::milliseconds(300));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = as_ana()->post("/api/grid/contingency", R"({"branches":[{"from":1,"to":2}]})");
  EXPECT_NE(r.status, 429) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}
