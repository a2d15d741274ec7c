// jwt: compact JWS signing and verification with RFC 8725 hygiene.
// Verification looks the key up by `kid` and requires the header's `alg` to equal the key's
// own algorithm; `none` and every other algorithm are refused. `crit` is refused unless
// empty of names we do not understand (we understand none). `typ` must match exactly
// (case-insensitive, "application/" prefix allowed per RFC 7515 §4.1.9). Header and claims
// must be JSON objects of valid UTF-8 without duplicate member names. Time claims are
// checked with a small leeway.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "keys.hpp"

namespace shub::auth {

enum class jwt_error {
  none,
  too_large,        // over max_token_bytes
  malformed,        // not three base64url segments / not JSON objects / bad UTF-8 / dup keys
  bad_header,       // alg missing or not a string, kid missing
  unsupported_alg,  // alg not one we implement ("none", "HS512", ...)
  unknown_kid,      // no key with that kid
  alg_mismatch,     // header alg differs from the key's own alg
  bad_signature,
  bad_typ,
  unknown_crit,
  expired,           // exp <= now - leeway
  not_yet_valid,     // nbf - leeway > now
  issued_in_future,  // iat - leeway > now
  bad_issuer,
  bad_audience,
  missing_claim,  // a required claim absent or of the wrong JSON type
};

[[nodiscard]] std::string_view to_string(jwt_error e);

struct jwt_expectations {
  std::string_view typ;       // e.g. "at+jwt"; empty = the typ header must be absent or "JWT"
  bool typ_or_plain = false;  // `typ` may also be absent or "JWT" (untyped issuers)
  std::string_view issuer;    // empty = not checked
  std::string_view audience;  // empty = not checked; else `aud` string or array must hold it
  std::int64_t now_s = 0;
  std::int64_t leeway_s = 30;
  bool require_exp = true;
  bool require_iat = true;
  std::size_t max_token_bytes = 8192;
};

struct verified_jwt {
  std::string kid;
  rapidjson::Document claims;  // the payload object
};

struct jwt_result {
  jwt_error error = jwt_error::none;
  std::unique_ptr<verified_jwt> jwt;  // set iff error == none
  [[nodiscard]] bool ok() const { return error == jwt_error::none; }
};

// Signs `claims_json` (a JSON object, written by the caller) with `k`. The header carries
// alg, typ and kid.
[[nodiscard]] std::string jwt_sign(const key& k, std::string_view typ,
                                   std::string_view claims_json);

[[nodiscard]] jwt_result jwt_verify(std::string_view token, const key_set& keys,
                                    const jwt_expectations& expect);

}  // namespace shub::auth
