#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "core/json_depth.hpp"
#include "ingest/parse.hpp"

using namespace remhart;
using ingest::Format;
using ingest::parse_batch;

namespace {

const std::string kGood =
    R"({"device":"fdr1-m03","ts":"2026-11-28T10:00:00.000Z","v":[230.1,229.8,231.0],)"
    R"("i":[12.1,11.8,12.5],"p":[2650,2580,2760],"q":[610,590,640],"f":50.01})";

std::string with(const std::string& from, const std::string& to) {
  std::string s = kGood;
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

// Parses one JSON item and returns its error field ("" when it parsed).
std::string error_field(const std::string& item) {
  const auto b = parse_batch("[" + item + "]", Format::json, 10);
  if (b.errors.empty()) return "<ok>";
  return b.errors.front().field;
}

core::ErrorKind error_kind(const std::string& body, Format f, std::size_t max = 10) {
  try {
    parse_batch(body, f, max);
  } catch (const core::Error& e) {
    return e.kind();
  }
  return core::ErrorKind::internal;  // "no error"
}

}  // namespace

TEST(ParseJson, ReadsTheSpecSample) {
  const auto b = parse_batch("[" + kGood + "]", Format::json, 10);
  ASSERT_EQ(b.samples.size(), 1u);
  const auto& s = b.samples[0];
  EXPECT_EQ(s.device, "fdr1-m03");
  EXPECT_EQ(s.ts, *core::parse_rfc3339("2026-11-28T10:00:00Z"));
  EXPECT_DOUBLE_EQ(s.values.v[1], 229.8);
  EXPECT_DOUBLE_EQ(s.values.p[2], 2760);
  EXPECT_DOUBLE_EQ(s.values.f, 50.01);
  EXPECT_TRUE(std::isnan(s.values.temp));
  EXPECT_TRUE(std::isnan(s.values.thd_v[0]));
}

TEST(ParseJson, AcceptsOptionalFieldsUnixMillisAndSingleObjects) {
  const auto b =
      parse_batch(with(R"("f":50.01)",
                       R"("f":50,"thd_v":[1,2,3],"thd_i":[4,5,6],"temp":45.2,"extra":{"x":[1]})")
                      .replace(kGood.find("\"2026-11-28T10:00:00.000Z\""), 26, "1795860000000"),
                  Format::json, 10);
  ASSERT_EQ(b.samples.size(), 1u) << (b.errors.empty() ? "" : b.errors[0].message);
  EXPECT_EQ(b.samples[0].ts, 1795860000000000LL);
  EXPECT_DOUBLE_EQ(b.samples[0].values.thd_i[2], 6);
  EXPECT_DOUBLE_EQ(b.samples[0].values.temp, 45.2);
  EXPECT_EQ(parse_batch(kGood, Format::json, 10).samples.size(), 1u);
}

TEST(ParseJson, NamesTheBadField) {
  EXPECT_EQ(error_field(with(R"("device":"fdr1-m03",)", "")), "device");
  EXPECT_EQ(error_field(with(R"("fdr1-m03")", "17")), "device");
  EXPECT_EQ(error_field(with(R"("fdr1-m03")", R"("bad id!")")), "device");
  EXPECT_EQ(error_field(with(R"("fdr1-m03")", "\"" + std::string(1 << 20, 'x') + "\"")), "device");
  EXPECT_EQ(error_field(with(R"("2026-11-28T10:00:00.000Z")", R"("yesterday")")), "ts");
  EXPECT_EQ(error_field(with(R"("2026-11-28T10:00:00.000Z")", "true")), "ts");
  EXPECT_EQ(error_field(with(R"("2026-11-28T10:00:00.000Z")", "1e300")), "ts");
  EXPECT_EQ(error_field(with(R"([230.1,229.8,231.0])", "[230.1,229.8]")), "v");
  EXPECT_EQ(error_field(with(R"([230.1,229.8,231.0])", "[230.1,229.8,231.0,1]")), "v");
  EXPECT_EQ(error_field(with(R"([230.1,229.8,231.0])", R"([230.1,"229.8",231.0])")), "v[1]");
  EXPECT_EQ(error_field(with(R"([230.1,229.8,231.0])", "230")), "v");
  EXPECT_EQ(error_field(with(R"([230.1,229.8,231.0])", "null")), "v");
  EXPECT_EQ(error_field(with(R"("i":[12.1,11.8,12.5],)", "")), "i");
  EXPECT_EQ(error_field(with(R"([610,590,640])", "[610,590,[640]]")), "q[2]");
  EXPECT_EQ(error_field(with(R"("f":50.01)", R"("f":"50")")), "f");
  EXPECT_EQ(error_field(with(R"(,"f":50.01)", "")), "f");
  EXPECT_EQ(error_field(with(R"("f":50.01)", R"("f":50,"temp":"hot")")), "temp");
  EXPECT_EQ(error_field(with(R"("f":50.01)", R"("f":50,"thd_v":[1,2])")), "thd_v");
  EXPECT_EQ(error_field("42"), "");
  // 1e308 is a valid double: parsing keeps it; validation rejects it.
  EXPECT_EQ(error_field(with(R"("f":50.01)", R"("f":1e308)")), "<ok>");
}

TEST(ParseJson, KeepsGoodItemsAndCountsPositions) {
  const auto b = parse_batch("[" + kGood + ",{\"device\":1}," + kGood + "]", Format::json, 10);
  EXPECT_EQ(b.items, 3u);
  ASSERT_EQ(b.samples.size(), 2u);
  EXPECT_EQ(b.positions[0], 0u);
  EXPECT_EQ(b.positions[1], 2u);
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_EQ(b.errors[0].index, 1u);
}

TEST(ParseJson, RejectsUnparseableBodies) {
  using K = core::ErrorKind;
  EXPECT_EQ(error_kind("", Format::json), K::bad_request);
  EXPECT_EQ(error_kind("[" + kGood, Format::json), K::bad_request);          // truncated
  EXPECT_EQ(error_kind(kGood.substr(0, 40), Format::json), K::bad_request);  // truncated
  EXPECT_EQ(error_kind("[NaN]", Format::json), K::bad_request);
  EXPECT_EQ(error_kind(with("50.01", "Infinity"), Format::json), K::bad_request);
  EXPECT_EQ(error_kind(with("50.01", "1e999"), Format::json), K::bad_request);
  EXPECT_EQ(error_kind("\"just a string\"", Format::json), K::bad_request);
  EXPECT_EQ(error_kind(std::string(100000, '[') + std::string(100000, ']'), Format::json),
            K::bad_request);  // deep nesting
  EXPECT_EQ(error_kind("\xff\xfe", Format::json), K::bad_request);
  std::string many = "[";
  for (int k = 0; k < 11; ++k) many += (k ? "," : "") + kGood;
  EXPECT_EQ(error_kind(many + "]", Format::json, 10), K::too_large);
}

TEST(ParseNdjson, ParsesLinesAndReportsBadOnesWithLineNumbers) {
  const std::string body =
      kGood + "\n\n{broken\n" + with(R"("f":50.01)", R"("f":null)") + "\r\n" + kGood;
  const auto b = parse_batch(body, Format::ndjson, 10);
  EXPECT_EQ(b.items, 4u);
  EXPECT_EQ(b.samples.size(), 2u);
  ASSERT_EQ(b.errors.size(), 2u);
  EXPECT_EQ(b.errors[0].index, 1u);
  EXPECT_EQ(b.errors[0].line, 3u);
  EXPECT_EQ(b.errors[1].field, "f");
  EXPECT_EQ(b.errors[1].line, 4u);
  EXPECT_EQ(b.lines[1], 5u);
  EXPECT_EQ(error_kind("\n\n", Format::ndjson), core::ErrorKind::bad_request);
}

TEST(ParseCsv, ParsesHeaderInAnyOrderWithOptionalColumns) {
  const std::string body =
      "ts,device,va,vb,vc,ia,ib,ic,pa,pb,pc,qa,qb,qc,f,temp,other\n"
      "2026-11-28T10:00:00Z,m1,230,231,229,10,11,12,2000,2100,2200,500,600,700,50.0,41.5,x\r\n"
      "1795860001000,m1,230,231,229,10,11,12,2000,2100,2200,500,600,700,50.0,,y\n";
  const auto b = parse_batch(body, Format::csv, 10);
  ASSERT_EQ(b.samples.size(), 2u) << (b.errors.empty() ? "" : b.errors[0].message);
  EXPECT_EQ(b.samples[0].device, "m1");
  EXPECT_DOUBLE_EQ(b.samples[0].values.temp, 41.5);
  EXPECT_TRUE(std::isnan(b.samples[1].values.temp));
  EXPECT_EQ(b.samples[1].ts, 1795860001000000LL);
  EXPECT_EQ(b.lines[1], 3u);
}

TEST(ParseCsv, ReportsBadRowsWithLineAndField) {
  const std::string header = "device,ts,va,vb,vc,ia,ib,ic,pa,pb,pc,qa,qb,qc,f\n";
  const std::string good =
      "m1,2026-11-28T10:00:00Z,230,231,229,10,11,12,2000,2100,2200,500,600,700,50\n";
  const std::string body =
      header + good +
      "m1,2026-11-28T10:00:01Z,230,abc,229,10,11,12,2000,2100,2200,500,600,700,50\n" +
      "m1,2026-11-28T10:00:02Z,230\n" +
      "m1,notatime,230,231,229,10,11,12,2000,2100,2200,500,600,700,50\n" +
      "m1,2026-11-28T10:00:03Z,230,231,229,10,11,12,2000,2100,2200,500,600,700,\n";
  const auto b = parse_batch(body, Format::csv, 10);
  EXPECT_EQ(b.samples.size(), 1u);
  ASSERT_EQ(b.errors.size(), 4u);
  EXPECT_EQ(b.errors[0].field, "v[1]");
  EXPECT_EQ(b.errors[0].line, 3u);
  EXPECT_EQ(b.errors[0].index, 1u);
  EXPECT_EQ(b.errors[1].field, "");
  EXPECT_EQ(b.errors[2].field, "ts");
  EXPECT_EQ(b.errors[3].field, "f");
}

TEST(ParseCsv, RejectsMissingColumnsAndEmptyBodies) {
  try {
    parse_batch("device,ts,va\nm1,0,1\n", Format::csv, 10);
    FAIL() << "expected an error";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::bad_request);
    EXPECT_EQ(e.field(), "vb");
  }
  EXPECT_EQ(error_kind("", Format::csv), core::ErrorKind::bad_request);
}

TEST(ParseLegacy, ReadsTheOriginalShapeAndIgnoresSentTotals) {
  const std::string body =
      R"({"timestamp":"2026-11-28T10:00:00Z","voltage":{"phaseA":230,"phaseB":231,"phaseC":229,"average":999},)"
      R"("current":{"phaseA":10,"phaseB":11,"phaseC":12},"frequency":{"frequency_value":50.02},)"
      R"("active_power":{"phaseA":2000,"phaseB":2100,"phaseC":2200,"total":1},)"
      R"("reactive_power":{"phaseA":500,"phaseB":600,"phaseC":700,"total":1}})";
  const auto s = ingest::parse_legacy_point(body, "m1", 0);
  EXPECT_EQ(s.device, "m1");
  EXPECT_DOUBLE_EQ(s.values.v[2], 229);
  EXPECT_DOUBLE_EQ(s.values.f, 50.02);
  EXPECT_EQ(s.ts, *core::parse_rfc3339("2026-11-28T10:00:00Z"));
  try {
    ingest::parse_legacy_point(R"({"voltage":{"phaseA":230}})", "m1", 0);
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.field(), "voltage.phaseB");
  }
  EXPECT_THROW(ingest::parse_legacy_point("{", "m1", 0), core::Error);
}

TEST(ParseFormat, FromContentType) {
  EXPECT_EQ(ingest::format_from_content_type("application/json; charset=utf-8"), Format::json);
  EXPECT_EQ(ingest::format_from_content_type("application/x-ndjson"), Format::ndjson);
  EXPECT_EQ(ingest::format_from_content_type("TEXT/CSV"), Format::csv);
  EXPECT_FALSE(ingest::format_from_content_type("application/xml"));
}

TEST(JsonDepth, CountsBracketsOutsideStringsOnly) {
  using remhart::core::json_too_deep;
  EXPECT_FALSE(json_too_deep(R"({"a":[1,{"b":[]}]})", 4));
  EXPECT_TRUE(json_too_deep(R"({"a":[1,{"b":[]}]})", 3));
  EXPECT_FALSE(json_too_deep(R"({"a":"[[[[[[{{{{"})", 1));  // inside a string
  EXPECT_FALSE(json_too_deep(R"({"a":"\"[[[[[["})", 1));    // escaped quote stays inside
  EXPECT_TRUE(json_too_deep(std::string(65, '['), 64));
  EXPECT_FALSE(json_too_deep(std::string(64, '['), 64));
  EXPECT_FALSE(json_too_deep("[]]]]]][", 1));  // malformed: the parser's to refuse
}

// A body in which no line is JSON is not NDJSON: 400, not 200 with every line rejected.
TEST(ParseNdjson, NoLineThatParsesIs400) {
  try {
    parse_batch("this is\nnot json\nat all\n", Format::ndjson, 100);
    FAIL() << "accepted";
  } catch (const remhart::core::Error& e) {
    EXPECT_EQ(e.kind(), remhart::core::ErrorKind::bad_request);
    EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
  }
  // One good line: the bad ones are per-item errors as before.
  const auto b = parse_batch("nope\n" + kGood + "\n", Format::ndjson, 100);
  EXPECT_EQ(b.samples.size(), 1u);
  EXPECT_EQ(b.errors.size(), 1u);
}
