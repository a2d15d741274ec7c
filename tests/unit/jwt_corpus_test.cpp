// A corpus of forged and malformed access tokens (RFC 8725's threats and plain garbage),
// each refused by jwt_verify with the exact reason, plus genuine tokens of every algorithm
// that must pass. Table-driven: one line per case, so a new attack is one more line.
#include <gtest/gtest.h>

#include <functional>

#include "auth/base64url.hpp"
#include "auth/jwt.hpp"
#include "auth/keys.hpp"

namespace shub::auth {
namespace {

constexpr std::int64_t now = 1'700'000'000;

struct world {
  key_ptr es = key::generate(jwt_alg::ES256);
  key_ptr other_es = key::generate(jwt_alg::ES256);
  key_ptr rsa = key::generate(jwt_alg::RS256);
  key_ptr ed = key::generate(jwt_alg::EdDSA);
  key_set keys{{es}};
  jwt_expectations expect;
  world() {
    expect.typ = "at+jwt";
    expect.issuer = "sessionhub";
    expect.audience = "sessionhub";
    expect.now_s = now;
    expect.leeway_s = 5;
  }
  std::string kid() const { return es->kid(); }
  std::string header(const std::string& alg = "ES256", const std::string& extra = "") const {
    return R"({"alg":")" + alg + R"(","typ":"at+jwt","kid":")" + kid() + "\"" + extra + "}";
  }
  static std::string claims(const std::string& override_json = "") {
    // Members later in the text replace nothing: tests that need a different value pass a
    // whole claims object instead.
    return override_json.empty()
               ? R"({"iss":"sessionhub","aud":"sessionhub","sub":"alice","sid":"s1","iat":1700000000,"exp":1700000600})"
               : override_json;
  }
  static std::string sign(const std::string& header, const std::string& claims, const key* k) {
    std::string t = base64url_encode(header) + "." + base64url_encode(claims);
    return t + "." + base64url_encode(k ? k->sign(t) : std::string{});
  }
  std::string good() const { return sign(header(), claims(), es.get()); }
};

std::string with_claims(const std::string& members) {
  return R"({"iss":"sessionhub","aud":"sessionhub","sub":"alice",)" + members + "}";
}

struct forgery {
  const char* name;
  std::function<std::string(const world&)> token;
  jwt_error expected;
};

std::string hmac_forgery(const world& w, const std::string& secret) {
  std::string error;
  const auto h = key::from_hmac_secret(secret, error);
  return world::sign(w.header("HS256"), world::claims(), h.get());
}

std::string part(const std::string& token, int i) {
  std::size_t start = 0;
  for (int k = 0; k < i; ++k)
    start = token.find('.', start) + 1;
  return token.substr(start, token.find('.', start) - start);
}

std::string noncanonical(std::string b64) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  b64.back() = alphabet[alphabet.find(b64.back()) + 1];  // same bytes, non-zero spare bits
  return b64;
}

const std::vector<forgery>& corpus() {
  static const std::vector<forgery> cases = {
      // alg "none" in every casing, unsigned or with junk bytes
      {"none",
       [](const world& w) { return world::sign(w.header("none"), world::claims(), nullptr); },
       jwt_error::malformed},
      {"None",
       [](const world& w) { return world::sign(w.header("None"), world::claims(), nullptr); },
       jwt_error::malformed},
      {"NONE",
       [](const world& w) { return world::sign(w.header("NONE"), world::claims(), nullptr); },
       jwt_error::malformed},
      {"nOnE",
       [](const world& w) { return world::sign(w.header("nOnE"), world::claims(), nullptr); },
       jwt_error::malformed},
      {"none+sig",
       [](const world& w) {
         return world::sign(w.header("none"), world::claims(), nullptr) + "AAAA";
       },
       jwt_error::unsupported_alg},
      {"None+sig",
       [](const world& w) {
         return world::sign(w.header("None"), world::claims(), nullptr) + "AAAA";
       },
       jwt_error::unsupported_alg},
      {"NONE+sig",
       [](const world& w) {
         return world::sign(w.header("NONE"), world::claims(), nullptr) + "AAAA";
       },
       jwt_error::unsupported_alg},
      {"nOnE+sig",
       [](const world& w) {
         return world::sign(w.header("nOnE"), world::claims(), nullptr) + "AAAA";
       },
       jwt_error::unsupported_alg},
      // algorithms we do not implement, or not the key's
      {"HS512",
       [](const world& w) { return world::sign(w.header("HS512"), world::claims(), w.es.get()); },
       jwt_error::unsupported_alg},
      {"ES384",
       [](const world& w) { return world::sign(w.header("ES384"), world::claims(), w.es.get()); },
       jwt_error::unsupported_alg},
      {"PS256",
       [](const world& w) { return world::sign(w.header("PS256"), world::claims(), w.es.get()); },
       jwt_error::unsupported_alg},
      {"es256 lower case",
       [](const world& w) { return world::sign(w.header("es256"), world::claims(), w.es.get()); },
       jwt_error::unsupported_alg},
      {"RS256 on the ES256 kid",
       [](const world& w) { return world::sign(w.header("RS256"), world::claims(), w.rsa.get()); },
       jwt_error::alg_mismatch},
      {"EdDSA on the ES256 kid",
       [](const world& w) { return world::sign(w.header("EdDSA"), world::claims(), w.ed.get()); },
       jwt_error::alg_mismatch},
      // HS256 keyed with public material (the classic confusion attack)
      {"HS256 keyed with the public JWK",
       [](const world& w) { return hmac_forgery(w, w.es->public_jwk_json()); },
       jwt_error::alg_mismatch},
      {"HS256 keyed with the public x||y",
       [](const world& w) { return hmac_forgery(w, std::string(40, 'x') + w.kid()); },
       jwt_error::alg_mismatch},
      {"HS256 keyed with the kid",
       [](const world& w) { return hmac_forgery(w, w.kid() + w.kid()); }, jwt_error::alg_mismatch},
      // header shape
      {"alg missing",
       [](const world& w) {
         return world::sign(R"({"typ":"at+jwt","kid":")" + w.kid() + "\"}", world::claims(),
                            w.es.get());
       },
       jwt_error::bad_header},
      {"alg a number",
       [](const world& w) {
         return world::sign(R"({"alg":256,"typ":"at+jwt","kid":")" + w.kid() + "\"}",
                            world::claims(), w.es.get());
       },
       jwt_error::bad_header},
      {"alg an array",
       [](const world& w) {
         return world::sign(R"({"alg":["ES256"],"typ":"at+jwt","kid":")" + w.kid() + "\"}",
                            world::claims(), w.es.get());
       },
       jwt_error::bad_header},
      {"kid missing",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":"at+jwt"})", world::claims(), w.es.get());
       },
       jwt_error::bad_header},
      {"kid a number",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":"at+jwt","kid":7})", world::claims(),
                            w.es.get());
       },
       jwt_error::bad_header},
      {"kid unknown",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":"at+jwt","kid":"nope"})", world::claims(),
                            w.es.get());
       },
       jwt_error::unknown_kid},
      {"kid path traversal",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":"at+jwt","kid":"../../etc/passwd"})",
                            world::claims(), w.es.get());
       },
       jwt_error::unknown_kid},
      {"kid SQL",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":"at+jwt","kid":"' OR 1=1 --"})",
                            world::claims(), w.es.get());
       },
       jwt_error::unknown_kid},
      {"kid 300 chars",
       [](const world& w) {
         return world::sign(
             R"({"alg":"ES256","typ":"at+jwt","kid":")" + std::string(300, 'k') + "\"}",
             world::claims(), w.es.get());
       },
       jwt_error::unknown_kid},
      {"kid 10 KB (token too large)",
       [](const world& w) {
         return world::sign(
             R"({"alg":"ES256","typ":"at+jwt","kid":")" + std::string(10000, 'k') + "\"}",
             world::claims(), w.es.get());
       },
       jwt_error::too_large},
      // keys offered by the token itself are never used
      {"attacker kid + embedded jwk",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.other_es->kid() +
                                R"(","jwk":)" + w.other_es->public_jwk_json() + "}",
                            world::claims(), w.other_es.get());
       },
       jwt_error::unknown_kid},
      {"our kid + embedded jwk",
       [](const world& w) {
         return world::sign(w.header("ES256", R"(,"jwk":)" + w.other_es->public_jwk_json()),
                            world::claims(), w.other_es.get());
       },
       jwt_error::bad_signature},
      {"our kid + jku",
       [](const world& w) {
         return world::sign(w.header("ES256", R"(,"jku":"http://127.0.0.1:1/jwks.json")"),
                            world::claims(), w.other_es.get());
       },
       jwt_error::bad_signature},
      {"our kid + x5u",
       [](const world& w) {
         return world::sign(w.header("ES256", R"(,"x5u":"http://127.0.0.1:1/cert.pem")"),
                            world::claims(), w.other_es.get());
       },
       jwt_error::bad_signature},
      {"our kid + x5c",
       [](const world& w) {
         return world::sign(w.header("ES256", R"(,"x5c":["MIIB"])"), world::claims(),
                            w.other_es.get());
       },
       jwt_error::bad_signature},
      // crit and typ
      {"crit unknown",
       [](const world& w) {
         return world::sign(w.header("ES256", R"(,"crit":["exp"])"), world::claims(), w.es.get());
       },
       jwt_error::unknown_crit},
      {"crit empty",
       [](const world& w) {
         return world::sign(w.header("ES256", R"(,"crit":[])"), world::claims(), w.es.get());
       },
       jwt_error::unknown_crit},
      {"typ JWT",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":"JWT","kid":")" + w.kid() + "\"}",
                            world::claims(), w.es.get());
       },
       jwt_error::bad_typ},
      {"typ logout+jwt",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":"logout+jwt","kid":")" + w.kid() + "\"}",
                            world::claims(), w.es.get());
       },
       jwt_error::bad_typ},
      {"typ missing",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","kid":")" + w.kid() + "\"}", world::claims(),
                            w.es.get());
       },
       jwt_error::bad_typ},
      {"typ a number",
       [](const world& w) {
         return world::sign(R"({"alg":"ES256","typ":1,"kid":")" + w.kid() + "\"}", world::claims(),
                            w.es.get());
       },
       jwt_error::bad_typ},
      // time claims
      {"exp 6 s ago (leeway 5)",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("iat":1699999000,"exp":1699999994)"),
                            w.es.get());
       },
       jwt_error::expired},
      {"exp long ago",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("iat":1000,"exp":2000)"), w.es.get());
       },
       jwt_error::expired},
      {"nbf 6 s ahead",
       [](const world& w) {
         return world::sign(w.header(),
                            with_claims(R"("iat":1700000000,"exp":1700000600,"nbf":1700000006)"),
                            w.es.get());
       },
       jwt_error::not_yet_valid},
      {"iat 6 s ahead",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("iat":1700000006,"exp":1700000600)"),
                            w.es.get());
       },
       jwt_error::issued_in_future},
      {"exp missing",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("iat":1700000000)"), w.es.get());
       },
       jwt_error::missing_claim},
      {"exp a string",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("iat":1700000000,"exp":"1700000600")"),
                            w.es.get());
       },
       jwt_error::missing_claim},
      {"exp 1e300",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("iat":1700000000,"exp":1e300)"), w.es.get());
       },
       jwt_error::missing_claim},
      {"exp true",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("iat":1700000000,"exp":true)"), w.es.get());
       },
       jwt_error::missing_claim},
      {"exp null",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("iat":1700000000,"exp":null)"), w.es.get());
       },
       jwt_error::missing_claim},
      {"iat missing",
       [](const world& w) {
         return world::sign(w.header(), with_claims(R"("exp":1700000600)"), w.es.get());
       },
       jwt_error::missing_claim},
      {"nbf a string",
       [](const world& w) {
         return world::sign(
             w.header(), with_claims(R"("iat":1700000000,"exp":1700000600,"nbf":"0")"), w.es.get());
       },
       jwt_error::missing_claim},
      // issuer and audience
      {"iss wrong",
       [](const world& w) {
         return world::sign(
             w.header(), R"({"iss":"evil","aud":"sessionhub","iat":1700000000,"exp":1700000600})",
             w.es.get());
       },
       jwt_error::bad_issuer},
      {"iss missing",
       [](const world& w) {
         return world::sign(w.header(), R"({"aud":"sessionhub","iat":1700000000,"exp":1700000600})",
                            w.es.get());
       },
       jwt_error::bad_issuer},
      {"iss a number",
       [](const world& w) {
         return world::sign(w.header(),
                            R"({"iss":1,"aud":"sessionhub","iat":1700000000,"exp":1700000600})",
                            w.es.get());
       },
       jwt_error::bad_issuer},
      {"iss prefix",
       [](const world& w) {
         return world::sign(
             w.header(),
             R"({"iss":"sessionhub.evil","aud":"sessionhub","iat":1700000000,"exp":1700000600})",
             w.es.get());
       },
       jwt_error::bad_issuer},
      {"aud wrong",
       [](const world& w) {
         return world::sign(w.header(),
                            R"({"iss":"sessionhub","aud":"crm","iat":1700000000,"exp":1700000600})",
                            w.es.get());
       },
       jwt_error::bad_audience},
      {"aud missing",
       [](const world& w) {
         return world::sign(w.header(), R"({"iss":"sessionhub","iat":1700000000,"exp":1700000600})",
                            w.es.get());
       },
       jwt_error::bad_audience},
      {"aud array without ours",
       [](const world& w) {
         return world::sign(
             w.header(),
             R"({"iss":"sessionhub","aud":["crm","admin"],"iat":1700000000,"exp":1700000600})",
             w.es.get());
       },
       jwt_error::bad_audience},
      {"aud a number",
       [](const world& w) {
         return world::sign(w.header(),
                            R"({"iss":"sessionhub","aud":7,"iat":1700000000,"exp":1700000600})",
                            w.es.get());
       },
       jwt_error::bad_audience},
      // a byte order mark before the JSON (RapidJSON alone would skip it)
      {"BOM before the header",
       [](const world& w) {
         return world::sign("\xEF\xBB\xBF" + w.header(), world::claims(), w.es.get());
       },
       jwt_error::malformed},
      {"BOM before the claims",
       [](const world& w) {
         return world::sign(w.header(), "\xEF\xBB\xBF" + world::claims(), w.es.get());
       },
       jwt_error::malformed},
      // duplicate member names
      {"duplicate alg in header",
       [](const world& w) {
         return world::sign(
             R"({"alg":"none","alg":"ES256","typ":"at+jwt","kid":")" + w.kid() + "\"}",
             world::claims(), w.es.get());
       },
       jwt_error::malformed},
      {"duplicate sub in claims",
       [](const world& w) {
         return world::sign(
             w.header(),
             R"({"iss":"sessionhub","aud":"sessionhub","sub":"alice","sub":"admin","iat":1700000000,"exp":1700000600})",
             w.es.get());
       },
       jwt_error::malformed},
      // segments
      {"one segment", [](const world& w) { return part(w.good(), 0); }, jwt_error::malformed},
      {"two segments", [](const world& w) { return part(w.good(), 0) + "." + part(w.good(), 1); },
       jwt_error::malformed},
      {"four segments", [](const world& w) { return w.good() + ".AAAA"; }, jwt_error::malformed},
      {"five segments (JWE shape)", [](const world& w) { return w.good() + ".AAAA.BBBB"; },
       jwt_error::malformed},
      {"empty header",
       [](const world& w) { return "." + part(w.good(), 1) + "." + part(w.good(), 2); },
       jwt_error::malformed},
      {"empty payload", [](const world& w) { return part(w.good(), 0) + ".." + part(w.good(), 2); },
       jwt_error::malformed},
      {"empty token", [](const world&) { return std::string(); }, jwt_error::malformed},
      {"dots only", [](const world&) { return std::string(".."); }, jwt_error::malformed},
      // base64url strictness
      {"padding in the header",
       [](const world& w) {
         const auto t = w.good();
         return part(t, 0) + "==." + part(t, 1) + "." + part(t, 2);
       },
       jwt_error::malformed},
      {"'+' in the signature",
       [](const world& w) {
         auto t = w.good();
         t[t.size() - 3] = '+';
         return t;
       },
       jwt_error::malformed},
      // The payload is decoded only after the signature verifies: a mangled payload fails there.
      {"'/' in the payload",
       [](const world& w) {
         const auto t = w.good();
         return part(t, 0) + "." + part(t, 1) + "/." + part(t, 2);
       },
       jwt_error::bad_signature},
      {"space inside",
       [](const world& w) {
         auto t = w.good();
         t.insert(5, " ");
         return t;
       },
       jwt_error::malformed},
      {"newline at the end", [](const world& w) { return w.good() + "\n"; }, jwt_error::malformed},
      {"non-canonical header bits",
       [](const world& w) {
         std::string h = w.header();
         while (base64url_encode(h).size() % 4 == 0)
           h.insert(h.size() - 1, " ");
         const auto t = world::sign(h, world::claims(), w.es.get());
         return noncanonical(part(t, 0)) + "." + part(t, 1) + "." + part(t, 2);
       },
       jwt_error::malformed},
      // header and payload not JSON objects, bad UTF-8
      {"header an array",
       [](const world& w) { return world::sign("[\"ES256\"]", world::claims(), w.es.get()); },
       jwt_error::malformed},
      {"header a string",
       [](const world& w) { return world::sign("\"ES256\"", world::claims(), w.es.get()); },
       jwt_error::malformed},
      {"header null",
       [](const world& w) { return world::sign("null", world::claims(), w.es.get()); },
       jwt_error::malformed},
      {"header not JSON",
       [](const world& w) { return world::sign("alg=ES256", world::claims(), w.es.get()); },
       jwt_error::malformed},
      {"header bad UTF-8",
       [](const world& w) {
         return world::sign(w.header("ES256", ",\"x\":\"\xc3\x28\""), world::claims(), w.es.get());
       },
       jwt_error::malformed},
      {"payload an array",
       [](const world& w) { return world::sign(w.header(), "[1,2]", w.es.get()); },
       jwt_error::malformed},
      {"payload a number", [](const world& w) { return world::sign(w.header(), "42", w.es.get()); },
       jwt_error::malformed},
      {"payload bad UTF-8",
       [](const world& w) {
         return world::sign(w.header(),
                            with_claims("\"iat\":1700000000,\"exp\":1700000600,\"n\":\"\xff\xfe\""),
                            w.es.get());
       },
       jwt_error::malformed},
      {"payload trailing bytes",
       [](const world& w) { return world::sign(w.header(), world::claims() + " {}", w.es.get()); },
       jwt_error::malformed},
      // RapidJSON alone ends the text at a NUL byte and skips EF, BB, BF before it
      {"header then a NUL byte and more",
       [](const world& w) {
         return world::sign(w.header() + std::string(1, '\0') + "{}", world::claims(), w.es.get());
       },
       jwt_error::malformed},
      {"payload then a NUL byte and more",
       [](const world& w) {
         return world::sign(w.header(), world::claims() + std::string(1, '\0') + "x", w.es.get());
       },
       jwt_error::malformed},
      {"header behind a byte-order mark",
       [](const world& w) {
         return world::sign("\xEF\xBB\xBF" + w.header(), world::claims(), w.es.get());
       },
       jwt_error::malformed},
      {"payload behind a stray BF byte",
       [](const world& w) { return world::sign(w.header(), "\xBF" + world::claims(), w.es.get()); },
       jwt_error::malformed},
      // signatures
      // One character short: 85 base64url characters can encode no byte string, whatever the
      // signature's bits (four short left a valid length, refused as malformed only when the
      // random signature's last character carried bits past the end).
      {"signature text cut short",
       [](const world& w) {
         const auto t = w.good();
         return t.substr(0, t.size() - 1);
       },
       jwt_error::malformed},
      {"signature 63 bytes",
       [](const world& w) {
         const auto t = w.good();
         const auto sig = *base64url_decode(part(t, 2));
         return part(t, 0) + "." + part(t, 1) + "." + base64url_encode(sig.substr(0, 63));
       },
       jwt_error::bad_signature},
      {"signature 65 bytes",
       [](const world& w) {
         const auto t = w.good();
         return part(t, 0) + "." + part(t, 1) + "." +
                base64url_encode(*base64url_decode(part(t, 2)) + "x");
       },
       jwt_error::bad_signature},
      {"signature bit flipped",
       [](const world& w) {
         const auto t = w.good();
         auto s = *base64url_decode(part(t, 2));
         s[10] ^= 1;
         return part(t, 0) + "." + part(t, 1) + "." + base64url_encode(s);
       },
       jwt_error::bad_signature},
      {"signature all zero",
       [](const world& w) {
         const auto t = w.good();
         return part(t, 0) + "." + part(t, 1) + "." + base64url_encode(std::string(64, '\0'));
       },
       jwt_error::bad_signature},
      {"payload swapped",
       [](const world& w) {
         const auto a = w.good();
         const auto b = world::sign(
             w.header(), with_claims(R"("role":"admin","iat":1700000000,"exp":1700000600)"),
             w.es.get());
         return part(a, 0) + "." + part(b, 1) + "." + part(a, 2);
       },
       jwt_error::bad_signature},
      {"signed by another key, our kid",
       [](const world& w) { return world::sign(w.header(), world::claims(), w.other_es.get()); },
       jwt_error::bad_signature},
      {"header from another key",
       [](const world& w) {
         const auto t =
             world::sign(R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.other_es->kid() + "\"}",
                         world::claims(), w.other_es.get());
         return t;
       },
       jwt_error::unknown_kid},
  };
  return cases;
}

TEST(JwtCorpus, EveryForgeryIsRefusedForItsReason) {
  const world w;
  ASSERT_EQ(jwt_verify(w.good(), w.keys, w.expect).error, jwt_error::none);
  int refused = 0;
  for (const auto& c : corpus()) {
    const auto r = jwt_verify(c.token(w), w.keys, w.expect);
    EXPECT_EQ(to_string(r.error), to_string(c.expected)) << c.name;
    EXPECT_FALSE(r.jwt) << c.name;
    refused += r.error != jwt_error::none ? 1 : 0;
  }
  std::printf("%d of %zu forged or malformed tokens refused\n", refused, corpus().size());
  EXPECT_GE(corpus().size(), 60u);
}

TEST(JwtCorpus, GenuineTokensOfEveryAlgorithmPass) {
  world w;
  std::string error;
  const auto hs = key::from_hmac_secret(std::string(32, 's'), error);
  for (const key_ptr& k : {w.es, w.rsa, w.ed, hs}) {
    const key_set keys({k});
    const auto token = jwt_sign(*k, "at+jwt", world::claims());
    const auto r = jwt_verify(token, keys, w.expect);
    EXPECT_TRUE(r.ok()) << alg_name(k->alg()) << " " << to_string(r.error);
  }
  // Edges that are fine: exp 4 s ago within the 5 s leeway, exp as far ahead as an int64
  // goes (exp + leeway once overflowed), typ with the media-type prefix, aud as an array
  // holding ours.
  for (const std::string& token :
       {world::sign(w.header(), with_claims(R"("iat":1699999000,"exp":1699999996)"), w.es.get()),
        world::sign(w.header(), with_claims(R"("iat":1700000000,"exp":9223372036854775807)"),
                    w.es.get()),
        world::sign(R"({"alg":"ES256","typ":"application/AT+JWT","kid":")" + w.kid() + "\"}",
                    world::claims(), w.es.get()),
        world::sign(
            w.header(),
            R"({"iss":"sessionhub","aud":["crm","sessionhub"],"iat":1700000000,"exp":1700000600})",
            w.es.get())}) {
    EXPECT_TRUE(jwt_verify(token, w.keys, w.expect).ok()) << token;
  }
}

TEST(JwtCorpus, DeeplyNestedClaimsDoNotCrash) {
  const world w;
  const std::string nested = std::string(2000, '[') + std::string(2000, ']');
  const auto token = world::sign(
      w.header(), with_claims("\"iat\":1700000000,\"exp\":1700000600,\"n\":" + nested), w.es.get());
  const auto r = jwt_verify(token, w.keys, w.expect);  // within max_token_bytes
  EXPECT_TRUE(r.ok() || r.error == jwt_error::malformed || r.error == jwt_error::too_large);
}

}  // namespace
}  // namespace shub::auth
