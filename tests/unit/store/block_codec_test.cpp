#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include <zstd.h>

#include "store/block_codec.hpp"
#include "store/series.hpp"

using namespace remhart;

namespace {
std::vector<core::Record> records(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise;
  std::vector<core::Record> out(n);
  for (std::size_t k = 0; k < n; ++k) {
    out[k].ts = 1'795'860'000'000'000 + static_cast<core::TimeUs>(k) * 1'000'000 + (k % 7);
    auto* v = core::as_array(out[k].values);
    for (std::size_t c = 0; c < core::kValueCount; ++c) v[c] = 100 * c + noise(rng);
    if (k % 3) out[k].values.temp = core::kAbsent;
  }
  return out;
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}
}  // namespace

TEST(BlockCodec, RoundTripsExactly) {
  for (std::size_t n : {0u, 1u, 7u, 900u, 4096u}) {
    const auto in = records(n, n);
    const auto bytes = store::encode_block(in);
    const auto out = store::decode_block(bytes);
    ASSERT_TRUE(out);
    ASSERT_EQ(out->size(), n);
    for (std::size_t k = 0; k < n; ++k) {
      EXPECT_EQ((*out)[k].ts, in[k].ts);
      for (std::size_t c = 0; c < core::kValueCount; ++c) {
        EXPECT_TRUE(
            same_bits(core::as_array((*out)[k].values)[c], core::as_array(in[k].values)[c]));
      }
    }
  }
}

// Duplicate checks read only the time column (decompressed no further than it reaches).
TEST(BlockCodec, TimesAloneMatchTheFullDecode) {
  for (std::size_t n : {0u, 1u, 7u, 900u, 4096u, 20000u}) {
    const auto in = records(n, n + 1);
    const auto bytes = store::encode_block(in);
    const auto times = store::decode_block_times(bytes);
    ASSERT_TRUE(times) << n;
    ASSERT_EQ(times->size(), n);
    for (std::size_t k = 0; k < n; ++k) ASSERT_EQ((*times)[k], in[k].ts) << k;
  }
  auto bytes = store::encode_block(records(100, 1));
  EXPECT_FALSE(store::decode_block_times(std::span(bytes).first(4)));
  EXPECT_FALSE(store::decode_block_times(std::span(bytes).first(12)));  // cut inside the times
  auto wrong_count = bytes;
  wrong_count[4] = std::byte{0xff};
  EXPECT_FALSE(store::decode_block_times(wrong_count));
}

// Blocks written before the time column got its own frame (version 1: one frame for all columns)
// still decode, whole and times alone.
TEST(BlockCodec, ReadsVersionOneBlocks) {
  const auto in = records(300, 9);
  const std::size_t n = in.size(), columns = 1 + core::kValueCount;
  std::vector<std::byte> raw(n * 8 * columns);
  std::vector<std::uint64_t> column(n);
  auto shuffle_into = [&](std::byte* out) {
    for (std::size_t b = 0; b < 8; ++b) {
      for (std::size_t k = 0; k < n; ++k) out[b * n + k] = std::byte(column[k] >> (8 * b));
    }
  };
  std::int64_t prev = 0;
  for (std::size_t k = 0; k < n; ++k) {
    column[k] = static_cast<std::uint64_t>(in[k].ts - prev);
    prev = in[k].ts;
  }
  shuffle_into(raw.data());
  for (std::size_t c = 0; c < core::kValueCount; ++c) {
    for (std::size_t k = 0; k < n; ++k)
      std::memcpy(&column[k], core::as_array(in[k].values) + c, 8);
    shuffle_into(raw.data() + (c + 1) * n * 8);
  }
  std::vector<std::byte> v1(8 + ZSTD_compressBound(raw.size()));
  const std::uint32_t header[2] = {0x52484231, static_cast<std::uint32_t>(n)};
  std::memcpy(v1.data(), header, 8);
  v1.resize(8 + ZSTD_compress(v1.data() + 8, v1.size() - 8, raw.data(), raw.size(), 1));
  const auto out = store::decode_block(v1);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), n);
  for (std::size_t k = 0; k < n; ++k) {
    EXPECT_EQ((*out)[k].ts, in[k].ts);
    EXPECT_TRUE(same_bits((*out)[k].values.f, in[k].values.f));
  }
  const auto times = store::decode_block_times(v1);
  ASSERT_TRUE(times);
  for (std::size_t k = 0; k < n; ++k) EXPECT_EQ((*times)[k], in[k].ts);
}

TEST(BlockCodec, CompressesSlowlyVaryingData) {
  std::vector<core::Record> in(900);
  for (std::size_t k = 0; k < in.size(); ++k) {
    in[k].ts = static_cast<core::TimeUs>(k) * 1'000'000;
    in[k].values.v = {230.0 + 0.01 * static_cast<double>(k % 10), 231.0, 229.5};
    in[k].values.f = 50.0;
  }
  const auto bytes = store::encode_block(in);
  EXPECT_LT(bytes.size(), in.size() * sizeof(core::Record) / 4);
}

TEST(BlockCodec, RejectsCorruptBytes) {
  auto bytes = store::encode_block(records(100, 1));
  EXPECT_FALSE(store::decode_block(std::span(bytes).first(4)));
  auto truncated = bytes;
  truncated.resize(bytes.size() / 2);
  EXPECT_FALSE(store::decode_block(truncated));
  auto wrong_magic = bytes;
  wrong_magic[0] = std::byte{0};
  EXPECT_FALSE(store::decode_block(wrong_magic));
  auto wrong_count = bytes;
  wrong_count[4] = std::byte{0xff};
  EXPECT_FALSE(store::decode_block(wrong_count));
}

TEST(BlockStats, EncodeDecodeAndMerge) {
  const auto in = records(50, 3);
  store::BlockStats a, b, all;
  for (std::size_t k = 0; k < in.size(); ++k) {
    (k < 20 ? a : b).add(in[k]);
    all.add(in[k]);
  }
  const auto enc = store::encode_stats(a);
  const auto dec = store::decode_stats(std::as_bytes(std::span(enc)));
  ASSERT_TRUE(dec);
  for (std::size_t f = 0; f < core::kFieldCount; ++f) {
    store::FieldStats m = dec->fields[f];
    m.merge(b.fields[f]);
    EXPECT_EQ(m.n, all.fields[f].n);
    EXPECT_NEAR(m.sum, all.fields[f].sum, 1e-6 * std::max(1.0, std::fabs(all.fields[f].sum)));
    EXPECT_EQ(m.min, all.fields[f].min);
    EXPECT_EQ(m.max, all.fields[f].max);
    EXPECT_TRUE(same_bits(m.last, all.fields[f].last));
  }
  EXPECT_FALSE(store::decode_stats(std::as_bytes(std::span(enc)).first(10)));
}
