// token_corpus: one table of forged and malformed access tokens (RFC 8725's threats, RFC 7515
// and RFC 7519 edge cases, plain garbage) and of tokens at the edges that must still pass,
// shared by the unit test of jwt_verify (tests/unit/jwt_corpus_test.cpp) and the black-box
// test of the hub on HTTP and WebSocket (tests/integration/hostile_tokens_test.cpp). Each
// case is a function of a `token_world` — the verifier's key, the session the token claims
// and the clock — so the same line mints a token for a fixed instant in a unit test and for
// the real session of a running hub. A new attack is one more line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "auth/jwt.hpp"
#include "auth/keys.hpp"

namespace shub::corpus {

struct token_world {
  auth::key_ptr hub;       // the verifier's ES256 key: its kid is the one tokens claim
  auth::key_ptr attacker;  // another P-256 key (an attacker's, or another hub's)
  auth::key_ptr rsa, ed;   // keys of the other types the hub could use
  std::string hub_public_pem, hub_public_der;  // the hub's public key (HMAC confusion)
  std::string issuer = "sessionhub", audience = "sessionhub";
  std::string sub = "alice", sid = "s1";
  std::int64_t now = 1'700'000'000;  // seconds
  std::int64_t leeway = 5;           // the verifier's leeway on exp, nbf and iat
  // How far past a time boundary a "just outside" case lies (and an "inside" one stays
  // within it) where the clock's progress could carry it across: 1 s with a fixed clock,
  // more against a running hub whose clock moves between minting and checking.
  std::int64_t edge = 1;

  // The other keys generated; `hub` must be an ES256 key with its private half.
  explicit token_world(auth::key_ptr hub_key);

  [[nodiscard]] const std::string& kid() const { return hub->kid(); }
  // {"alg":…,"typ":"at+jwt","kid":<hub kid>` + extra + `}
  [[nodiscard]] std::string header(const std::string& alg = "ES256",
                                   const std::string& extra = "") const;
  // Claim members, without braces: "iss":…,"aud":…  /  "sub":…,"sid":…  /  "iat":…,"exp":…
  [[nodiscard]] std::string iss_aud() const;
  [[nodiscard]] std::string ids() const;
  [[nodiscard]] std::string times() const;
  // {iss_aud, ids, times} + extra members.
  [[nodiscard]] std::string claims(const std::string& extra = "") const;
  // {iss_aud, ids} + `members` (the time claims are the caller's).
  [[nodiscard]] std::string claims_with_times(const std::string& members) const;
  // A genuine token of the hub's key.
  [[nodiscard]] std::string good() const;
};

// base64url(header) "." base64url(claims) "." base64url(signature by k); no key: empty
// signature.
[[nodiscard]] std::string sign(const std::string& header, const std::string& claims,
                               const auth::key* k);
// As sign, with an HMAC of `sha_bits` (256, 384, 512) keyed with `secret` (any length).
[[nodiscard]] std::string hmac_sign(const std::string& header, const std::string& claims,
                                    int sha_bits, const std::string& secret);
// Segment `i` (0-based) of a dotted token.
[[nodiscard]] std::string segment(const std::string& token, int i);
// An ES256 JOSE signature (r||s) as a DER ECDSA-Sig-Value: what OpenSSL produces and checks.
[[nodiscard]] std::string der_signature(const std::string& raw);

struct token_case {
  const char* name;
  std::function<std::string(const token_world&)> token;
  auth::jwt_error expected;  // why jwt_verify refuses it; none: it must pass
};

// Every entry is refused by jwt_verify, for its reason.
[[nodiscard]] const std::vector<token_case>& forged_tokens();
// Edges that are fine: each entry passes (expected is none).
[[nodiscard]] const std::vector<token_case>& accepted_tokens();

// jwt_verify's expectations for an access token in `w`.
[[nodiscard]] auth::jwt_expectations expectations(const token_world& w);

}  // namespace shub::corpus
