// Query parameters: typed values, defaults, and malformed input named by its parameter.
#include <gtest/gtest.h>

#include "api/query_params.hpp"
#include "core/error.hpp"

using namespace remhart;

namespace {
api::HttpRequest with(std::string query) {
  api::HttpRequest r;
  r.query = api::parse_query(query);
  return r;
}

std::string bad_field(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::bad_request);
    return e.field();
  }
  return "";
}
}  // namespace

TEST(QueryParams, TypedValuesAndDefaults) {
  const auto r = with("limit=5&flag=1&from=2025-11-28T10:00:00Z&origin=sim:r1&device=m-1");
  EXPECT_EQ(api::int_arg(r, "limit", 1, 10), 5);
  EXPECT_FALSE(api::int_arg(r, "absent", 1, 10));
  EXPECT_EQ(api::bool_arg(r, "flag"), true);
  EXPECT_EQ(*api::time_arg(r, "from"), 1764324000LL * 1000000);
  EXPECT_EQ(api::origin_arg(r), "sim:r1");
  EXPECT_EQ(api::origin_arg(with("")), "real");
  EXPECT_EQ(api::device_arg(r), "m-1");
}

TEST(QueryParams, SeriesAndDataQueries) {
  const auto now = 1764324000LL * 1000000;
  const auto s = api::series_args(with("device=m1&fields=v_avg,f&step=1m&agg=max"), now);
  EXPECT_EQ(s.query.step, 60LL * 1000000);
  EXPECT_EQ(s.query.to - s.query.from, 86400LL * 1000000);  // the last day by default
  EXPECT_EQ(s.names, (std::vector<std::string>{"v_avg", "f"}));
  EXPECT_EQ(s.agg, "max");
  EXPECT_EQ(api::series_args(with("device=m1"), now).query.step, 60LL * 1000000);  // ~1,440 points
  const auto d = api::data_args(with("device=m1&order=asc&cursor=100&limit=7"));
  EXPECT_TRUE(d.ascending);
  EXPECT_EQ(d.from, 101);
  EXPECT_EQ(d.limit, 7u);
}

TEST(QueryParams, MalformedValuesNameTheirParameter) {
  EXPECT_EQ(bad_field([] { api::int_arg(with("limit=0"), "limit", 1, 10); }), "limit");
  EXPECT_EQ(bad_field([] { api::int_arg(with("limit=5x"), "limit", 1, 10); }), "limit");
  EXPECT_EQ(bad_field([] { api::bool_arg(with("atomic=yes"), "atomic"); }), "atomic");
  EXPECT_EQ(bad_field([] { api::time_arg(with("from=yesterday"), "from"); }), "from");
  EXPECT_EQ(bad_field([] { api::origin_arg(with("origin=fake")); }), "origin");
  EXPECT_EQ(bad_field([] { api::device_arg(with("")); }), "device");
  EXPECT_EQ(bad_field([] { api::device_arg(with("device=a%20b")); }), "device");
  EXPECT_EQ(bad_field([] { api::series_args(with("device=m1&fields=volts"), 0); }), "fields");
  EXPECT_EQ(bad_field([] { api::series_args(with("device=m1&fields=,"), 0); }), "fields");
  EXPECT_EQ(bad_field([] { api::series_args(with("device=m1&step=1s&from=0"), 200000000000LL); }),
            "step");  // 200,000 one-second buckets: more than 100,000
  EXPECT_EQ(bad_field([] { api::series_args(with("device=m1&agg=median"), 0); }), "agg");
  EXPECT_EQ(bad_field([] { api::series_args(with("device=m1&from=2&to=1"), 0); }), "from");
  EXPECT_EQ(bad_field([] { api::data_args(with("device=m1&order=up")); }), "order");
  EXPECT_EQ(bad_field([] { api::data_args(with("device=m1&cursor=abc")); }), "cursor");
  EXPECT_EQ(bad_field([] { api::audit_args(with("kind=other")); }), "kind");
}
