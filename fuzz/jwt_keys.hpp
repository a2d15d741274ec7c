// jwt_keys: fixed keys of every algorithm jwt_verify accepts, and the hub's expectations of
// an access token at a fixed time, shared by the JWT fuzz target and its seed generator.
#pragma once

#include <cstdint>

#include "auth/jwt.hpp"
#include "auth/keys.hpp"

namespace shub::fuzz {

struct fixed_keys {
  auth::key_ptr es256, eddsa, rs256, hs256;
  auth::key_set all;  // the four, as a verifier holds them
};

// Loaded once, on first use.
[[nodiscard]] const fixed_keys& keys();

// "Now" for every verification: the seeds' tokens are issued at this time.
inline constexpr std::int64_t fixed_now_s = 1'700'000'000;

// What the hub expects of an access token (auth/session_service.cpp): typ at+jwt, its
// issuer and audience, exp and iat required, the default clock leeway.
[[nodiscard]] inline auth::jwt_expectations access_expectations() {
  auth::jwt_expectations e;
  e.typ = "at+jwt";
  e.issuer = "sessionhub";
  e.audience = "sessionhub";
  e.now_s = fixed_now_s;
  e.leeway_s = 5;
  return e;
}

}  // namespace shub::fuzz
