// client_frame: what a tab's text frame says (PROTOCOL §3, "Client → hub"), read from its
// JSON alone. Whether the frame is allowed now depends on the connection and is decided in
// ws_frames.cpp; this part has no state, so it can be tested and fuzzed on its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shub {

enum class client_frame_type {
  invalid,  // not one JSON object with a string "type"
  auth,
  resume,
  watch,
  token,
  activity,
  extend,
  logout,
  unknown,  // a "type" the protocol does not have
};

struct client_frame {
  client_frame_type type = client_frame_type::invalid;
  // Why the frame cannot be acted on: set for `invalid` and `unknown`, and for a known type
  // whose members are wrong (no token, no numeric version, an unknown scope). The caller
  // checks the connection's phase first, as the answer to a frame out of turn says so.
  std::string_view error;
  std::string token;                   // auth, resume, token: any string (the verifier judges it)
  std::uint64_t version = 0;           // resume: the version the tab last saw
  std::string_view scope = "session";  // logout: "session", "user" or "device"
};

[[nodiscard]] client_frame parse_client_frame(std::string_view text);

}  // namespace shub
