// client_frame: the JSON of a client frame, checked member by member. See client_frame.hpp.
#include "client_frame.hpp"

#include <rapidjson/document.h>

#include "http_util.hpp"
#include "ws_wire.hpp"

namespace shub {

namespace {

using type = client_frame_type;

type type_of(std::string_view name) {
  if (name == "auth") return type::auth;
  if (name == "resume") return type::resume;
  if (name == "watch") return type::watch;
  if (name == "token") return type::token;
  if (name == "activity") return type::activity;
  if (name == "extend") return type::extend;
  if (name == "logout") return type::logout;
  return type::unknown;
}

// Any string is a token to judge: an empty or oversized one is refused with 4001 like every
// other bad token (PROTOCOL §3: ready or 4001). Only a frame without one is malformed.
bool take_token(const rapidjson::Value& doc, client_frame& f) {
  const auto token = string_member(doc, "token");
  if (!token) return false;
  f.token = std::string(*token);
  return true;
}

}  // namespace

client_frame parse_client_frame(std::string_view text) {
  client_frame f;
  std::string why;
  // A frame's tree in a buffer on this stack: every tab's auth and every activity report is
  // one, and a larger frame (a long token) takes further chunks from the heap.
  char pool_buffer[2048];
  rapidjson::MemoryPoolAllocator<> pool(pool_buffer, sizeof pool_buffer);
  pooled_document parsed(&pool, 256, &pool);
  const rapidjson::Value& doc = parsed;  // read only from here on
  // Bytes that are not UTF-8 are never a frame (the WebSocket layer refused them already).
  // Checked here again by the WebSocket layer's validator, which runs through ASCII a word at
  // a time, so the JSON parser need not decode every character of a token once more.
  if (!ws::valid_utf8(text) || !parse_utf8_json_object(text, parsed, why)) {
    f.error = "a frame is one JSON object";
    return f;
  }
  const auto name = string_member(doc, "type");
  if (!name) {
    f.error = "the frame has no string \"type\"";
    return f;
  }
  f.type = type_of(*name);
  switch (f.type) {
    case type::auth:
    case type::resume:
      if (!take_token(doc, f)) {
        f.error = "auth needs a \"token\" string";
      } else if (f.type == type::resume) {
        const auto v = doc.FindMember("version");
        if (v == doc.MemberEnd() || !v->value.IsUint64()) {
          f.error = "resume needs a numeric \"version\"";
        } else {
          f.version = v->value.GetUint64();
        }
      }
      break;
    case type::token:
      if (!take_token(doc, f)) f.error = "token needs a \"token\" string";
      break;
    case type::logout: {
      const std::string_view scope = string_member(doc, "scope").value_or("session");
      if (scope == "session" || scope == "user" || scope == "device") {
        // A view of one of these literals, not of the document, which dies here.
        f.scope = scope == "session" ? "session" : scope == "user" ? "user" : "device";
      } else {
        f.error = "scope must be session, user or device";
      }
      break;
    }
    case type::unknown:
      f.error = "unknown frame type";
      break;
    default:
      break;
  }
  return f;
}

}  // namespace shub
