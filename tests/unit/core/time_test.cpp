#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/thread_pool.hpp"
#include "core/time.hpp"

using namespace remhart::core;

TEST(Time, ParsesAndFormatsRfc3339) {
  const auto t = parse_rfc3339("2026-11-28T10:00:00.123456Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 1795860000123456LL);
  EXPECT_EQ(format_rfc3339(*t), "2026-11-28T10:00:00.123456Z");
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
}

TEST(Time, HonoursOffsetsAndFractions) {
  EXPECT_EQ(parse_rfc3339("2026-11-28T12:00:00+02:00"), parse_rfc3339("2026-11-28T10:00:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-11-28T08:30:00-01:30"), parse_rfc3339("2026-11-28T10:00:00Z"));
  EXPECT_EQ(*parse_rfc3339("2026-11-28T10:00:00.5Z") % 1000000, 500000);
  // Nanoseconds are truncated to microseconds.
  EXPECT_EQ(*parse_rfc3339("2026-11-28T10:00:00.123456789Z") % 1000000, 123456);
  EXPECT_TRUE(parse_rfc3339("2024-02-29T00:00:00Z"));
}

TEST(Time, RejectsMalformed) {
  for (const char* bad : {"", "2026", "2026-11-28", "2026-11-28T10:00:00", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-28T24:00:00Z",
                          "2026-11-28T10:60:00Z", "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00ZZ",
                          "2026-11-28T10:00:00+2:00", "x026-11-28T10:00:00Z",
                          "2026-11-28T10:00:00.1234567890Z", "2026-11-28T10:00:00+25:00"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(Time, TimeParamsAcceptUnixMilliseconds) {
  EXPECT_EQ(parse_time_param("1795860000123"), 1795860000123000LL);
  EXPECT_EQ(parse_time_param("2026-11-28T10:00:00Z"), 1795860000000000LL);
  EXPECT_FALSE(parse_time_param("12a"));
  EXPECT_FALSE(parse_time_param("99999999999999999999999"));
  EXPECT_FALSE(parse_time_param(""));
}

TEST(Time, Durations) {
  EXPECT_EQ(parse_duration("900"), 900 * kUsPerSecond);
  EXPECT_EQ(parse_duration("10s"), 10 * kUsPerSecond);
  EXPECT_EQ(parse_duration("15m"), 900 * kUsPerSecond);
  EXPECT_EQ(parse_duration("1h"), 3600 * kUsPerSecond);
  EXPECT_EQ(parse_duration("1d"), 86400 * kUsPerSecond);
  for (const char* bad : {"", "0", "-5", "1x", "m", "1.5h", "99999999999999999d"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

// A job that throws never ends the process (it reached std::terminate): the pool counts it,
// reports it and runs the next job; drain() runs what is queued, later posts are dropped.
TEST(ThreadPool, FailingJobsAreCountedAndTheWorkerGoesOn) {
  std::vector<std::string> reported;
  std::mutex mu;
  std::atomic<int> ran{0};
  remhart::core::ThreadPool pool(1, [&](const std::string& what) {
    std::lock_guard lock(mu);
    reported.push_back(what);
  });
  pool.post([] { throw std::runtime_error("boom"); });
  pool.post([] { throw 42; });
  for (int k = 0; k < 10; ++k) pool.post([&] { ++ran; });
  pool.drain();
  EXPECT_EQ(ran, 10);
  EXPECT_EQ(pool.failures(), 2u);
  ASSERT_EQ(reported.size(), 2u);
  EXPECT_EQ(reported[0], "boom");
  pool.post([&] { ++ran; });  // after drain: dropped, not run on a dead pool
  EXPECT_EQ(ran, 10);
}
