#include <gtest/gtest.h>

#include "ingest/validate.hpp"
#include "sim/demo_feed.hpp"

using namespace remhart;

TEST(DemoFeed, ProducesValidDeterministicSamples) {
  sim::DemoFeed a(4, 1), b(4, 1);
  ASSERT_EQ(a.devices().size(), 4u);
  for (int k = 0; k < 100; ++k) {
    const core::TimeUs t = 1'795'860'000'000'000 + k * 3'600'000'000LL / 4;
    const auto sa = a.step(t);
    const auto sb = b.step(t);
    ASSERT_EQ(sa.size(), 4u);
    for (std::size_t d = 0; d < sa.size(); ++d) {
      EXPECT_EQ(sa[d].values.v, sb[d].values.v);
      const auto err = ingest::validate(sa[d], a.devices()[d], t, {});
      EXPECT_FALSE(err) << err->field << ": " << err->message;
      // Physically consistent: |S| = V·I per phase.
      for (std::size_t ph = 0; ph < 3; ++ph) {
        EXPECT_NEAR(std::hypot(sa[d].values.p[ph], sa[d].values.q[ph]),
                    sa[d].values.v[ph] * sa[d].values.i[ph], 1e-6);
      }
    }
  }
}
