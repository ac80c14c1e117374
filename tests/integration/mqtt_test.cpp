// MQTT ingestion against a real broker (a private Mosquitto): meters publish on
// remhart/<site>/<device>/measurement at QoS 1, the server stores their samples through the same
// pipeline as HTTP and acknowledges each message after its commit; refused messages go to the
// dead-letter topic; a message published while the server is down arrives when it is back (its
// persistent session).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "shared_data.hpp"
#include "testkit.hpp"

namespace remhart::testkit {
namespace {

using nlohmann::json;

std::size_t stored(HttpClient& http, const std::string& device) {
  return json::parse(http.get("/api/grid/data?device=" + device + "&limit=1000").body)["items"]
      .size();
}

TEST(Mqtt, MessagesAreStoredThenAcknowledgedAndRefusedOnesDeadLettered) {
  REQUIRE_SERVICE(MosquittoBroker, "mosquitto");
  MosquittoBroker broker;
  TempDir dir;
  ServerProcess server(
      remhart_binary(), dir.path() + "/data", {"--no-demo", "--mqtt-url", broker.url()},
      {{"REMHART_ANALYTICS_ENABLED", "false"}, {"REMHART_MQTT_CLIENT_ID", "remhart-test"}});
  auto http = admin_client(server);
  ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m1","site":"north"})").status, 201);
  ASSERT_TRUE(eventually([&] { return metric(*http, "remhart_mqtt_connected") == 1; }))
      << server.output();
  MosquittoBroker::Subscription dead(broker, "remhart/dead-letter");

  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() -
                   60'000;
  // One sample, then an array of two.
  ASSERT_TRUE(broker.publish("remhart/north/m1/measurement", sample_json("m1", now)));
  ASSERT_TRUE(broker.publish(
      "remhart/north/m1/measurement",
      "[" + sample_json("m1", now + 1000) + "," + sample_json("m1", now + 2000) + "]"));
  EXPECT_TRUE(eventually([&] { return stored(*http, "m1") == 3; })) << stored(*http, "m1");

  // Refused, each for its reason: not JSON, another device's sample on this device's topic, a
  // voltage the validator refuses (the whole message: stored atomically), a topic that is not a
  // measurement topic's shape (no device level).
  ASSERT_TRUE(broker.publish("remhart/north/m1/measurement", "{\"device\":"));
  ASSERT_TRUE(broker.publish("remhart/north/m1/measurement", sample_json("m2", now + 3000)));
  ASSERT_TRUE(broker.publish(
      "remhart/north/m1/measurement",
      "[" + sample_json("m1", now + 4000) + "," + sample_json("m1", now + 5000, -5) + "]"));
  ASSERT_TRUE(eventually([&] { return dead.received().size() == 3; }))
      << dead.received().size() << "\n"
      << server.output();
  const auto letters = dead.received();
  EXPECT_NE(letters[0].find("payload: "), std::string::npos) << letters[0];
  EXPECT_NE(letters[1].find("a sample of device m2 on the topic of m1"), std::string::npos)
      << letters[1];
  EXPECT_NE(letters[2].find("\"topic\":\"remhart/north/m1/measurement\""), std::string::npos)
      << letters[2];
  EXPECT_EQ(json::parse(letters[2])["payload"].get<std::string>().substr(0, 1), "[");
  EXPECT_EQ(stored(*http, "m1"), 3u);  // nothing of the refused ones
  EXPECT_EQ(metric(*http, "remhart_mqtt_stored_total"), 2);
  EXPECT_EQ(metric(*http, "remhart_mqtt_refused_total"), 3);

  // Published while the server is down: the broker keeps them for its session.
  ASSERT_EQ(server.terminate(), 0);
  ASSERT_TRUE(broker.publish("remhart/north/m1/measurement", sample_json("m1", now + 6000)));
  ASSERT_TRUE(broker.publish("remhart/north/m1/measurement", sample_json("m1", now + 7000)));
  server.restart();
  http = admin_client(server);
  EXPECT_TRUE(eventually([&] { return stored(*http, "m1") == 5; })) << stored(*http, "m1");
  EXPECT_EQ(metric(*http, "remhart_mqtt_stored_total"), 2);  // this process: the two it missed
}

// Acknowledged only once durable: with the disk full, a message is not stored and not
// acknowledged but tried again; once space is freed it is stored — every message exactly once.
TEST(Mqtt, AMessageTheStoreCannotTakeIsKeptAndStoredLater) {
  REQUIRE_SERVICE(MosquittoBroker, "mosquitto");
  SmallDisk disk(24);
  if (!disk.mounted()) GTEST_SKIP() << "mounting a tmpfs needs root";
  MosquittoBroker broker;
  ServerProcess server(remhart_binary(), disk.path() + "/data",
                       {"--no-demo", "--mqtt-url", broker.url()},
                       {{"REMHART_ANALYTICS_ENABLED", "false"}});
  auto http = admin_client(server);
  ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m1"})").status, 201);
  ASSERT_TRUE(eventually([&] { return metric(*http, "remhart_mqtt_connected") == 1; }));
  const auto t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count() -
                  86'400'000;
  const auto message = [&](int k) {  // 1,000 samples a message, one a second
    std::string out = "[";
    for (int s = 0; s < 1000; ++s)
      out += (s ? "," : "") + sample_json("m1", t0 + (k * 1000LL + s) * 1000);
    return out + "]";
  };
  disk.fill();
  int sent = 0;
  while (sent < 50 && metric(*http, "remhart_mqtt_retried_total") < 1) {
    ASSERT_TRUE(broker.publish("remhart/site/m1/measurement", message(sent++)));
    eventually([&] {
      return metric(*http, "remhart_mqtt_stored_total") +
                 metric(*http, "remhart_mqtt_retried_total") >=
             sent;
    });
  }
  ASSERT_GE(metric(*http, "remhart_mqtt_retried_total"), 1) << server.output();
  const auto stored_while_full = metric(*http, "remhart_mqtt_stored_total");
  EXPECT_LT(stored_while_full, sent);
  disk.free_space();
  EXPECT_TRUE(eventually([&] { return metric(*http, "remhart_mqtt_stored_total") == sent; }))
      << metric(*http, "remhart_mqtt_stored_total") << " of " << sent;
  for (int k = 0; k < sent; ++k) {  // each message's samples, exactly once
    const auto from = t0 + k * 1'000'000LL;
    const auto items =
        json::parse(http->get("/api/grid/data?device=m1&limit=10000&from=" + std::to_string(from) +
                              "&to=" + std::to_string(from + 1'000'000))
                        .body)["items"];
    EXPECT_EQ(items.size(), 1000u) << "message " << k;
  }
  EXPECT_EQ(metric(*http, "remhart_mqtt_refused_total"), 0);
}

// Device keys as broker credentials: `remhart device-key export-mosquitto` writes a password file
// and ACL that a real Mosquitto enforces — a key publishes its device's (or site's) measurement
// topics and nothing else, a wrong key is not let in, remhart's own account reads them all.
TEST(Mqtt, ExportedDeviceKeysPublishOnlyTheirOwnTopics) {
  REQUIRE_SERVICE(MosquittoBroker, "mosquitto");
  TempDir dir;
  const auto data = " --data-dir " + dir.path() + "/data";
  const auto key = [&](const std::string& scope) {
    const auto r = run_cli("device-key create --name k --json " + scope + data);
    EXPECT_EQ(r.status, 0) << r.output;
    const auto j = json::parse(r.output);
    return MosquittoBroker::Login{j["id"].get<std::string>(), j["key"].get<std::string>()};
  };
  const auto meter = key("--device m1");
  const auto site = key("--site south");
  const auto revoked = key("--device m3");
  ASSERT_EQ(run_cli("device-key revoke " + revoked.user + data).status, 0);
  const auto passwords = dir.path() + "/passwd", acl = dir.path() + "/acl";
  const auto r =
      run_cli("device-key export-mosquitto --passwords " + passwords + " --acl " + acl + data,
              {{"REMHART_MQTT_USERNAME", "remhart"}});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("exported 2 device key(s)"), std::string::npos) << r.output;
  EXPECT_EQ(std::filesystem::status(passwords).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // The server's own account: its password is the operator's, added with Mosquitto's tool.
  const MosquittoBroker::Login server{"remhart", random_password()};
  ASSERT_EQ(run_command("mosquitto_passwd -b " + passwords + " remhart " + server.password).status,
            0);
  MosquittoBroker broker("allow_anonymous false\npassword_file " + passwords + "\nacl_file " + acl +
                         "\n");
  MosquittoBroker::Subscription all(broker, "remhart/+/+/measurement", server);
  EXPECT_TRUE(broker.publish("remhart/north/m1/measurement", "own device", meter));
  EXPECT_TRUE(broker.publish("remhart/north/m2/measurement", "another device", meter));
  EXPECT_TRUE(broker.publish("remhart/south/m9/measurement", "own site", site));
  EXPECT_TRUE(broker.publish("remhart/north/m9/measurement", "another site", site));
  EXPECT_FALSE(broker.publish("remhart/north/m3/measurement", "revoked", revoked));
  EXPECT_FALSE(broker.publish("remhart/north/m1/measurement", "wrong key",
                              MosquittoBroker::Login{meter.user, meter.password + "x"}));
  EXPECT_TRUE(broker.publish("remhart/north/m1/measurement", "last", meter));
  ASSERT_TRUE(eventually([&] { return all.received().size() >= 3; }));
  EXPECT_EQ(all.received(), (std::vector<std::string>{"own device", "own site", "last"}));
}

// mqtts://: the broker's certificate verified against the configured CA (here its own
// self-signed one); without that CA the handshake fails and nothing is ingested.
TEST(Mqtt, OverTlsTheBrokerIsVerified) {
  REQUIRE_SERVICE(MosquittoBroker, "mosquitto");
  MosquittoBroker broker("allow_anonymous true\n", true);
  ASSERT_EQ(broker.url().substr(0, 8), "mqtts://");
  TempDir dir;
  ServerProcess server(
      remhart_binary(), dir.path() + "/data", {"--no-demo", "--mqtt-url", broker.url()},
      {{"REMHART_ANALYTICS_ENABLED", "false"}, {"REMHART_MQTT_CA_FILE", broker.ca_file()}});
  auto http = admin_client(server);
  ASSERT_EQ(http->post("/api/grid/devices", R"({"id":"m1"})").status, 201);
  ASSERT_TRUE(eventually([&] { return metric(*http, "remhart_mqtt_connected") == 1; }))
      << server.output();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  ASSERT_TRUE(broker.publish("remhart/s/m1/measurement", sample_json("m1", now - 1000)));
  EXPECT_TRUE(eventually([&] { return stored(*http, "m1") == 1; }));

  TempDir other;  // the system's CAs do not know the broker's certificate
  ServerProcess untrusting(remhart_binary(), other.path() + "/data",
                           {"--no-demo", "--mqtt-url", broker.url()},
                           {{"REMHART_ANALYTICS_ENABLED", "false"}});
  auto http2 = admin_client(untrusting);
  EXPECT_TRUE(
      eventually([&] { return metric(*http2, "remhart_mqtt_connection_failures_total") >= 1; }));
  EXPECT_EQ(metric(*http2, "remhart_mqtt_connected"), 0);
  EXPECT_NE(untrusting.output().find("TLS handshake"), std::string::npos) << untrusting.output();

  // A CA file that cannot be used stops the start and is named.
  TempDir third;
  const auto bad =
      run_cli("serve --port 0 --no-demo --data-dir " + third.path() + " --mqtt-url " + broker.url(),
              {{"REMHART_MQTT_CA_FILE", third.path() + "/missing.pem"}});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("mqtt.ca_file: cannot use"), std::string::npos) << bad.output;
}

// A broker that asks for client certificates: with mqtt.cert_file and mqtt.key_file the server
// gets in, without them it does not.
TEST(Mqtt, ClientCertificatesWhereTheBrokerAsksForThem) {
  REQUIRE_SERVICE(MosquittoBroker, "mosquitto");
  TempDir certs;
  write_self_signed_cert(certs.path());  // the broker's CA: it signed (is) the client's cert
  MosquittoBroker broker(
      "allow_anonymous true\nrequire_certificate true\ncafile " + certs.path() + "/cert.pem\n",
      true);
  const auto start = [&](const TempDir& dir, bool with_cert) {
    std::map<std::string, std::string> env = {{"REMHART_ANALYTICS_ENABLED", "false"},
                                              {"REMHART_MQTT_CA_FILE", broker.ca_file()}};
    if (with_cert) {
      env["REMHART_MQTT_CERT_FILE"] = certs.path() + "/cert.pem";
      env["REMHART_MQTT_KEY_FILE"] = certs.path() + "/key.pem";
    }
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data",
        std::vector<std::string>{"--no-demo", "--mqtt-url", broker.url()}, env);
  };
  TempDir a, b;
  auto with = start(a, true);
  auto http = admin_client(*with);
  EXPECT_TRUE(eventually([&] { return metric(*http, "remhart_mqtt_connected") == 1; }))
      << with->output();
  auto without = start(b, false);
  auto http2 = admin_client(*without);
  EXPECT_TRUE(
      eventually([&] { return metric(*http2, "remhart_mqtt_connection_failures_total") >= 1; }));
  EXPECT_EQ(metric(*http2, "remhart_mqtt_connected"), 0);
}

// A broker that goes away and comes back: the server reconnects (with backoff) and ingests again,
// and says so in its metrics meanwhile; it never stops serving HTTP.
TEST(Mqtt, TheServerOutlivesTheBroker) {
  REQUIRE_SERVICE(MosquittoBroker, "mosquitto");
  TempDir dir;
  auto broker = std::make_unique<MosquittoBroker>();
  ServerProcess server(remhart_binary(), dir.path() + "/data",
                       {"--no-demo", "--mqtt-url", broker->url()},
                       {{"REMHART_ANALYTICS_ENABLED", "false"}});
  auto http = admin_client(server);
  ASSERT_TRUE(eventually([&] { return metric(*http, "remhart_mqtt_connected") == 1; }));
  EXPECT_EQ(json::parse(http->get("/health").body)["mqtt"], "connected");
  // (Only "mqtt" is looked at: "disk" may be listed too on a nearly full test machine.)
  const auto has_mqtt = [](const json& degraded) {
    return std::find(degraded.begin(), degraded.end(), "mqtt") != degraded.end();
  };
  EXPECT_FALSE(has_mqtt(json::parse(http->get("/ready").body)["degraded"]));
  broker.reset();  // gone
  EXPECT_TRUE(eventually([&] { return metric(*http, "remhart_mqtt_connected") == 0; }));
  const auto health = http->get("/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body)["mqtt"], "disconnected");
  const auto ready = http->get("/ready");
  EXPECT_EQ(ready.status, 200);  // HTTP ingestion still works
  EXPECT_TRUE(has_mqtt(json::parse(ready.body)["degraded"])) << ready.body;
  EXPECT_GE(metric(*http, "remhart_mqtt_connection_failures_total"), 1);
}

}  // namespace
// Two replicas on one MariaDB database share the subscription ($share/remhart/…): the broker
// gives each message to one of them, each is stored once; a replica killed mid-stream gets what
// it had not acknowledged when it is back (its persistent session), and nothing is stored twice.
// A device publishes under its registered site only.
TEST(Mqtt, ReplicasShareTheSubscriptionAndStoreEveryMessageOnce) {
  REQUIRE_SERVICE(MosquittoBroker, "mosquitto");
  REQUIRE_SERVICE(MariadbServer, "mariadb-server");
  MosquittoBroker broker;
  MariadbServer db;
  const auto url = db.create_database();
  TempDir a_dir, b_dir;
  const std::string secret = random_password() + random_password();  // one deployment's
  const std::string password = random_password();
  auto replica = [&](const TempDir& dir, const char* id) {
    return std::make_unique<ServerProcess>(
        remhart_binary(), dir.path() + "/data",
        std::vector<std::string>{"--no-demo", "--mqtt-url", broker.url(), "--database-url", url},
        std::map<std::string, std::string>{{"REMHART_ANALYTICS_ENABLED", "false"},
                                           {"REMHART_MQTT_SHARED_GROUP", "remhart"},
                                           {"REMHART_MQTT_CLIENT_ID", id},
                                           {"REMHART_AUTH_JWT_SECRET", secret},
                                           {"REMHART_ADMIN_PASSWORD", password}});
  };
  auto a = replica(a_dir, "replica-a");
  auto b = replica(b_dir, "replica-b");
  auto http_a = admin_client(*a);
  auto http_b = admin_client(*b);
  ASSERT_EQ(http_a->post("/api/grid/devices", R"({"id":"m1","site":"north"})").status, 201);
  ASSERT_TRUE(eventually([&] {  // B sees the device A registered (shared database)
    return http_b->get("/api/grid/devices").body.find("\"m1\"") != std::string::npos;
  }));
  ASSERT_TRUE(eventually([&] {
    return metric(*http_a, "remhart_mqtt_connected") == 1 &&
           metric(*http_b, "remhart_mqtt_connected") == 1;
  }));
  MosquittoBroker::Subscription dead(broker, "remhart/dead-letter");
  const long long t0 = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count() -
                       3'600'000;
  auto messages = [&](int from, int n) {
    std::vector<std::string> out;
    for (int k = from; k < from + n; ++k) out.push_back(sample_json("m1", t0 + k * 1000LL));
    return out;
  };
  ASSERT_TRUE(broker.publish_each("remhart/north/m1/measurement", messages(0, 300)));
  ASSERT_TRUE(eventually([&] { return stored_total(*http_a, "m1") == 300; }))
      << stored_total(*http_a, "m1");
  const double by_a = metric(*http_a, "remhart_mqtt_stored_total");
  const double by_b = metric(*http_b, "remhart_mqtt_stored_total");
  EXPECT_GT(by_a, 0);
  EXPECT_GT(by_b, 0);
  EXPECT_EQ(by_a + by_b, 300);

  // B dies mid-stream and comes back.
  std::thread publisher([&] {
    EXPECT_TRUE(broker.publish_each("remhart/north/m1/measurement", messages(300, 600)));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  b->kill9();
  publisher.join();
  b->restart();
  http_b = admin_client(*b);
  EXPECT_TRUE(eventually([&] { return stored_total(*http_a, "m1") == 900; }))
      << stored_total(*http_a, "m1");
  EXPECT_EQ(stored_total(*http_b, "m1"), 900u);

  // Another site's topic for this device is refused.
  ASSERT_TRUE(broker.publish("remhart/south/m1/measurement", sample_json("m1", t0 + 2'000'000)));
  ASSERT_TRUE(eventually([&] { return dead.received().size() == 1; }));
  EXPECT_NE(dead.received()[0].find("is not the site of device m1"), std::string::npos)
      << dead.received()[0];
}

}  // namespace remhart::testkit
