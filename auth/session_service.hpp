// session_service: every rule that changes a session, in one place (PROTOCOL §1, §2).
// Creation, the four refresh-rotation rules, validation of access tokens against the
// store, idle extension, revocation and timed expiry. It holds no state of its own: each
// operation reads the session, decides, and writes back with a compare-and-set on
// `version`, retrying when another thread or replica changed the session in between. So
// racing tabs get one rotation, and concurrent timers or logouts end a session once; the
// `ended_now` flag tells the caller it is the one that must announce the logout.
// Blocking (it calls the store): the hub runs it off its network threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clock.hpp"
#include "jwt.hpp"
#include "keys.hpp"
#include "session.hpp"
#include "session_store.hpp"
#include "token_cache.hpp"

namespace shub::auth {

struct session_policy {
  std::int64_t access_ttl_s = 900;
  std::int64_t idle_timeout_s = 1800;
  std::int64_t max_age_s = 604800;
  std::int64_t reuse_interval_s = 10;
  std::int64_t leeway_s = 5;  // JWT time claims
  std::string issuer = "sessionhub";
  std::string audience = "sessionhub";
  std::size_t token_cache_entries = 50000;  // verified access tokens kept (0: none)
};

struct token_pair {
  std::string access_token;
  std::string refresh_token;
  std::int64_t expires_in = 0;  // seconds left on access_token
};

struct create_request {
  std::string sub;
  std::string claims_json = "{}";  // object; registered claim names are ignored
  std::string amr_json;            // array text or empty
  std::string idp_sid;
  std::string device_id;
  std::int64_t idle_timeout_s = 0;  // 0: the policy's
  std::int64_t max_age_s = 0;       // 0: the policy's
};

// Why a refresh or an access token was refused.
enum class denial {
  none,
  unavailable,       // the store did not answer: fail closed (503)
  unknown,           // no such refresh token / session
  revoked,           // the session had already ended
  reused,            // rule 3: reuse detected now, the session is revoked by this call
  idle_expired,      // rule 4
  absolute_expired,  // rule 4
  token_expired,     // access token past exp
  token_invalid,     // access token forged or malformed
};

[[nodiscard]] std::string_view to_string(denial d);

// The claims the hub writes itself; custom claims may not set them.
[[nodiscard]] bool is_registered_claim(std::string_view name);

struct session_outcome {
  denial why = denial::none;
  session s;               // the session as it now is (when one was found)
  token_pair tokens;       // create / refresh
  bool rotated = false;    // refresh: a new pair was minted (false: rule 2's same pair)
  bool ended_now = false;  // this call moved the session to revoked: announce the logout
  jwt_error token_error = jwt_error::none;  // validate: why the JWT was refused
  std::int64_t token_exp = 0;               // validate: the access token's exp (seconds)
  [[nodiscard]] bool ok() const { return why == denial::none; }
};

// Revocations of a set of sessions (logout of a user or a device).
struct revocation_outcome {
  denial why = denial::none;
  std::vector<session> ended;  // the sessions this call revoked
};

class session_service {
 public:
  session_service(session_store& store, const key_set& keys, const clock& clock,
                  session_policy policy);

  [[nodiscard]] session_outcome create(const create_request& req);
  // The rotation rules of PROTOCOL §2 for one presented refresh token.
  [[nodiscard]] session_outcome refresh(std::string_view refresh_token);
  // The session a current (or, within the grace, previous) refresh token belongs to,
  // without rotating it: for logout through the cookie.
  [[nodiscard]] session_outcome identify_refresh(std::string_view refresh_token);
  // Verifies an access token and checks its session in the store.
  [[nodiscard]] session_outcome validate(std::string_view access_token);
  // What an earlier verification of this exact token established (sid, sub, exp) while it
  // has not expired; nullopt when it has to be verified. Reads nothing: the session's state
  // is the caller's to know.
  [[nodiscard]] std::optional<verified_token> recall(std::string_view access_token);
  // Slides the idle expiry of an active session (extend, activity).
  [[nodiscard]] session_outcome extend(std::string_view sid);
  // Ends a session with `reason`; ended_now is false when it had ended already.
  [[nodiscard]] session_outcome revoke(std::string_view sid, std::string_view reason);
  [[nodiscard]] revocation_outcome revoke_user(std::string_view sub, std::string_view reason);
  [[nodiscard]] revocation_outcome revoke_device(std::string_view device_id,
                                                 std::string_view reason);
  // Sessions created with that identity-provider sid; when `sub` is given, only those of
  // that user (a back-channel logout token naming both).
  [[nodiscard]] revocation_outcome revoke_idp_sid(std::string_view idp_sid, std::string_view reason,
                                                  std::string_view sub = {});
  // A logout of `scope` ("session", "user" or "device") by the holder of session `s`; a
  // device scope without a known device is the session alone.
  [[nodiscard]] revocation_outcome revoke_scope(const session& s, std::string_view scope,
                                                std::string_view reason);
  // Ends the session with idle_timeout / absolute_timeout if one of its expiries passed.
  [[nodiscard]] session_outcome expire_if_due(std::string_view sid);
  // Active, unexpired sessions of a user.
  [[nodiscard]] store_result<std::vector<session>> list(std::string_view sub);

  [[nodiscard]] const session_policy& policy() const { return policy_; }
  [[nodiscard]] const clock& time() const { return clock_; }

  // A fresh random id (sid, jti, device id): 128 bits, base64url.
  [[nodiscard]] static std::string new_id();
  // A fresh refresh token for session `sid`: its 16 bytes and 256 random bits, base64url
  // (64 characters; 43, the random bits alone, for a sid that is not one of new_id()'s).
  [[nodiscard]] static std::string new_refresh_token(std::string_view sid);

 private:
  // A signed access token for `s`; `exp` receives its expiry (seconds).
  [[nodiscard]] std::string mint_access_token(const session& s, std::int64_t now_ms,
                                              std::int64_t& exp) const;
  // A token this service minted and handed out is valid by construction: its first use (the
  // first tab's auth, the token frame after a refresh) needs no signature check either.
  void remember_minted(const session& s, std::string_view access_token, std::int64_t exp_s,
                       std::int64_t now_ms);
  // Applies `change` to a fresh read of `sid` with compare-and-set, retrying on conflict.
  template <class Change>
  [[nodiscard]] session_outcome modify(std::string_view sid, Change change);
  [[nodiscard]] revocation_outcome revoke_all(store_result<std::vector<session>> listed,
                                              std::string_view reason);
  // The ended reason when `s` is past an expiry at now_ms, else empty.
  [[nodiscard]] std::string_view expiry_reason(const session& s, std::int64_t now_ms) const;

  session_store& store_;
  const key_set& keys_;
  const clock& clock_;
  session_policy policy_;
  token_cache verified_{policy_.token_cache_entries};
};

}  // namespace shub::auth
