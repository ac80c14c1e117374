#include <gtest/gtest.h>

#include "obs/metrics.hpp"

using namespace remhart;

TEST(Metrics, RendersPrometheusText) {
  obs::Registry r;
  r.counter("x_total", "Things", "kind=\"a\"").inc(3);
  r.counter("x_total", "Things", "kind=\"b\"").inc();
  r.gauge("depth", "Queue depth").set(7);
  auto& h = r.histogram("lat_seconds", "Latency", "route=\"/r\"", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  r.gauge_fn("live", "Live", [] { return 2.5; });
  const auto text = r.render();
  EXPECT_NE(text.find("# TYPE x_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("x_total{kind=\"a\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("depth 7\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/r\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/r\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/r\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count{route=\"/r\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("live 2.5\n"), std::string::npos);
  EXPECT_EQ(&r.counter("x_total", "Things", "kind=\"a\""), &r.counter("x_total", "", "kind=\"a\""));
  EXPECT_THROW(r.gauge("x_total", ""), std::logic_error);
  EXPECT_EQ(obs::label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}
