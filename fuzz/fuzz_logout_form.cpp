// fuzz_logout_form: POST /v1/backchannel-logout's body as the hub reads it: hub/http_util's
// parse_form, then every logout_token field through auth::verify_logout_token against the
// fixed keys (jwt_keys.cpp) and an identity provider's expectations.
// Properties: a parsed field is never longer than the body; a body without '%' always
// parses; a token that verifies names a jti and a sid or a sub, and is remembered for a
// positive time no longer than the max age and leeway past now.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "auth/backchannel.hpp"
#include "fuzz_check.hpp"
#include "hub/http_util.hpp"
#include "jwt_keys.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace shub;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto fields = parse_form(body);
  if (body.find('%') == std::string_view::npos) FUZZ_CHECK(fields.has_value());
  if (!fields) return 0;
  auth::logout_token_expectations expect;
  expect.issuer = "https://idp.example.test/realms/acme";
  expect.audience = "sessionhub-rp";
  expect.now_s = fuzz::fixed_now_s;
  for (const auto& f : *fields) {
    FUZZ_CHECK(f.name.size() <= body.size() && f.value.size() <= body.size());
    if (f.name != "logout_token") continue;
    const auto r = auth::verify_logout_token(f.value, fuzz::keys().all, expect);
    if (!r.ok()) continue;
    FUZZ_CHECK(!r.claims.jti.empty());
    FUZZ_CHECK(!r.claims.sid.empty() || !r.claims.sub.empty());
    FUZZ_CHECK(r.claims.remember_until_ms > 0);
    FUZZ_CHECK(r.claims.remember_until_ms <=
               (fuzz::fixed_now_s + expect.max_age_s + expect.leeway_s) * 1000);
  }
  return 0;
}
