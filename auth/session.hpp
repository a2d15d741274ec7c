// session: one login of one user in one browser, as the store keeps it (PROTOCOL §1).
// Plain data: the rules that change a session live in session_service, the persistence in
// a session_store. Times are Unix epoch milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shub::auth {

enum class session_state { active = 0, revoked = 1 };

[[nodiscard]] inline std::string_view to_string(session_state s) {
  return s == session_state::active ? "active" : "revoked";
}

struct session {
  std::string sid;
  std::string sub;
  std::string device_id;    // the browser's shub_did; empty when unknown
  std::string idp_sid;      // the identity provider's session id (back-channel logout)
  std::string claims_json;  // custom access-token claims: a JSON object's text, "{}" if none
  std::string amr_json;     // authentication methods: a JSON array's text, empty if none
  std::int64_t created_at = 0;
  std::int64_t auth_time = 0;
  std::int64_t idle_expires_at = 0;  // sliding
  std::int64_t expires_at = 0;       // absolute
  std::int64_t idle_timeout_ms = 0;  // this session's sliding window
  std::uint64_t version = 1;         // +1 on every state change
  session_state state = session_state::active;
  std::string end_reason;  // when revoked: user_logout, admin, idle_timeout, ...
  std::int64_t ended_at = 0;

  // The refresh-token family (PROTOCOL §2 rotation rules).
  std::uint64_t rt_generation = 0;  // generation of the current refresh token
  std::int64_t rt_rotated_at = 0;   // when the current token succeeded the previous one
  // (current refresh token, its access token) sealed under the previous refresh token, so
  // only a holder of that previous token can get the same pair back within the grace.
  std::string rt_successor;

  [[nodiscard]] bool active() const { return state == session_state::active; }
};

// One refresh token ever issued for a session, found by its hash.
struct refresh_record {
  std::string hash;  // SHA-256 of the token, 32 raw bytes
  std::string sid;
  std::uint64_t generation = 0;
};

}  // namespace shub::auth
