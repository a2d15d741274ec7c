// Logout token validation (OIDC Back-Channel Logout 1.0 §2.6) through auth/backchannel's
// public API, with real keys of the three kinds an identity provider may publish: a table
// of bad tokens, each refused with its own reason, and good ones of every key type and
// subject form accepted with the claims the hub acts on.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "auth/backchannel.hpp"
#include "auth/base64url.hpp"
#include "auth/jwt.hpp"
#include "auth/keys.hpp"
#include "auth/session_service.hpp"

namespace shub::auth {
namespace {

constexpr std::int64_t now = 1'700'000'000;
constexpr const char* issuer = "https://idp.example.test/realms/demo";
constexpr const char* audience = "sessionhub-client";
constexpr const char* event_member = R"("http://schemas.openid.net/event/backchannel-logout")";

// A JSON object as ordered name → raw JSON text members, so that a test can drop one,
// replace one, or write one twice.
struct object {
  std::vector<std::pair<std::string, std::string>> members;
  object& set(const std::string& name, const std::string& raw) {
    for (auto& m : members) {
      if (m.first == name) {
        m.second = raw;
        return *this;
      }
    }
    members.emplace_back(name, raw);
    return *this;
  }
  object& drop(const std::string& name) {
    std::erase_if(members, [&](const auto& m) { return m.first == name; });
    return *this;
  }
  object& repeat(const std::string& name, const std::string& raw) {
    members.emplace_back(name, raw);
    return *this;
  }
  [[nodiscard]] std::string text() const {
    std::string out = "{";
    for (const auto& [name, raw] : members) {
      if (out.size() > 1) out += ',';
      out += '"' + name + "\":" + raw;
    }
    return out + "}";
  }
};

std::string quoted(const std::string& s) {
  return '"' + s + '"';
}

// Header and claims exactly as written, signed by `signer` (none: an empty signature).
std::string forge(const std::string& header, const std::string& claims, const key* signer) {
  std::string token = base64url_encode(header) + "." + base64url_encode(claims);
  const std::string sig = signer ? signer->sign(token) : std::string{};
  return token + "." + base64url_encode(sig);
}

// The JWK of `k` with `kid` in place of its thumbprint.
std::string jwk_with_kid(const key& k, const std::string& kid) {
  std::string jwk = k.public_jwk_json();
  const std::string from = "\"kid\":\"" + k.kid() + "\"";
  jwk.replace(jwk.find(from), from.size(), "\"kid\":\"" + kid + "\"");
  return jwk;
}

class LogoutToken : public ::testing::Test {
 protected:
  LogoutToken()
      : es(key::generate(jwt_alg::ES256)),
        rs(key::generate(jwt_alg::RS256)),
        ed(key::generate(jwt_alg::EdDSA)) {
    // Keycloak and Auth0 name their keys themselves; the RSA key keeps its thumbprint.
    const std::string jwks = "{\"keys\":[" + jwk_with_kid(*es, "idp-es-1") + "," +
                             rs->public_jwk_json() + "," + jwk_with_kid(*ed, "idp-ed-1") + "]}";
    std::string error;
    keys = key_set::from_jwks(jwks, error);
    EXPECT_TRUE(error.empty()) << error;
    EXPECT_EQ(keys.keys().size(), 3u);
    expect.issuer = issuer;
    expect.audience = audience;
    expect.now_s = now;
    expect.leeway_s = 30;
    expect.max_age_s = 600;
    expect.max_token_bytes = 8192;
  }

  static object header(const std::string& alg = "ES256", const std::string& kid = "idp-es-1") {
    object h;
    h.set("alg", quoted(alg)).set("typ", quoted("logout+jwt")).set("kid", quoted(kid));
    return h;
  }
  static object claims() {
    object c;
    c.set("iss", quoted(issuer))
        .set("aud", quoted(audience))
        .set("iat", std::to_string(now - 10))
        .set("exp", std::to_string(now + 110))
        .set("jti", quoted("jti-1"))
        .set("sid", quoted("idp-sid-1"))
        .set("sub", quoted("alice"))
        .set("events", std::string("{") + event_member + ":{}}");
    return c;
  }
  std::string es_token(const object& h, const object& c) const {
    return forge(h.text(), c.text(), es.get());
  }
  std::string es_token(const object& c) const { return es_token(header(), c); }

  logout_token_result verify(const std::string& token) const {
    return verify_logout_token(token, keys, expect);
  }

  key_ptr es, rs, ed;
  key_set keys;
  logout_token_expectations expect;
};

struct bad_case {
  std::string name;
  std::string token;
  logout_token_error want;
};

TEST_F(LogoutToken, EveryBadTokenIsRefusedWithItsReason) {
  const std::string good_header = header().text();
  const std::string good_claims = claims().text();
  const std::string good = es_token(claims());
  const auto attacker = key::generate(jwt_alg::ES256);
  std::string error;
  const auto hmac_with_public_key = key::from_hmac_secret(jwk_with_kid(*es, "idp-es-1"), error);
  ASSERT_TRUE(hmac_with_public_key) << error;
  // What the hub itself signs: an access token, with the hub's own key (not the IdP's).
  const auto hub_key = key::generate(jwt_alg::ES256);
  const std::string access_claims =
      R"({"iss":"sessionhub","aud":"sessionhub","sub":"alice","sid":"s1","jti":"j1","iat":)" +
      std::to_string(now - 10) + R"(,"nbf":)" + std::to_string(now - 10) + R"(,"exp":)" +
      std::to_string(now + 890) + "}";
  // The same claims, made to look like a logout token, typed as an access token.
  const std::string typed_access = es_token(header().set("typ", quoted("at+jwt")), claims());
  const std::string segments = base64url_encode(good_header) + "." + base64url_encode(good_claims);
  std::string tampered = good;
  tampered[tampered.find('.') + 5] ^= 1;

  std::vector<bad_case> cases = {
      {"alg none", forge(header("none").text(), good_claims, nullptr) + "AAAA",
       logout_token_error::unsupported_alg},
      {"alg None", forge(header("None").text(), good_claims, nullptr) + "AAAA",
       logout_token_error::unsupported_alg},
      {"alg NONE", forge(header("NONE").text(), good_claims, nullptr) + "AAAA",
       logout_token_error::unsupported_alg},
      {"alg nOnE", forge(header("nOnE").text(), good_claims, nullptr) + "AAAA",
       logout_token_error::unsupported_alg},
      {"alg none, unsigned form x.y.", forge(header("none").text(), good_claims, nullptr),
       logout_token_error::malformed},
      {"alg HS512", forge(header("HS512").text(), good_claims, es.get()),
       logout_token_error::unsupported_alg},
      {"HS256 keyed with the public key",
       forge(header("HS256").text(), good_claims, hmac_with_public_key.get()),
       logout_token_error::alg_mismatch},
      {"RS256 claimed for the EC key", forge(header("RS256").text(), good_claims, rs.get()),
       logout_token_error::alg_mismatch},
      {"unknown kid", forge(header("ES256", "nope").text(), good_claims, es.get()),
       logout_token_error::unknown_kid},
      {"the thumbprint instead of the IdP's kid",
       forge(header("ES256", es->kid()).text(), good_claims, es.get()),
       logout_token_error::unknown_kid},
      {"no kid", forge(header().drop("kid").text(), good_claims, es.get()),
       logout_token_error::bad_header},
      {"no alg", forge(header().drop("alg").text(), good_claims, es.get()),
       logout_token_error::bad_header},
      {"signed by another key under our kid", forge(good_header, good_claims, attacker.get()),
       logout_token_error::bad_signature},
      {"payload altered after signing", tampered, logout_token_error::bad_signature},
      {"embedded jwk header",
       forge(header().set("jwk", attacker->public_jwk_json()).text(), good_claims, attacker.get()),
       logout_token_error::bad_signature},
      {"crit header", es_token(header().set("crit", R"(["exp"])"), claims()),
       logout_token_error::unknown_crit},
      {"typ at+jwt", typed_access, logout_token_error::bad_typ},
      {"typ secevent+jwt", es_token(header().set("typ", quoted("secevent+jwt")), claims()),
       logout_token_error::bad_typ},
      {"typ not a string", es_token(header().set("typ", "1"), claims()),
       logout_token_error::bad_typ},
      {"a hub access token", jwt_sign(*hub_key, "at+jwt", access_claims),
       logout_token_error::unknown_kid},
      {"a hub access token signed with the IdP key", jwt_sign(*rs, "at+jwt", access_claims),
       logout_token_error::bad_typ},
      {"an untyped JWT with access-token claims",
       forge(header("RS256", rs->kid()).drop("typ").text(), access_claims, rs.get()),
       logout_token_error::bad_issuer},
      {"wrong iss", es_token(claims().set("iss", quoted("https://evil.example.test"))),
       logout_token_error::bad_issuer},
      {"iss with a trailing slash",
       es_token(claims().set("iss", quoted(std::string(issuer) + "/"))),
       logout_token_error::bad_issuer},
      {"no iss", es_token(claims().drop("iss")), logout_token_error::bad_issuer},
      {"wrong aud", es_token(claims().set("aud", quoted("another-client"))),
       logout_token_error::bad_audience},
      {"aud array without us", es_token(claims().set("aud", R"(["a","b"])")),
       logout_token_error::bad_audience},
      {"no aud", es_token(claims().drop("aud")), logout_token_error::bad_audience},
      {"no iat", es_token(claims().drop("iat")), logout_token_error::missing_iat},
      {"iat a string", es_token(claims().set("iat", quoted("1700000000"))),
       logout_token_error::bad_time_claim},
      {"iat in the future", es_token(claims().set("iat", std::to_string(now + 120))),
       logout_token_error::issued_in_future},
      {"iat older than the max age, no exp",
       es_token(claims().drop("exp").set("iat", std::to_string(now - 700))),
       logout_token_error::too_old},
      {"iat older than the max age, exp still ahead",
       es_token(
           claims().set("iat", std::to_string(now - 700)).set("exp", std::to_string(now + 3600))),
       logout_token_error::too_old},
      {"iat at the very bottom of int64",
       es_token(claims().drop("exp").set("iat", "-9223372036854775808")),
       logout_token_error::too_old},
      {"exp in the past", es_token(claims().set("exp", std::to_string(now - 31))),
       logout_token_error::expired},
      {"exp a string", es_token(claims().set("exp", quoted("tomorrow"))),
       logout_token_error::bad_time_claim},
      {"nbf in the future", es_token(claims().set("nbf", std::to_string(now + 120))),
       logout_token_error::not_yet_valid},
      {"no events", es_token(claims().drop("events")), logout_token_error::missing_events},
      {"events an array", es_token(claims().set("events", std::string("[") + event_member + "]")),
       logout_token_error::bad_events},
      {"events a string", es_token(claims().set("events", event_member)),
       logout_token_error::bad_events},
      {"events without the logout member",
       es_token(claims().set("events", R"({"http://schemas.openid.net/event/other":{}})")),
       logout_token_error::not_a_logout},
      {"the logout member true",
       es_token(claims().set("events", std::string("{") + event_member + ":true}")),
       logout_token_error::bad_event},
      {"nonce present", es_token(claims().set("nonce", quoted("n-0S6_WzA2Mj"))),
       logout_token_error::nonce_present},
      {"neither sid nor sub", es_token(claims().drop("sid").drop("sub")),
       logout_token_error::no_subject},
      {"sid empty (would match every session without one)", es_token(claims().set("sid", "\"\"")),
       logout_token_error::bad_sid},
      {"sid a number", es_token(claims().set("sid", "42")), logout_token_error::bad_sid},
      {"sub over 256 bytes", es_token(claims().set("sub", quoted(std::string(257, 'a')))),
       logout_token_error::bad_sub},
      {"sub null", es_token(claims().drop("sid").set("sub", "null")), logout_token_error::bad_sub},
      {"no jti", es_token(claims().drop("jti")), logout_token_error::missing_jti},
      {"jti a number", es_token(claims().set("jti", "7")), logout_token_error::missing_jti},
      {"empty token", "", logout_token_error::malformed},
      {"two segments", segments, logout_token_error::malformed},
      {"four segments", good + ".AAAA", logout_token_error::malformed},
      {"five segments (an encrypted JWE)", segments + ".AAAA.AAAA.AAAA",
       logout_token_error::malformed},
      {"empty signature segment", segments + ".", logout_token_error::malformed},
      {"oversize", es_token(claims().set("pad", quoted(std::string(8200, 'p')))),
       logout_token_error::too_large},
      {"bad base64 in the header", "e30!" + good.substr(good.find('.')),
       logout_token_error::malformed},
      {"padding in the signature", good + "==", logout_token_error::malformed},
      {"header not JSON", forge("{alg:ES256}", good_claims, es.get()),
       logout_token_error::malformed},
      {"claims not an object", forge(good_header, "[1,2]", es.get()),
       logout_token_error::malformed},
      {"non-UTF-8 in the claims",
       forge(good_header, claims().set("sub", "\"al\xff\xfeice\"").text(), es.get()),
       logout_token_error::malformed},
      {"overlong UTF-8 in the claims",
       forge(good_header, claims().set("sub", "\"\xc0\xaf\"").text(), es.get()),
       logout_token_error::malformed},
      {"duplicate claim names",
       forge(good_header, claims().repeat("sub", quoted("bob")).text(), es.get()),
       logout_token_error::malformed},
      {"duplicate header names",
       forge(header().repeat("alg", quoted("none")).text(), good_claims, es.get()),
       logout_token_error::malformed},
  };
  ASSERT_GE(cases.size(), 30u);
  for (const auto& c : cases) {
    const auto r = verify(c.token);
    EXPECT_EQ(to_string(r.error), to_string(c.want)) << c.name;
  }
  // And the token they were all made from is good: each case fails for its own reason.
  EXPECT_TRUE(verify(good).ok());
}

TEST_F(LogoutToken, EveryKeyTypeAndSubjectFormIsAccepted) {
  struct good_case {
    std::string name;
    std::string token;
    std::string sid, sub;
  };
  const std::vector<good_case> cases = {
      {"ES256, sid only", es_token(claims().drop("sub")), "idp-sid-1", ""},
      {"RS256, sub only",
       forge(header("RS256", rs->kid()).text(), claims().drop("sid").text(), rs.get()), "",
       "alice"},
      {"EdDSA, both", forge(header("EdDSA", "idp-ed-1").text(), claims().text(), ed.get()),
       "idp-sid-1", "alice"},
  };
  for (const auto& c : cases) {
    const auto r = verify(c.token);
    ASSERT_TRUE(r.ok()) << c.name << ": " << to_string(r.error);
    EXPECT_EQ(r.claims.sid, c.sid) << c.name;
    EXPECT_EQ(r.claims.sub, c.sub) << c.name;
    EXPECT_EQ(r.claims.iss, issuer) << c.name;
    EXPECT_EQ(r.claims.jti, "jti-1") << c.name;
    EXPECT_EQ(r.claims.iat, now - 10) << c.name;
    EXPECT_EQ(r.claims.exp, now + 110) << c.name;
    // The earlier of exp and iat + max age, plus the leeway.
    EXPECT_EQ(r.claims.remember_until_ms, (now + 110 + 30) * 1000) << c.name;
  }
  EXPECT_EQ(verify(cases[0].token).claims.kid, "idp-es-1");
  EXPECT_EQ(verify(cases[1].token).claims.kid, rs->kid());
}

TEST_F(LogoutToken, TheTypesAndShapesIdentityProvidersSendAreAccepted) {
  for (const std::string typ : {"logout+jwt", "application/logout+jwt", "Logout+JWT", "JWT"}) {
    EXPECT_TRUE(verify(es_token(header().set("typ", quoted(typ)), claims())).ok()) << typ;
  }
  EXPECT_TRUE(verify(es_token(header().drop("typ"), claims())).ok()) << "no typ";
  EXPECT_TRUE(
      verify(es_token(claims().set("aud", R"(["other",")" + std::string(audience) + "\"]"))).ok());
  EXPECT_TRUE(verify(es_token(claims().set("iat", std::to_string(now - 10) + ".75"))).ok());
  EXPECT_TRUE(verify(es_token(claims().set(
                         "events", std::string("{") + event_member + R"(:{},"urn:other":[1]})")))
                  .ok());
  // Within the leeway on either side.
  EXPECT_TRUE(verify(es_token(claims().set("iat", std::to_string(now + 25)))).ok());
  EXPECT_TRUE(verify(es_token(claims().set("exp", std::to_string(now - 25)))).ok());
}

TEST_F(LogoutToken, ReplayMemoryIsBoundedByTheMaxAge) {
  // No exp: iat + max age (+ leeway).
  auto r = verify(es_token(claims().drop("exp")));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.claims.exp, 0);
  EXPECT_EQ(r.claims.remember_until_ms, (now - 10 + 600 + 30) * 1000);
  // An exp far away (the largest there is) does not make the hub remember it for ages.
  r = verify(es_token(claims().set("exp", "9223372036854775807")));
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.claims.remember_until_ms, (now - 10 + 600 + 30) * 1000);
}

TEST_F(LogoutToken, ReplayKeyIsPerIssuerAndJti) {
  const auto a = verify(es_token(claims())).claims;
  const auto b = verify(es_token(claims().set("sub", quoted("bob")))).claims;
  const auto c = verify(es_token(claims().set("jti", quoted("jti-2")))).claims;
  EXPECT_EQ(a.replay_key(), b.replay_key());
  EXPECT_NE(a.replay_key(), c.replay_key());
  EXPECT_EQ(a.replay_key().size(), 64u);
  logout_claims other_issuer = a;
  other_issuer.iss = "https://another.example.test";
  EXPECT_NE(a.replay_key(), other_issuer.replay_key());
}

TEST_F(LogoutToken, IssuerAndAudienceAreNeverLeftUnchecked) {
  const std::string token = es_token(claims());
  logout_token_expectations loose = expect;
  loose.issuer = "";
  EXPECT_EQ(verify_logout_token(token, keys, loose).error, logout_token_error::bad_issuer);
  loose = expect;
  loose.audience = "";
  EXPECT_EQ(verify_logout_token(token, keys, loose).error, logout_token_error::bad_issuer);
}

TEST(LogoutTokenJwks, EncryptionKeysAndDuplicateKidsAreLeftOut) {
  const auto a = key::generate(jwt_alg::ES256);
  const auto b = key::generate(jwt_alg::ES256);
  std::string enc = jwk_with_kid(*b, "enc-1");
  enc.replace(enc.find("\"use\":\"sig\""), 11, "\"use\":\"enc\"");
  const std::string jwks =
      "{\"keys\":[" + jwk_with_kid(*a, "k1") + "," + jwk_with_kid(*b, "k1") + "," + enc + "]}";
  std::string error;
  const key_set set = key_set::from_jwks(jwks, error);
  ASSERT_EQ(set.keys().size(), 1u);
  EXPECT_EQ(set.find("k1"), set.keys().front());
  EXPECT_TRUE(set.find("k1")->verify("x", a->sign("x")));
  EXPECT_NE(error.find("kid k1"), std::string::npos) << error;
  EXPECT_NE(error.find("enc"), std::string::npos) << error;
}

}  // namespace
}  // namespace shub::auth
