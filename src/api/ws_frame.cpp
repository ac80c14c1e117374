#include "api/ws_frame.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace remhart::api::ws {

void append_frame_header(std::string& out, Opcode op, std::size_t size) {
  out.push_back(static_cast<char>(0x80 | static_cast<std::uint8_t>(op)));
  if (size < 126) {
    out.push_back(static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int k = 7; k >= 0; --k) out.push_back(static_cast<char>((size >> (8 * k)) & 0xFF));
  }
}

std::string frame(Opcode op, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  append_frame_header(out, op, payload.size());
  out.append(payload);
  return out;
}

std::string accept_key(std::string_view client_key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(client_key);
  input.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n));
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;
    }
    if (end - p <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k <= n; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
    }
    p += n + 1;
  }
  return true;
}

namespace {
// RFC 6455 §7.4: codes a peer may send in a close frame.
bool valid_close_code(unsigned code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
         (code >= 3000 && code <= 4999);
}
}  // namespace

std::optional<std::string> FrameParser::feed(std::string_view data, std::vector<Message>& out) {
  buffer_.append(data);
  std::size_t pos = 0;
  for (;;) {
    const std::size_t avail = buffer_.size() - pos;
    if (avail < 2) break;
    const auto* p = reinterpret_cast<const std::uint8_t*>(buffer_.data() + pos);
    const bool fin = p[0] & 0x80;
    if (p[0] & 0x70) return "reserved bits set (no extension was negotiated)";
    const auto op = static_cast<Opcode>(p[0] & 0x0F);
    if (!(p[1] & 0x80)) return "client frames must be masked";
    std::uint64_t len = p[1] & 0x7F;
    std::size_t header = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (std::uint64_t{p[2]} << 8) | p[3];
      header = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int k = 0; k < 8; ++k) len = (len << 8) | p[2 + k];
      header = 10;
    }
    const bool control = static_cast<std::uint8_t>(op) & 0x08;
    if (control && (!fin || len > 125)) return "control frames must be final and at most 125 bytes";
    if (!control && len > max_message_) return "message too big";
    if (avail < header + 4 + len) break;
    const std::uint8_t* mask = p + header;
    std::string payload(reinterpret_cast<const char*>(p + header + 4),
                        static_cast<std::size_t>(len));
    for (std::size_t k = 0; k < payload.size(); ++k) payload[k] ^= static_cast<char>(mask[k % 4]);
    pos += header + 4 + static_cast<std::size_t>(len);
    switch (op) {
      case Opcode::close:
        if (payload.size() == 1) return "a close payload of one byte";
        if (payload.size() >= 2) {
          const unsigned code =
              (static_cast<std::uint8_t>(payload[0]) << 8) | static_cast<std::uint8_t>(payload[1]);
          if (!valid_close_code(code)) return "invalid close code";
          if (!valid_utf8(std::string_view(payload).substr(2))) {
            close_code_ = 1007;
            return "close reason is not UTF-8";
          }
        }
        out.push_back({op, std::move(payload)});
        break;
      case Opcode::ping:
      case Opcode::pong:
        out.push_back({op, std::move(payload)});
        break;
      case Opcode::text:
      case Opcode::binary:
        if (message_op_) return "a new message started before the previous one ended";
        if (fin) {
          if (op == Opcode::text && !valid_utf8(payload)) {
            close_code_ = 1007;
            return "text message is not UTF-8";
          }
          out.push_back({op, std::move(payload)});
        } else {
          message_op_ = op;
          message_ = std::move(payload);
        }
        break;
      case Opcode::continuation:
        if (!message_op_) return "continuation frame without a message";
        if (message_.size() + payload.size() > max_message_) return "message too big";
        message_ += payload;
        if (fin) {
          if (*message_op_ == Opcode::text && !valid_utf8(message_)) {
            close_code_ = 1007;
            return "text message is not UTF-8";
          }
          out.push_back({*message_op_, std::move(message_)});
          message_.clear();
          message_op_.reset();
        }
        break;
      default:
        return "unknown opcode";
    }
  }
  buffer_.erase(0, pos);
  return std::nullopt;
}

}  // namespace remhart::api::ws
