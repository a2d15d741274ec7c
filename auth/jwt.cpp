// jwt: compact JWS (RFC 7515) signing and verification with RFC 8725's hygiene.
// Order of checks: size, shape, header (strict JSON, no duplicate names), algorithm and key
// (the key decides the algorithm), crit, typ, signature — and only then the claims, so no
// unauthenticated payload is ever interpreted.
#include "jwt.hpp"

#include <cctype>
#include <cmath>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base64url.hpp"

namespace shub::auth {

namespace {

constexpr std::size_t max_members = 64;
constexpr std::size_t max_kid_chars = 256;

// Strict JSON object: valid UTF-8, an object, at most max_members members, no two members
// of the same name (RFC 7515 §5.2 allows refusing them; RFC 8725 §3.2 asks to).
bool parse_object(std::string_view text, rapidjson::Document& d) {
  d.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject() || d.MemberCount() > max_members) return false;
  for (auto a = d.MemberBegin(); a != d.MemberEnd(); ++a) {
    for (auto b = a + 1; b != d.MemberEnd(); ++b) {
      if (a->name == b->name) return false;
    }
  }
  return true;
}

std::string_view str(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// RFC 7515 §4.1.9: "application/" may be omitted; compare case-insensitively.
bool typ_matches(std::string_view typ, std::string_view expected) {
  constexpr std::string_view prefix = "application/";
  if (typ.size() > prefix.size() && iequals(typ.substr(0, prefix.size()), prefix)) {
    typ.remove_prefix(prefix.size());
  }
  return iequals(typ, expected);
}

enum class time_claim { absent, bad, ok };

time_claim numeric_date(const rapidjson::Document& claims, const char* name, std::int64_t& out) {
  const auto it = claims.FindMember(name);
  if (it == claims.MemberEnd()) return time_claim::absent;
  const auto& v = it->value;
  if (v.IsInt64()) {
    out = v.GetInt64();
  } else if (v.IsDouble() && std::isfinite(v.GetDouble()) && std::fabs(v.GetDouble()) < 1e15) {
    out = static_cast<std::int64_t>(std::floor(v.GetDouble()));
  } else {
    return time_claim::bad;
  }
  return time_claim::ok;
}

jwt_error check_claims(const rapidjson::Document& claims, const jwt_expectations& ex) {
  std::int64_t exp = 0, nbf = 0, iat = 0;
  switch (numeric_date(claims, "exp", exp)) {
    case time_claim::bad:
      return jwt_error::missing_claim;
    case time_claim::absent:
      if (ex.require_exp) return jwt_error::missing_claim;
      break;
    case time_claim::ok:
      // now - leeway, not exp + leeway: an exp near INT64_MAX must not overflow.
      if (ex.now_s - ex.leeway_s >= exp) return jwt_error::expired;
  }
  switch (numeric_date(claims, "nbf", nbf)) {
    case time_claim::bad:
      return jwt_error::missing_claim;
    case time_claim::absent:
      break;
    case time_claim::ok:
      if (ex.now_s + ex.leeway_s < nbf) return jwt_error::not_yet_valid;
  }
  switch (numeric_date(claims, "iat", iat)) {
    case time_claim::bad:
      return jwt_error::missing_claim;
    case time_claim::absent:
      if (ex.require_iat) return jwt_error::missing_claim;
      break;
    case time_claim::ok:
      if (ex.now_s + ex.leeway_s < iat) return jwt_error::issued_in_future;
  }
  if (!ex.issuer.empty()) {
    const auto it = claims.FindMember("iss");
    if (it == claims.MemberEnd() || !it->value.IsString() || str(it->value) != ex.issuer) {
      return jwt_error::bad_issuer;
    }
  }
  if (!ex.audience.empty()) {
    const auto it = claims.FindMember("aud");
    bool found = false;
    if (it != claims.MemberEnd() && it->value.IsString()) {
      found = str(it->value) == ex.audience;
    } else if (it != claims.MemberEnd() && it->value.IsArray()) {
      for (const auto& a : it->value.GetArray())
        found = found || (a.IsString() && str(a) == ex.audience);
    }
    if (!found) return jwt_error::bad_audience;
  }
  return jwt_error::none;
}

}  // namespace

std::string_view to_string(jwt_error e) {
  switch (e) {
    case jwt_error::none:
      return "none";
    case jwt_error::too_large:
      return "too_large";
    case jwt_error::malformed:
      return "malformed";
    case jwt_error::bad_header:
      return "bad_header";
    case jwt_error::unsupported_alg:
      return "unsupported_alg";
    case jwt_error::unknown_kid:
      return "unknown_kid";
    case jwt_error::alg_mismatch:
      return "alg_mismatch";
    case jwt_error::bad_signature:
      return "bad_signature";
    case jwt_error::bad_typ:
      return "bad_typ";
    case jwt_error::unknown_crit:
      return "unknown_crit";
    case jwt_error::expired:
      return "expired";
    case jwt_error::not_yet_valid:
      return "not_yet_valid";
    case jwt_error::issued_in_future:
      return "issued_in_future";
    case jwt_error::bad_issuer:
      return "bad_issuer";
    case jwt_error::bad_audience:
      return "bad_audience";
    case jwt_error::missing_claim:
      return "missing_claim";
  }
  return "unknown";
}

std::string jwt_sign(const key& k, std::string_view typ, std::string_view claims_json) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const auto alg = alg_name(k.alg());
  w.StartObject();
  w.Key("alg");
  w.String(alg.data(), static_cast<rapidjson::SizeType>(alg.size()));
  w.Key("typ");
  w.String(typ.data(), static_cast<rapidjson::SizeType>(typ.size()));
  w.Key("kid");
  w.String(k.kid());
  w.EndObject();
  std::string token = base64url_encode(std::string_view(buf.GetString(), buf.GetSize()));
  token += '.';
  token += base64url_encode(claims_json);
  const std::string signature = k.sign(token);
  token += '.';
  token += base64url_encode(signature);
  return token;
}

jwt_result jwt_verify(std::string_view token, const key_set& keys, const jwt_expectations& ex) {
  jwt_result r;
  auto fail = [&r](jwt_error e) {
    r.error = e;
    return std::move(r);
  };
  if (token.size() > ex.max_token_bytes) return fail(jwt_error::too_large);
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos ||
      d1 == 0 || d2 == d1 + 1 || d2 + 1 == token.size()) {
    return fail(jwt_error::malformed);
  }
  const std::string_view header_b64 = token.substr(0, d1);
  const std::string_view payload_b64 = token.substr(d1 + 1, d2 - d1 - 1);
  const std::string_view signature_b64 = token.substr(d2 + 1);

  const auto header_json = base64url_decode(header_b64);
  rapidjson::Document header;
  if (!header_json || !parse_object(*header_json, header)) return fail(jwt_error::malformed);
  const auto alg = header.FindMember("alg");
  if (alg == header.MemberEnd() || !alg->value.IsString()) return fail(jwt_error::bad_header);
  const auto declared = alg_from_name(str(alg->value));
  if (!declared) return fail(jwt_error::unsupported_alg);
  const auto kid = header.FindMember("kid");
  if (kid == header.MemberEnd() || !kid->value.IsString()) return fail(jwt_error::bad_header);
  if (kid->value.GetStringLength() > max_kid_chars) return fail(jwt_error::unknown_kid);
  // jku, x5u, jwk and x5c are never consulted: only configured keys verify (RFC 8725 §3.10).
  const key_ptr k = keys.find(str(kid->value));
  if (!k) return fail(jwt_error::unknown_kid);
  if (k->alg() != *declared) return fail(jwt_error::alg_mismatch);
  if (header.HasMember("crit")) return fail(jwt_error::unknown_crit);  // we know no extension
  const auto typ = header.FindMember("typ");
  if (!ex.typ.empty()) {
    if (typ == header.MemberEnd() || !typ->value.IsString() ||
        !typ_matches(str(typ->value), ex.typ))
      return fail(jwt_error::bad_typ);
  } else if (typ != header.MemberEnd() &&
             (!typ->value.IsString() || !typ_matches(str(typ->value), "JWT"))) {
    return fail(jwt_error::bad_typ);
  }

  const auto signature = base64url_decode(signature_b64);
  if (!signature) return fail(jwt_error::malformed);
  if (!k->verify(token.substr(0, d2), *signature)) return fail(jwt_error::bad_signature);

  const auto payload_json = base64url_decode(payload_b64);
  auto v = std::make_unique<verified_jwt>();
  if (!payload_json || !parse_object(*payload_json, v->claims)) return fail(jwt_error::malformed);
  if (const jwt_error e = check_claims(v->claims, ex); e != jwt_error::none) return fail(e);
  v->kid = k->kid();
  r.jwt = std::move(v);
  return r;
}

}  // namespace shub::auth
