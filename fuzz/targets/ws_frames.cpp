// The live stream: WebSocket frames as a client sends them (split where the first byte says),
// and every text message as a client command.
#include <vector>

#include "api/live_hub.hpp"
#include "api/ws_frame.hpp"
#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = remhart::fuzz::text(data, size);
  remhart::api::ws::FrameParser parser(64 * 1024);
  remhart::api::Subscription sub;
  const std::size_t cut = size ? data[0] % (size + 1) : 0;
  for (const auto part : {text.substr(0, cut), text.substr(cut)}) {
    std::vector<remhart::api::ws::Message> messages;
    if (parser.feed(part, messages)) break;
    for (const auto& m : messages) {
      if (m.op == remhart::api::ws::Opcode::text) {
        (void)remhart::api::apply_client_message(m.payload, sub);
      }
    }
  }
  (void)remhart::api::apply_client_message(text, sub);
  return 0;
}
