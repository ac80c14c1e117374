#include <gtest/gtest.h>

#include "api/ws_frame.hpp"

using namespace remhart::api::ws;

namespace {
// A masked client frame, as a browser sends it.
std::string client_frame(std::uint8_t first, const std::string& payload, bool masked = true) {
  std::string f;
  f.push_back(static_cast<char>(first));
  const std::size_t n = payload.size();
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (n < 126) {
    f.push_back(static_cast<char>(mask_bit | static_cast<char>(n)));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int k = 7; k >= 0; --k) f.push_back(static_cast<char>((n >> (8 * k)) & 0xFF));
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(mask, 4);
  for (std::size_t k = 0; k < n; ++k) f.push_back(masked ? payload[k] ^ mask[k % 4] : payload[k]);
  return f;
}
}  // namespace

TEST(WsFrame, AcceptKeyMatchesRfc6455Example) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsFrame, EncodesHeadersForEveryLengthClass) {
  EXPECT_EQ(frame(Opcode::text, "hi"), std::string("\x81\x02hi", 4));
  const auto mid = frame(Opcode::text, std::string(300, 'x'));
  EXPECT_EQ(static_cast<unsigned char>(mid[1]), 126);
  EXPECT_EQ(mid.size(), 304u);
  const auto big = frame(Opcode::binary, std::string(70000, 'x'));
  EXPECT_EQ(static_cast<unsigned char>(big[1]), 127);
  EXPECT_EQ(big.size(), 70010u);
}

TEST(WsFrame, DecodesMaskedFramesFedByteByByteAndReassemblesFragments) {
  FrameParser p(1 << 20);
  const std::string bytes = client_frame(0x81, "hello") + client_frame(0x01, "frag") +
                            client_frame(0x89, "ping!") + client_frame(0x80, "mented") +
                            client_frame(0x81, std::string(70000, 'z'));
  std::vector<Message> out;
  for (char c : bytes) ASSERT_FALSE(p.feed(std::string_view(&c, 1), out));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].payload, "hello");
  EXPECT_EQ(out[1].op, Opcode::ping);  // control frames may interleave with fragments
  EXPECT_EQ(out[2].payload, "fragmented");
  EXPECT_EQ(out[3].payload.size(), 70000u);
}

TEST(WsFrame, RejectsProtocolViolations) {
  auto error = [](const std::string& bytes, std::size_t max = 1024) {
    FrameParser p(max);
    std::vector<Message> out;
    return p.feed(bytes, out).has_value();
  };
  EXPECT_TRUE(error(client_frame(0x81, "x", false)));                     // unmasked
  EXPECT_TRUE(error(client_frame(0xC1, "x")));                            // RSV1 without extension
  EXPECT_TRUE(error(client_frame(0x09, "x")));                            // fragmented control
  EXPECT_TRUE(error(client_frame(0x89, std::string(126, 'x'))));          // control too long
  EXPECT_TRUE(error(client_frame(0x80, "x")));                            // stray continuation
  EXPECT_TRUE(error(client_frame(0x01, "a") + client_frame(0x81, "b")));  // interleaved data
  EXPECT_TRUE(error(client_frame(0x83, "x")));                            // unknown opcode
  EXPECT_TRUE(error(client_frame(0x81, std::string(2000, 'x'))));         // over the limit
  EXPECT_FALSE(error(client_frame(0x81, "")));
  // A declared 2^63-byte frame is refused at the header, before any allocation.
  EXPECT_TRUE(error(std::string("\x81\xFF\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 10)));
}

// RFC 6455 §5.5.1 and §8.1: a one-byte close payload and text that is not UTF-8 are protocol
// errors (the parser accepted both).
TEST(WsFrame, CloseFramesAndTextAreCheckedPerRfc6455) {
  auto feed = [](const std::string& bytes, int* code = nullptr) {
    FrameParser p(1024);
    std::vector<Message> out;
    const auto err = p.feed(bytes, out);
    if (code) *code = p.close_code();
    return err.has_value();
  };
  EXPECT_TRUE(feed(client_frame(0x88, "\x03")));                               // 1-byte close
  EXPECT_FALSE(feed(client_frame(0x88, "")));                                  // empty close
  EXPECT_FALSE(feed(client_frame(0x88, std::string("\x03\xe8", 2) + "bye")));  // 1000
  EXPECT_TRUE(feed(client_frame(0x88, std::string("\x03\xed", 2))));           // 1005 is reserved
  int code = 0;
  EXPECT_TRUE(feed(client_frame(0x81, "caf\xc3"), &code));  // truncated sequence
  EXPECT_EQ(code, 1007);
  EXPECT_TRUE(feed(client_frame(0x01, "caf\xc3") + client_frame(0x80, "\x28")));
  EXPECT_FALSE(feed(client_frame(0x01, "caf\xc3") + client_frame(0x80, "\xa9")));  // split é
  EXPECT_FALSE(feed(client_frame(0x82, "\xff\xfe")));  // binary is not text
  EXPECT_TRUE(valid_utf8("na\xc3\xafve \xe2\x82\xac \xf0\x9f\x98\x80"));
  for (const char* bad : {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff",
                          "\x80", "\xe2\x82"}) {
    EXPECT_FALSE(valid_utf8(bad)) << bad;
  }
}
