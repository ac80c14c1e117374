#include "store/block_codec.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <zstd.h>

namespace remhart::store {
namespace {

constexpr std::uint32_t kMagicV1 = 0x52484231;  // "RHB1": one frame for every column
constexpr std::uint32_t kMagicV2 = 0x52484232;  // "RHB2": the times, then the values
constexpr std::size_t kColumns = 1 + core::kValueCount;
constexpr int kLevel = 1;

// Writes n 8-byte words from `words` into `out` as 8 byte planes.
void shuffle(const std::uint64_t* words, std::size_t n, std::byte* out) {
  for (std::size_t b = 0; b < 8; ++b) {
    std::byte* plane = out + b * n;
    for (std::size_t k = 0; k < n; ++k) plane[k] = static_cast<std::byte>(words[k] >> (8 * b));
  }
}

void unshuffle(const std::byte* in, std::size_t n, std::uint64_t* words) {
  for (std::size_t k = 0; k < n; ++k) words[k] = 0;
  for (std::size_t b = 0; b < 8; ++b) {
    const std::byte* plane = in + b * n;
    for (std::size_t k = 0; k < n; ++k) {
      words[k] |= static_cast<std::uint64_t>(plane[k]) << (8 * b);
    }
  }
}

// Appends `raw` to `out` as one zstd frame; returns the frame's size.
std::size_t compress_into(std::vector<std::byte>& out, const std::vector<std::byte>& raw) {
  const std::size_t at = out.size();
  const std::size_t bound = ZSTD_compressBound(raw.size());
  out.resize(at + bound);
  const std::size_t z = ZSTD_compress(out.data() + at, bound, raw.data(), raw.size(), kLevel);
  if (ZSTD_isError(z)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(z));
  out.resize(at + z);
  return z;
}

// Decompresses one whole frame of exactly `size` bytes; false when corrupt.
bool decompress(std::span<const std::byte> frame, std::byte* out, std::size_t size) {
  if (ZSTD_getFrameContentSize(frame.data(), frame.size()) != size) return false;
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(),
                                                                        &ZSTD_freeDCtx);
  const std::size_t z = ZSTD_decompressDCtx(ctx.get(), out, size, frame.data(), frame.size());
  return !ZSTD_isError(z) && z == size;
}

struct Frames {
  std::size_t n = 0;
  std::span<const std::byte> times, values;  // v2: two frames; v1: `times` holds everything
  bool v1 = false;
};

std::optional<Frames> split(std::span<const std::byte> bytes) {
  if (bytes.size() < 8) return std::nullopt;
  std::uint32_t header[2];
  std::memcpy(header, bytes.data(), 8);
  Frames f;
  f.n = header[1];
  if (header[0] == kMagicV1) {
    f.v1 = true;
    f.times = bytes.subspan(8);
    return f;
  }
  if (header[0] != kMagicV2 || bytes.size() < 12) return std::nullopt;
  std::uint32_t times_size = 0;
  std::memcpy(&times_size, bytes.data() + 8, 4);
  if (times_size > bytes.size() - 12) return std::nullopt;
  f.times = bytes.subspan(12, times_size);
  f.values = bytes.subspan(12 + times_size);
  return f;
}

std::vector<core::TimeUs> times_of(const std::byte* raw, std::size_t n) {
  std::vector<std::uint64_t> column(n);
  unshuffle(raw, n, column.data());
  std::vector<core::TimeUs> times(n);
  std::int64_t prev = 0;
  for (std::size_t k = 0; k < n; ++k) {
    prev += static_cast<std::int64_t>(column[k]);
    times[k] = prev;
  }
  return times;
}

}  // namespace

std::vector<std::byte> encode_block(std::span<const core::Record> records) {
  const std::size_t n = records.size();
  std::vector<std::uint64_t> column(n);
  std::vector<std::byte> times(n * 8), values(n * 8 * core::kValueCount);
  std::int64_t prev = 0;
  for (std::size_t k = 0; k < n; ++k) {
    column[k] = static_cast<std::uint64_t>(records[k].ts - prev);
    prev = records[k].ts;
  }
  shuffle(column.data(), n, times.data());
  for (std::size_t c = 0; c < core::kValueCount; ++c) {
    for (std::size_t k = 0; k < n; ++k) {
      std::memcpy(&column[k], core::as_array(records[k].values) + c, 8);
    }
    shuffle(column.data(), n, values.data() + c * n * 8);
  }
  std::vector<std::byte> out(12);
  const std::uint32_t header[2] = {kMagicV2, static_cast<std::uint32_t>(n)};
  std::memcpy(out.data(), header, 8);
  const auto times_size = static_cast<std::uint32_t>(compress_into(out, times));
  std::memcpy(out.data() + 8, &times_size, 4);
  compress_into(out, values);
  return out;
}

std::optional<std::vector<core::Record>> decode_block(std::span<const std::byte> bytes) {
  const auto f = split(bytes);
  if (!f) return std::nullopt;
  const std::size_t n = f->n;
  // Sizes are checked against each frame's declared size before anything is allocated, so a
  // corrupt count cannot exhaust memory.
  std::vector<std::byte> raw(n * 8 * kColumns);
  if (f->v1) {
    if (!decompress(f->times, raw.data(), raw.size())) return std::nullopt;
  } else if (!decompress(f->times, raw.data(), n * 8) ||
             !decompress(f->values, raw.data() + n * 8, raw.size() - n * 8)) {
    return std::nullopt;
  }
  const auto times = times_of(raw.data(), n);
  std::vector<core::Record> records(n);
  std::vector<std::uint64_t> column(n);
  for (std::size_t k = 0; k < n; ++k) records[k].ts = times[k];
  for (std::size_t c = 0; c < core::kValueCount; ++c) {
    unshuffle(raw.data() + (c + 1) * n * 8, n, column.data());
    for (std::size_t k = 0; k < n; ++k) {
      std::memcpy(core::as_array(records[k].values) + c, &column[k], 8);
    }
  }
  return records;
}

std::optional<std::vector<core::TimeUs>> decode_block_times(std::span<const std::byte> bytes) {
  const auto f = split(bytes);
  if (!f) return std::nullopt;
  const std::size_t n = f->n;
  if (f->v1) {  // one frame for everything: decode it whole
    const auto records = decode_block(bytes);
    if (!records) return std::nullopt;
    std::vector<core::TimeUs> times(n);
    for (std::size_t k = 0; k < n; ++k) times[k] = (*records)[k].ts;
    return times;
  }
  std::vector<std::byte> raw(n * 8);
  if (!decompress(f->times, raw.data(), raw.size())) return std::nullopt;
  return times_of(raw.data(), n);
}

}  // namespace remhart::store
