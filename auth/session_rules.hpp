// session_rules: the small state changes of PROTOCOL §2 that session_service's files share
// (internal to auth/).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "session.hpp"
#include "session_service.hpp"

namespace shub::auth {

// Enough for any honest contention (a handful of tabs racing); more means a livelock or a
// broken store, and failing closed is the safe answer.
inline constexpr int max_cas_attempts = 16;

inline void end_session(session& s, std::string_view reason, std::int64_t now_ms) {
  s.state = session_state::revoked;
  s.end_reason = std::string(reason);
  s.ended_at = now_ms;
  s.rt_successor.clear();
  ++s.version;
}

inline void slide_idle(session& s, std::int64_t now_ms) {
  s.idle_expires_at = std::min(now_ms + s.idle_timeout_ms, s.expires_at);
}

[[nodiscard]] inline denial denial_for_expiry(std::string_view reason) {
  return reason == "absolute_timeout" ? denial::absolute_expired : denial::idle_expired;
}

}  // namespace shub::auth
