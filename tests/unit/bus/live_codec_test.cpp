// The replicas' live-sample messages: what one encodes the others read back exactly; anything
// malformed on the channel is refused, never read past its end.
#include <gtest/gtest.h>

#include <cmath>

#include "bus/live_codec.hpp"
#include "bus/redis_bus.hpp"

using namespace remhart;

namespace {

core::Record record(core::TimeUs ts, double v) {
  core::Record r;
  r.ts = ts;
  r.values.v = {v, v + 1, v - 1};
  r.values.f = 50;
  return r;
}

}  // namespace

TEST(LiveCodec, RoundTripsEverySampleExactly) {
  const std::string m1 = "m1", m2 = "meter.2", real = "real", sim = "sim:run-7";
  const std::vector<core::Record> a = {record(1, 230.125), record(2, 231)};
  std::vector<core::Record> b = {record(-5, 0.1)};
  b[0].values.temp = 41.5;
  const std::vector<store::CommittedSeries> committed = {{m1, real, a}, {m2, sim, b}};
  const auto bytes = bus::encode_live("replica-a", committed);
  const auto m = bus::decode_live(bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->sender, "replica-a");
  ASSERT_EQ(m->samples.size(), 3u);
  EXPECT_EQ(m->samples[0].device, "m1");
  EXPECT_EQ(m->samples[1].record.values.v[0], 231);
  EXPECT_EQ(m->samples[2].origin, "sim:run-7");
  EXPECT_EQ(m->samples[2].record.ts, -5);
  EXPECT_EQ(m->samples[2].record.values.temp, 41.5);
  EXPECT_TRUE(std::isnan(m->samples[0].record.values.temp));
  EXPECT_TRUE(bus::decode_live(bus::encode_live("x", {})));  // an empty commit is fine
}

TEST(LiveCodec, MalformedMessagesAreRefused) {
  const std::string m1 = "m1", real = "real";
  const std::vector<core::Record> a = {record(1, 230), record(2, 231)};
  const std::vector<store::CommittedSeries> committed = {{m1, real, a}};
  const auto good = bus::encode_live("r", committed);
  ASSERT_TRUE(bus::decode_live(good));
  EXPECT_FALSE(bus::decode_live(""));
  EXPECT_FALSE(bus::decode_live("RHL2" + good.substr(4)));
  for (std::size_t cut = 0; cut < good.size(); ++cut) {  // every truncation
    EXPECT_FALSE(bus::decode_live(good.substr(0, cut))) << cut;
  }
  EXPECT_FALSE(bus::decode_live(good + "x"));  // trailing bytes
  std::string huge = good;
  huge[4 + 2 + 1] = '\xff';  // count's low byte, 2 samples → 255: more than the bytes hold
  EXPECT_FALSE(bus::decode_live(huge));
  std::string bad_device = good;
  bad_device[4 + 2 + 1 + 4 + 1] = ' ';  // "m1" → " 1"
  EXPECT_FALSE(bus::decode_live(bad_device));
  std::string bad_origin = good;
  bad_origin[4 + 2 + 1 + 4 + 1 + 2 + 1] = 'X';  // "real" → "Xeal"
  EXPECT_FALSE(bus::decode_live(bad_origin));
}

TEST(RedisUrl, ParsesAndRefuses) {
  auto o = bus::parse_redis_url("redis://:s3cret@cache.example:6380");
  EXPECT_EQ(o.host, "cache.example");
  EXPECT_EQ(o.port, 6380);
  EXPECT_EQ(o.password, "s3cret");
  o = bus::parse_redis_url("redis://127.0.0.1/0");
  EXPECT_EQ(o.port, 6379);
  for (const char* bad : {"http://x", "redis://", "redis://h:0", "redis://h:x", "redis://:p@"}) {
    EXPECT_THROW(bus::parse_redis_url(bad), std::invalid_argument) << bad;
  }
}
