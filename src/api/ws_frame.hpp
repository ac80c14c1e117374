#pragma once
// WebSocket framing (RFC 6455) for the server side: encoding unmasked frames, decoding masked
// client frames with fragmentation and control frames, and the handshake accept key.
// Owning the framing lets a session send many queued messages in one socket write.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remhart::api::ws {

enum class Opcode : std::uint8_t {
  continuation = 0,
  text = 1,
  binary = 2,
  close = 8,
  ping = 9,
  pong = 10,
};

/// A complete client message (data messages reassembled) or control frame.
struct Message {
  Opcode op;
  std::string payload;
};

/// Appends the header of an unmasked, final server frame carrying `size` payload bytes.
void append_frame_header(std::string& out, Opcode op, std::size_t size);
/// A whole server frame (header and payload).
std::string frame(Opcode op, std::string_view payload);

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

/// Incremental decoder of client frames. Feed it bytes as they arrive.
/// Whether `s` is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points
/// above U+10FFFF).
bool valid_utf8(std::string_view s);

class FrameParser {
 public:
  explicit FrameParser(std::size_t max_message) : max_message_(max_message) {}

  /// Decodes what `data` completes. Returns a protocol error description, or nullopt.
  /// After an error the connection must be closed, with `close_code()`.
  std::optional<std::string> feed(std::string_view data, std::vector<Message>& out);
  /// The close status for the last error: 1007 for text that is not UTF-8, else 1002.
  int close_code() const { return close_code_; }

 private:
  std::size_t max_message_;
  int close_code_ = 1002;
  std::string buffer_;
  std::string message_;               // data message being reassembled
  std::optional<Opcode> message_op_;  // its opcode while fragmented
};

}  // namespace remhart::api::ws
