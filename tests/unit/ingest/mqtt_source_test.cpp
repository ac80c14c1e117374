// What MQTT ingestion accepts before the pipeline: measurement topics, payloads in the HTTP
// schema, samples of the topic's device only.
#include "ingest/mqtt_source.hpp"

#include <gtest/gtest.h>

namespace remhart::ingest {
namespace {

const std::string kSample =
    R"({"device":"m1","ts":1700000000000,"v":[230,231,229],"i":[10,10,10],"p":[2000,2000,2000],)"
    R"("q":[100,100,100],"f":50.0})";

TEST(MqttTopic, MeasurementTopicsOnly) {
  const auto t = parse_measurement_topic("remhart/north/m1/measurement", "remhart");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->site, "north");
  EXPECT_EQ(t->device, "m1");
  EXPECT_TRUE(parse_measurement_topic("a/b/s/d/measurement", "a/b").has_value());
  for (const char* bad :
       {"remhart/north/m1/status", "remhart/north/measurement", "remhart//m1/measurement",
        "remhart/north/bad id/measurement", "remhartx/north/m1/measurement",
        "other/north/m1/measurement", "remhart/north/m1/measurement/extra", "remhart"}) {
    EXPECT_FALSE(parse_measurement_topic(bad, "remhart").has_value()) << bad;
  }
}

TEST(MqttMessage, OneSampleOrAnArrayOfTheTopicsDevice) {
  ParsedBatch batch;
  EXPECT_FALSE(check_mqtt_message("remhart/s/m1/measurement", kSample, "remhart", 100, batch));
  EXPECT_EQ(batch.samples.size(), 1u);
  EXPECT_FALSE(check_mqtt_message("remhart/s/m1/measurement", "[" + kSample + "," + kSample + "]",
                                  "remhart", 100, batch));
  EXPECT_EQ(batch.samples.size(), 2u);
  const auto why = [&](std::string_view topic, std::string_view payload) {
    return check_mqtt_message(topic, payload, "remhart", 100, batch).value_or("");
  };
  EXPECT_NE(why("remhart/s/m2/measurement", kSample).find("a sample of device m1"),
            std::string::npos);
  EXPECT_NE(why("remhart/s/m1/other", kSample).find("topic is not"), std::string::npos);
  EXPECT_NE(why("remhart/s/m1/measurement", "{\"device\":").find("payload:"), std::string::npos);
  EXPECT_NE(why("remhart/s/m1/measurement", "\xff\xfe").find("payload:"), std::string::npos);
  EXPECT_NE(why("remhart/s/m1/measurement", "[" + kSample + ",{\"device\":\"m1\"}]").find("item 1"),
            std::string::npos);
  std::string many = "[";
  for (int k = 0; k < 101; ++k) many += (k ? "," : "") + kSample;
  EXPECT_NE(why("remhart/s/m1/measurement", many + "]").find("payload:"), std::string::npos);
}

TEST(MqttMessage, ARegisteredDevicePublishesUnderItsOwnSiteOnly) {
  store::DeviceMap devices;
  core::Device d;
  d.id = "m1";
  d.site = "north";
  devices["m1"] = d;
  ParsedBatch batch;
  EXPECT_FALSE(
      check_mqtt_message("remhart/north/m1/measurement", kSample, "remhart", 100, batch, &devices));
  const auto why =
      check_mqtt_message("remhart/south/m1/measurement", kSample, "remhart", 100, batch, &devices);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("topic site 'south' is not the site of device m1 ('north')"),
            std::string::npos)
      << *why;
  devices["m1"].site.clear();  // no site registered: any site's topic
  EXPECT_FALSE(
      check_mqtt_message("remhart/south/m1/measurement", kSample, "remhart", 100, batch, &devices));
}

}  // namespace
}  // namespace remhart::ingest
