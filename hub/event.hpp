// event: what the hub pushes to tabs (PROTOCOL §3 "Events"), and its one encoding.
// An event names its channels and carries its data as JSON text. encode_frame() writes the
// whole `{"type":"event",...}` text once; fanout wraps it in one WebSocket frame, and every
// recipient on every worker queues those same immutable bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/session.hpp"

namespace shub {

struct event {
  std::string name;                   // login, logout, session.extended, ... or a custom name
  std::vector<std::string> channels;  // session:<sid>, user:<sub>, device:<did>
  std::string data_json = "{}";       // the data object
  std::uint64_t version = 0;          // the session version it reflects; 0 = none
  std::string ends_sid;               // logout: that session's connections close with 4010
};

[[nodiscard]] inline std::string session_channel(std::string_view sid) {
  return "session:" + std::string(sid);
}
[[nodiscard]] inline std::string user_channel(std::string_view sub) {
  return "user:" + std::string(sub);
}
[[nodiscard]] inline std::string device_channel(std::string_view did) {
  return "device:" + std::string(did);
}

// The contract's events, built from the session they concern.
[[nodiscard]] event login_event(const auth::session& s);
[[nodiscard]] event logout_event(const auth::session& s, std::string_view scope);
[[nodiscard]] event extended_event(const auth::session& s);
[[nodiscard]] event expiring_event(std::string_view sid, std::int64_t idle_expires_at,
                                   std::int64_t warn_before_s, std::uint64_t version);
[[nodiscard]] event refreshed_event(const auth::session& s, std::int64_t expires_in);

// {"type":"event","id","event","version"?,"at","data"}
[[nodiscard]] std::string encode_frame(const event& e, std::string_view id, std::int64_t at_ms);

// Names reserved for the hub's own events; POST /v1/publish refuses them.
[[nodiscard]] bool reserved_event_name(std::string_view name);

}  // namespace shub
