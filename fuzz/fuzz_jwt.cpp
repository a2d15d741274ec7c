// fuzz_jwt: auth::jwt_verify against fixed keys of all four algorithms and the hub's own
// expectations of an access token, at a fixed time. Two kinds of input:
//   a token (no newline)       verified as it is: shape, base64url, header JSON, algorithm
//                              and key, signature. A mutated token almost never carries a
//                              valid signature, so this mode seldom reaches the claims.
//   header \n claims [\n E|D]  the two JSON texts are encoded and signed here, with HS256
//                              (or ES256 for E, EdDSA for D), and the token verified: every
//                              header and claims check runs behind a valid signature.
// Properties checked besides the sanitizers': base64url has one spelling per value; a
// token that passes meets every expectation; a correctly signed token is never refused for
// its signature.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "auth/base64url.hpp"
#include "auth/jwt.hpp"
#include "fuzz_check.hpp"
#include "jwt_keys.hpp"

namespace {

using namespace shub;

// decode then encode gives back the text (RFC 7515 §2: no padding, canonical bits).
void check_canonical(std::string_view segment) {
  if (const auto bytes = auth::base64url_decode(segment)) {
    FUZZ_CHECK(auth::base64url_encode(*bytes) == segment);
  }
}

void check_verified(const auth::jwt_result& r, const auth::jwt_expectations& ex) {
  if (!r.ok()) {
    FUZZ_CHECK(r.jwt == nullptr);
    return;
  }
  FUZZ_CHECK(r.jwt != nullptr && r.jwt->claims.IsObject() && fuzz::keys().all.find(r.jwt->kid));
  const auto& c = r.jwt->claims;
  const auto iss = c.FindMember("iss");
  FUZZ_CHECK(iss != c.MemberEnd() && iss->value.IsString() && iss->value.GetString() == ex.issuer);
  const auto exp = c.FindMember("exp");
  FUZZ_CHECK(exp != c.MemberEnd() && exp->value.IsNumber());
  if (exp->value.IsInt64()) FUZZ_CHECK(ex.now_s - ex.leeway_s < exp->value.GetInt64());
  FUZZ_CHECK(c.HasMember("iat") && c.HasMember("aud"));
}

std::string_view member(const rapidjson::Document& d, const char* name) {
  const auto it = d.FindMember(name);
  if (it == d.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

void signed_token(std::string_view input, std::size_t newline, const auth::jwt_expectations& ex) {
  const std::string_view header = input.substr(0, newline);
  std::string_view claims = input.substr(newline + 1);
  const auth::key* signer = fuzz::keys().hs256.get();
  if (const auto nl = claims.find('\n'); nl != std::string_view::npos) {
    const std::string_view which = claims.substr(nl + 1);
    if (which == "E") signer = fuzz::keys().es256.get();
    if (which == "D") signer = fuzz::keys().eddsa.get();
    claims = claims.substr(0, nl);
  }
  std::string token = auth::base64url_encode(header) + "." + auth::base64url_encode(claims);
  const std::string signature = signer->sign(token);
  token += "." + auth::base64url_encode(signature);
  const auth::jwt_result r = auth::jwt_verify(token, fuzz::keys().all, ex);
  check_verified(r, ex);
  if (r.error == auth::jwt_error::bad_signature) {
    // Only another key than the signer may refuse the signature.
    rapidjson::Document h;
    h.Parse(header.data(), header.size());
    FUZZ_CHECK(h.HasParseError() || !h.IsObject() || member(h, "kid") != signer->kid());
  }
}

}  // namespace

// Keys are loaded before the first input, so its coverage is the input's own.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fuzz::keys();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auth::jwt_expectations ex = fuzz::access_expectations();
  if (const auto newline = input.find('\n'); newline != std::string_view::npos) {
    signed_token(input, newline, ex);
    return 0;
  }
  const auth::jwt_result r = auth::jwt_verify(input, fuzz::keys().all, ex);
  check_verified(r, ex);
  std::string_view rest = input;
  for (int i = 0; i < 3; ++i) {
    const auto dot = rest.find('.');
    check_canonical(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  return 0;
}
