// backchannel: validation of OpenID Connect Back-Channel Logout 1.0 logout tokens (§2.6).
// The signature is checked by jwt_verify with the identity provider's keys (alg bound to the
// key, no `none`, no embedded keys, crit refused, strict UTF-8 JSON without duplicate names,
// size bound); then what makes a JWT a logout token: typ `logout+jwt` (or, for untyped
// issuers, absent / "JWT": never `at+jwt` or any other type, so an access token of the hub
// can never pass for one), iss and aud as configured, iat present and not older than
// `max_age_s`, exp checked when present, an `events` object with the back-channel logout
// member (itself an object), no `nonce`, a `jti`, and a `sid` or `sub` (or both). Each
// refusal has its own reason, for the 400 answer and the log line. The replay check needs
// the store: the caller records `replay_key()` until `remember_until_ms` (remember_jti).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "keys.hpp"

namespace shub::auth {

inline constexpr std::string_view backchannel_logout_event =
    "http://schemas.openid.net/event/backchannel-logout";

enum class logout_token_error {
  none,
  // The JWS itself (jwt_verify's refusals).
  too_large,
  malformed,
  bad_header,
  unsupported_alg,
  unknown_kid,
  alg_mismatch,
  bad_signature,
  bad_typ,
  unknown_crit,
  bad_time_claim,  // exp, nbf or iat not a number
  expired,
  not_yet_valid,
  issued_in_future,
  bad_issuer,
  bad_audience,
  // What makes it a logout token.
  missing_iat,
  too_old,         // iat further back than max_age_s
  missing_events,  // no `events` claim
  bad_events,      // `events` not an object
  not_a_logout,    // `events` without the back-channel logout member
  bad_event,       // that member's value is not an object
  nonce_present,
  missing_jti,  // absent, not a string, empty or over 256 bytes
  no_subject,   // neither sid nor sub
  bad_sid,      // not a string, empty or over 256 bytes
  bad_sub,      // not a string, empty or over 256 bytes
};

// The reason as written in the 400 answer and the log: the enumerator's name.
[[nodiscard]] std::string_view to_string(logout_token_error e);

struct logout_token_expectations {
  std::string_view issuer;    // required: the identity provider's iss
  std::string_view audience;  // required: this relying party's client id
  std::int64_t now_s = 0;
  std::int64_t leeway_s = 30;
  std::int64_t max_age_s = 600;  // tokens issued longer ago are refused
  std::size_t max_token_bytes = 8192;
};

struct logout_claims {
  std::string kid, iss, sub, sid, jti;  // sub or sid may be empty, never both
  std::int64_t iat = 0;
  std::int64_t exp = 0;  // 0 when absent
  // Until when a replay must be refused: the earlier of exp and iat + max_age, plus the
  // leeway (past it the token is refused as expired or too old anyway), in milliseconds.
  std::int64_t remember_until_ms = 0;

  // The store key of this token's jti: SHA-256 of iss and jti, hex (fixed size, any bytes).
  [[nodiscard]] std::string replay_key() const;
};

struct logout_token_result {
  logout_token_error error = logout_token_error::none;
  logout_claims claims;  // filled when error == none
  [[nodiscard]] bool ok() const { return error == logout_token_error::none; }
};

[[nodiscard]] logout_token_result verify_logout_token(std::string_view token, const key_set& keys,
                                                      const logout_token_expectations& expect);

}  // namespace shub::auth
