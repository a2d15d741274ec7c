// fuzz_client_frame: parse_client_frame (hub/client_frame.hpp), the reading of a tab's text
// frame (PROTOCOL §3) before the connection decides what it may do. The input is the
// frame's payload as the WebSocket layer hands it over.
// Properties: a frame is either refused with a reason or carries what its type needs (a
// token of 1..8192 characters, a scope of the three); and bytes that are not UTF-8 are
// never read as a frame (the WebSocket layer refuses them first; the JSON parser must too).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "hub/client_frame.hpp"
#include "hub/ws_wire.hpp"

namespace {}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using shub::client_frame_type;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const shub::client_frame f = shub::parse_client_frame(text);

  if (!shub::ws::valid_utf8(text)) FUZZ_CHECK(f.type == client_frame_type::invalid);
  switch (f.type) {
    case client_frame_type::invalid:
    case client_frame_type::unknown:
      FUZZ_CHECK(!f.error.empty());
      break;
    case client_frame_type::auth:
    case client_frame_type::resume:
    case client_frame_type::token:
      // Any decoded string is a token for the verifier to judge (a lone surrogate escape
      // decodes to bytes that are not UTF-8, and base64url refuses them); JSON escapes only
      // shrink, so it is never longer than the frame.
      FUZZ_CHECK(!f.error.empty() || f.token.size() <= text.size());
      break;
    case client_frame_type::watch:
    case client_frame_type::activity:
    case client_frame_type::extend:
      FUZZ_CHECK(f.error.empty());
      break;
    case client_frame_type::logout:
      FUZZ_CHECK(!f.error.empty() || f.scope == "session" || f.scope == "user" ||
                 f.scope == "device");
      break;
  }
  if (!f.error.empty()) FUZZ_CHECK(f.token.empty() || f.type == client_frame_type::resume);
  return 0;
}
