// Device records as clients send them: every field checked and named when wrong.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "ingest/device_record.hpp"

using namespace remhart;
using nlohmann::json;

namespace {
std::string field_of(const std::string& body, std::optional<std::string> path_id = std::nullopt) {
  try {
    ingest::parse_device_record(json::parse(body), std::move(path_id));
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::unprocessable);
    return e.field();
  }
  return "";
}
}  // namespace

TEST(DeviceRecord, ReadsEveryFieldWithDefaults) {
  const auto d = ingest::parse_device_record(
      json::parse(R"({"id":"fdr1-m03","kind":"pmu","nominal_voltage":11000,"nominal_frequency":60,
                      "accuracy_class":0.2,
                      "element":"bus:3","site":"north","location":{"lat":-37.8,"lon":145},
                      "tags":["a","b"]})"),
      std::nullopt);
  EXPECT_EQ(d.id, "fdr1-m03");
  EXPECT_EQ(d.name, "fdr1-m03");  // the id when unnamed
  EXPECT_EQ(d.kind, "pmu");
  EXPECT_EQ(d.nominal_voltage, 11000);
  EXPECT_EQ(d.nominal_frequency, 60);
  EXPECT_EQ(d.accuracy_class, 0.2);
  EXPECT_EQ(*d.lat, -37.8);
  EXPECT_EQ(d.tags.size(), 2u);
  const auto put = ingest::parse_device_record(json::object(), "m9");
  EXPECT_EQ(put.id, "m9");
  EXPECT_EQ(put.kind, "meter");
  EXPECT_EQ(put.accuracy_class, 1.0);
}

TEST(DeviceRecord, WrongFieldsAreNamed) {
  EXPECT_EQ(field_of(R"({})"), "id");
  EXPECT_EQ(field_of(R"({"id":"a b"})"), "id");
  EXPECT_EQ(field_of(R"({"id":"x"})", "y"), "id");  // body and path disagree
  EXPECT_EQ(field_of(R"({"id":"m","name":7})"), "name");
  EXPECT_EQ(field_of(R"({"id":"m","name":")" + std::string(300, 'n') + R"("})"), "name");
  EXPECT_EQ(field_of(R"({"id":"m","kind":"toaster"})"), "kind");
  EXPECT_EQ(field_of(R"({"id":"m","nominal_voltage":-1})"), "nominal_voltage");
  EXPECT_EQ(field_of(R"({"id":"m","rated_current":"big"})"), "rated_current");
  EXPECT_EQ(field_of(R"({"id":"m","nominal_frequency":55})"), "nominal_frequency");
  EXPECT_EQ(field_of(R"({"id":"m","accuracy_class":0})"), "accuracy_class");
  EXPECT_EQ(field_of(R"({"id":"m","accuracy_class":11})"), "accuracy_class");
  EXPECT_EQ(field_of(R"({"id":"m","accuracy_class":"0.5"})"), "accuracy_class");
  EXPECT_EQ(field_of(R"({"id":"m","location":{"lat":91,"lon":0}})"), "location");
  EXPECT_EQ(field_of(R"({"id":"m","location":[1,2]})"), "location");
  EXPECT_EQ(field_of(R"({"id":"m","tags":"a"})"), "tags");
  EXPECT_EQ(field_of(R"({"id":"m","tags":["two\nlines"]})"), "tags");
}
