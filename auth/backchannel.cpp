// backchannel: logout token validation, in the order of OIDC Back-Channel Logout 1.0 §2.6.
// jwt_verify first (nothing in the payload is read before the signature holds), then the
// logout token's own rules on the verified claims.
#include "backchannel.hpp"

#include <algorithm>
#include <cmath>

#include "crypto.hpp"
#include "jwt.hpp"

namespace shub::auth {

namespace {

constexpr std::size_t max_id_bytes = 256;  // sid, sub and jti; as idp_sid at POST /v1/sessions

logout_token_error from_jwt(jwt_error e) {
  switch (e) {
    case jwt_error::none:
      return logout_token_error::none;
    case jwt_error::too_large:
      return logout_token_error::too_large;
    case jwt_error::malformed:
      return logout_token_error::malformed;
    case jwt_error::bad_header:
      return logout_token_error::bad_header;
    case jwt_error::unsupported_alg:
      return logout_token_error::unsupported_alg;
    case jwt_error::unknown_kid:
      return logout_token_error::unknown_kid;
    case jwt_error::alg_mismatch:
      return logout_token_error::alg_mismatch;
    case jwt_error::bad_signature:
      return logout_token_error::bad_signature;
    case jwt_error::bad_typ:
      return logout_token_error::bad_typ;
    case jwt_error::unknown_crit:
      return logout_token_error::unknown_crit;
    case jwt_error::expired:
      return logout_token_error::expired;
    case jwt_error::not_yet_valid:
      return logout_token_error::not_yet_valid;
    case jwt_error::issued_in_future:
      return logout_token_error::issued_in_future;
    case jwt_error::bad_issuer:
      return logout_token_error::bad_issuer;
    case jwt_error::bad_audience:
      return logout_token_error::bad_audience;
    case jwt_error::missing_claim:  // no claim is required of jwt_verify here: a bad type
      return logout_token_error::bad_time_claim;
  }
  return logout_token_error::malformed;
}

// A NumericDate jwt_verify has already checked the type of (integer or finite number).
bool numeric_date(const rapidjson::Value& claims, const char* name, std::int64_t& out) {
  const auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) return false;
  out = it->value.IsInt64() ? it->value.GetInt64()
                            : static_cast<std::int64_t>(std::floor(it->value.GetDouble()));
  return true;
}

enum class id_claim { absent, bad, ok };

id_claim identifier(const rapidjson::Value& claims, const char* name, std::string& out) {
  const auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) return id_claim::absent;
  if (!it->value.IsString() || it->value.GetStringLength() == 0 ||
      it->value.GetStringLength() > max_id_bytes)
    return id_claim::bad;
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return id_claim::ok;
}

}  // namespace

std::string_view to_string(logout_token_error e) {
  switch (e) {
    case logout_token_error::none:
      return "none";
    case logout_token_error::too_large:
      return "too_large";
    case logout_token_error::malformed:
      return "malformed";
    case logout_token_error::bad_header:
      return "bad_header";
    case logout_token_error::unsupported_alg:
      return "unsupported_alg";
    case logout_token_error::unknown_kid:
      return "unknown_kid";
    case logout_token_error::alg_mismatch:
      return "alg_mismatch";
    case logout_token_error::bad_signature:
      return "bad_signature";
    case logout_token_error::bad_typ:
      return "bad_typ";
    case logout_token_error::unknown_crit:
      return "unknown_crit";
    case logout_token_error::bad_time_claim:
      return "bad_time_claim";
    case logout_token_error::expired:
      return "expired";
    case logout_token_error::not_yet_valid:
      return "not_yet_valid";
    case logout_token_error::issued_in_future:
      return "issued_in_future";
    case logout_token_error::bad_issuer:
      return "bad_issuer";
    case logout_token_error::bad_audience:
      return "bad_audience";
    case logout_token_error::missing_iat:
      return "missing_iat";
    case logout_token_error::too_old:
      return "too_old";
    case logout_token_error::missing_events:
      return "missing_events";
    case logout_token_error::bad_events:
      return "bad_events";
    case logout_token_error::not_a_logout:
      return "not_a_logout";
    case logout_token_error::bad_event:
      return "bad_event";
    case logout_token_error::nonce_present:
      return "nonce_present";
    case logout_token_error::missing_jti:
      return "missing_jti";
    case logout_token_error::no_subject:
      return "no_subject";
    case logout_token_error::bad_sid:
      return "bad_sid";
    case logout_token_error::bad_sub:
      return "bad_sub";
  }
  return "unknown";
}

std::string logout_claims::replay_key() const {
  std::string material = iss;
  material += '\0';
  material += jti;
  return to_hex(sha256(material));
}

logout_token_result verify_logout_token(std::string_view token, const key_set& keys,
                                        const logout_token_expectations& ex) {
  logout_token_result r;
  auto fail = [&r](logout_token_error e) {
    r.error = e;
    return std::move(r);
  };
  jwt_expectations jex;
  jex.typ = "logout+jwt";
  jex.typ_or_plain = true;
  jex.issuer = ex.issuer;
  jex.audience = ex.audience;
  jex.now_s = ex.now_s;
  jex.leeway_s = ex.leeway_s;
  jex.require_exp = false;  // §2.4: exp is optional; iat is checked below with its own reason
  jex.require_iat = false;
  jex.max_token_bytes = ex.max_token_bytes;
  // An issuer and an audience are required of every logout token: never "not checked".
  if (ex.issuer.empty() || ex.audience.empty()) return fail(logout_token_error::bad_issuer);
  const jwt_result v = jwt_verify(token, keys, jex);
  if (!v.ok()) return fail(from_jwt(v.error));
  const rapidjson::Document& c = v.jwt->claims;

  logout_claims& out = r.claims;
  if (!numeric_date(c, "iat", out.iat)) return fail(logout_token_error::missing_iat);
  // Written so that no extreme iat can overflow; past this check iat is within a few
  // minutes of now.
  if (ex.now_s - ex.leeway_s - ex.max_age_s >= out.iat) return fail(logout_token_error::too_old);
  (void)numeric_date(c, "exp", out.exp);

  const auto events = c.FindMember("events");
  if (events == c.MemberEnd()) return fail(logout_token_error::missing_events);
  if (!events->value.IsObject()) return fail(logout_token_error::bad_events);
  const auto logout = events->value.FindMember(
      rapidjson::StringRef(backchannel_logout_event.data(), backchannel_logout_event.size()));
  if (logout == events->value.MemberEnd()) return fail(logout_token_error::not_a_logout);
  if (!logout->value.IsObject()) return fail(logout_token_error::bad_event);
  // §2.4: a nonce is what tells an ID Token apart; one here means a token of another kind.
  if (c.HasMember("nonce")) return fail(logout_token_error::nonce_present);

  if (identifier(c, "jti", out.jti) != id_claim::ok) return fail(logout_token_error::missing_jti);
  const id_claim sid = identifier(c, "sid", out.sid);
  const id_claim sub = identifier(c, "sub", out.sub);
  if (sid == id_claim::bad) return fail(logout_token_error::bad_sid);
  if (sub == id_claim::bad) return fail(logout_token_error::bad_sub);
  if (sid == id_claim::absent && sub == id_claim::absent)
    return fail(logout_token_error::no_subject);

  out.kid = v.jwt->kid;
  out.iss.assign(ex.issuer);  // jwt_verify matched it exactly
  std::int64_t until_s = out.iat + ex.max_age_s;
  if (out.exp != 0) until_s = std::min(until_s, out.exp);
  out.remember_until_ms = (until_s + ex.leeway_s) * 1000;
  return r;
}

}  // namespace shub::auth
