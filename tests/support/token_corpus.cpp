// token_corpus: see token_corpus.hpp. The cases are grouped by the attack they stand for;
// within a group, one line per variant.
#include "token_corpus.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <limits>
#include <stdexcept>

#include "auth/base64url.hpp"

namespace shub::corpus {

namespace {

using E = auth::jwt_error;
using W = const token_world&;

std::string n(std::int64_t v) {
  return std::to_string(v);
}

std::string q(const std::string& s) {
  return "\"" + s + "\"";
}

// The public half of an ES256 key as SubjectPublicKeyInfo, in PEM and DER.
void public_forms(const auth::key& k, std::string& pem, std::string& der) {
  const std::string priv = k.private_pem();
  BIO* in = BIO_new_mem_buf(priv.data(), static_cast<int>(priv.size()));
  EVP_PKEY* pkey = in ? PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(in);
  if (!pkey) throw std::runtime_error("token_corpus: cannot read the hub's key");
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(out, pkey);
  char* data = nullptr;
  const long len = BIO_get_mem_data(out, &data);
  pem.assign(data, static_cast<std::size_t>(len));
  BIO_free(out);
  unsigned char* raw = nullptr;
  const int der_len = i2d_PUBKEY(pkey, &raw);
  der.assign(reinterpret_cast<char*>(raw), static_cast<std::size_t>(der_len));
  OPENSSL_free(raw);
  EVP_PKEY_free(pkey);
}

std::string hmac(const std::string& secret, const std::string& input, int sha_bits) {
  const std::string digest = "SHA" + std::to_string(sha_bits);
  unsigned char out[64];
  std::size_t len = 0;
  // A zero-length key is still a key to HMAC (RFC 2104); OpenSSL wants a non-null pointer.
  static const unsigned char empty = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&empty) : secret.data();
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, digest.c_str(), nullptr, key, secret.size(),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
                 sizeof out, &len)) {
    throw std::runtime_error("token_corpus: HMAC failed");
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

// The same bytes spelt with non-zero spare bits in the last character (base64url allows
// one spelling only).
std::string noncanonical(std::string b64) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  b64.back() = alphabet[alphabet.find(b64.back()) + 1];
  return b64;
}

// A header whose base64url text ends in a character with spare bits (length % 4 != 0).
std::string header_with_spare_bits(W w) {
  std::string h = w.header();
  while (auth::base64url_encode(h).size() % 4 == 0)
    h.insert(h.size() - 1, " ");
  return h;
}

std::string with_header(W w, const std::string& header) {
  return sign(header, w.claims(), w.hub.get());
}

std::string with_claims(W w, const std::string& claims) {
  return sign(w.header(), claims, w.hub.get());
}

std::string with_times(W w, const std::string& times) {
  return with_claims(w, w.claims_with_times(times));
}

// The hub's header with `alg` and no kid.
std::string header_no_kid(const std::string& alg) {
  return R"({"alg":")" + alg + R"(","typ":"at+jwt"})";
}

// The good token with its text changed by `edit`.
template <class Edit>
std::string edited(W w, Edit edit) {
  std::string t = w.good();
  edit(t);
  return t;
}

// The good token with segment `i` replaced.
std::string replace_segment(W w, int i, const std::string& text) {
  const std::string t = w.good();
  std::string parts[3] = {segment(t, 0), segment(t, 1), segment(t, 2)};
  parts[i] = text;
  return parts[0] + "." + parts[1] + "." + parts[2];
}

std::string good_signature(W w) {
  return *auth::base64url_decode(segment(w.good(), 2));
}

std::string p256_order() {
  static const unsigned char n_bytes[32] = {0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
                                            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                            0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84,
                                            0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};
  return std::string(reinterpret_cast<const char*>(n_bytes), 32);
}

const std::string logout_events =
    R"("events":{"http://schemas.openid.net/event/backchannel-logout":{}})";

std::vector<token_case> make_forged() {
  return {
      // ---- alg "none" in every casing, with and without a signature segment -------------
      {"alg none, no signature", [](W w) { return sign(w.header("none"), w.claims(), nullptr); },
       E::malformed},
      {"alg None, no signature", [](W w) { return sign(w.header("None"), w.claims(), nullptr); },
       E::malformed},
      {"alg NONE, no signature", [](W w) { return sign(w.header("NONE"), w.claims(), nullptr); },
       E::malformed},
      {"alg nOnE, no signature", [](W w) { return sign(w.header("nOnE"), w.claims(), nullptr); },
       E::malformed},
      {"alg none, no kid, no signature",
       [](W w) { return sign(header_no_kid("none"), w.claims(), nullptr); }, E::malformed},
      {"alg none, signed by the hub's key",
       [](W w) { return sign(w.header("none"), w.claims(), w.hub.get()); }, E::unsupported_alg},
      {"alg None, signed by the hub's key",
       [](W w) { return sign(w.header("None"), w.claims(), w.hub.get()); }, E::unsupported_alg},
      {"alg NONE, signed by the hub's key",
       [](W w) { return sign(w.header("NONE"), w.claims(), w.hub.get()); }, E::unsupported_alg},
      {"alg nOnE, signed by the hub's key",
       [](W w) { return sign(w.header("nOnE"), w.claims(), w.hub.get()); }, E::unsupported_alg},
      {"alg NoNe, junk signature",
       [](W w) { return sign(w.header("NoNe"), w.claims(), nullptr) + "AAAA"; },
       E::unsupported_alg},
      {"alg none, no kid, junk signature",
       [](W w) { return sign(header_no_kid("none"), w.claims(), nullptr) + "AAAA"; },
       E::unsupported_alg},
      {"alg empty", [](W w) { return with_header(w, w.header("")); }, E::unsupported_alg},
      {"alg 'none ' (trailing space)", [](W w) { return with_header(w, w.header("none ")); },
       E::unsupported_alg},

      // ---- algorithms we do not implement, or not the key's ------------------------------
      {"alg ES384", [](W w) { return with_header(w, w.header("ES384")); }, E::unsupported_alg},
      {"alg ES512", [](W w) { return with_header(w, w.header("ES512")); }, E::unsupported_alg},
      {"alg PS256", [](W w) { return with_header(w, w.header("PS256")); }, E::unsupported_alg},
      {"alg RS384", [](W w) { return with_header(w, w.header("RS384")); }, E::unsupported_alg},
      {"alg es256 (lower case)", [](W w) { return with_header(w, w.header("es256")); },
       E::unsupported_alg},
      {"alg ES256 with an escaped NUL after it",
       [](W w) { return with_header(w, w.header("ES256\\u0000")); }, E::unsupported_alg},
      {"alg Ed25519 (a curve, not a JOSE alg)",
       [](W w) { return sign(w.header("Ed25519"), w.claims(), w.ed.get()); }, E::unsupported_alg},
      {"RS256 signed by an RSA key, the hub's kid",
       [](W w) { return sign(w.header("RS256"), w.claims(), w.rsa.get()); }, E::alg_mismatch},
      {"EdDSA signed by an Ed25519 key, the hub's kid",
       [](W w) { return sign(w.header("EdDSA"), w.claims(), w.ed.get()); }, E::alg_mismatch},

      // ---- HMAC keyed with the hub's public key (the classic confusion) -------------------
      {"HS256 keyed with the public key in PEM",
       [](W w) { return hmac_sign(w.header("HS256"), w.claims(), 256, w.hub_public_pem); },
       E::alg_mismatch},
      {"HS256 keyed with the public key in DER",
       [](W w) { return hmac_sign(w.header("HS256"), w.claims(), 256, w.hub_public_der); },
       E::alg_mismatch},
      {"HS256 keyed with the public JWK",
       [](W w) { return hmac_sign(w.header("HS256"), w.claims(), 256, w.hub->public_jwk_json()); },
       E::alg_mismatch},
      {"HS256 keyed with the PEM without its final newline",
       [](W w) {
         std::string pem = w.hub_public_pem;
         pem.pop_back();
         return hmac_sign(w.header("HS256"), w.claims(), 256, pem);
       },
       E::alg_mismatch},
      {"HS256 keyed with the raw EC point (DER's last 65 bytes)",
       [](W w) {
         return hmac_sign(w.header("HS256"), w.claims(), 256,
                          w.hub_public_der.substr(w.hub_public_der.size() - 65));
       },
       E::alg_mismatch},
      {"HS256 keyed with the kid",
       [](W w) { return hmac_sign(w.header("HS256"), w.claims(), 256, w.kid()); }, E::alg_mismatch},
      {"HS384 keyed with the public key in PEM",
       [](W w) { return hmac_sign(w.header("HS384"), w.claims(), 384, w.hub_public_pem); },
       E::unsupported_alg},
      {"HS384 keyed with the public key in DER",
       [](W w) { return hmac_sign(w.header("HS384"), w.claims(), 384, w.hub_public_der); },
       E::unsupported_alg},
      {"HS384 keyed with the public JWK",
       [](W w) { return hmac_sign(w.header("HS384"), w.claims(), 384, w.hub->public_jwk_json()); },
       E::unsupported_alg},
      {"HS512 keyed with the public key in PEM",
       [](W w) { return hmac_sign(w.header("HS512"), w.claims(), 512, w.hub_public_pem); },
       E::unsupported_alg},
      {"HS512 keyed with the public key in DER",
       [](W w) { return hmac_sign(w.header("HS512"), w.claims(), 512, w.hub_public_der); },
       E::unsupported_alg},
      {"HS512 keyed with the public JWK",
       [](W w) { return hmac_sign(w.header("HS512"), w.claims(), 512, w.hub->public_jwk_json()); },
       E::unsupported_alg},
      {"HS256 with an empty key",
       [](W w) { return hmac_sign(w.header("HS256"), w.claims(), 256, ""); }, E::alg_mismatch},
      {"HS256 with an empty key and no kid",
       [](W w) { return hmac_sign(header_no_kid("HS256"), w.claims(), 256, ""); }, E::bad_header},
      {"HS512 with an empty key",
       [](W w) { return hmac_sign(w.header("HS512"), w.claims(), 512, ""); }, E::unsupported_alg},
      {"HS256 keyed with the PEM, a kid of its own",
       [](W w) {
         return hmac_sign(R"({"alg":"HS256","typ":"at+jwt","kid":"hmac-1"})", w.claims(), 256,
                          w.hub_public_pem);
       },
       E::unknown_kid},

      // ---- alg and kid of the wrong shape -----------------------------------------------
      {"alg missing",
       [](W w) { return with_header(w, R"({"typ":"at+jwt","kid":")" + w.kid() + "\"}"); },
       E::bad_header},
      {"alg a number",
       [](W w) { return with_header(w, R"({"alg":256,"typ":"at+jwt","kid":")" + w.kid() + "\"}"); },
       E::bad_header},
      {"alg an array",
       [](W w) {
         return with_header(w, R"({"alg":["ES256"],"typ":"at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::bad_header},
      {"alg null",
       [](W w) {
         return with_header(w, R"({"alg":null,"typ":"at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::bad_header},
      {"alg an object",
       [](W w) {
         return with_header(w,
                            R"({"alg":{"name":"ES256"},"typ":"at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::bad_header},
      {"kid missing", [](W w) { return with_header(w, header_no_kid("ES256")); }, E::bad_header},
      {"kid a number",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":7})"); },
       E::bad_header},
      {"kid null",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":null})"); },
       E::bad_header},
      {"kid true",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":true})"); },
       E::bad_header},
      {"kid an array holding the hub's kid",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":[")" + w.kid() + "\"]}");
       },
       E::bad_header},
      {"kid an object",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":{"id":")" + w.kid() + "\"}}");
       },
       E::bad_header},
      {"kid unknown",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":"nope"})"); },
       E::unknown_kid},
      {"kid empty",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":""})"); },
       E::unknown_kid},
      {"kid path traversal",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":"../../etc/passwd"})");
       },
       E::unknown_kid},
      {"kid encoded path traversal",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":"..%2f..%2fetc%2fpasswd"})");
       },
       E::unknown_kid},
      {"kid an absolute path",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":"/dev/null"})"); },
       E::unknown_kid},
      {"kid a URL",
       [](W w) {
         return with_header(w,
                            R"({"alg":"ES256","typ":"at+jwt","kid":"http://127.0.0.1:1/key.pem"})");
       },
       E::unknown_kid},
      {"kid SQL",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":"' OR 1=1 --"})"); },
       E::unknown_kid},
      {"kid the hub's with an escaped NUL after it",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.kid() + "\\u0000\"}");
       },
       E::unknown_kid},
      {"kid the hub's with a trailing space",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.kid() + " \"}");
       },
       E::unknown_kid},
      {"kid the hub's in upper case",
       [](W w) {
         std::string kid = w.kid();
         for (char& c : kid)
           c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
         return with_header(w, R"({"alg":"ES256","typ":"at+jwt","kid":")" + kid + "\"}");
       },
       E::unknown_kid},
      {"kid 257 characters",
       [](W w) {
         return with_header(
             w, R"({"alg":"ES256","typ":"at+jwt","kid":")" + std::string(257, 'k') + "\"}");
       },
       E::unknown_kid},
      {"kid 3000 characters",
       [](W w) {
         return with_header(
             w, R"({"alg":"ES256","typ":"at+jwt","kid":")" + std::string(3000, 'k') + "\"}");
       },
       E::unknown_kid},
      {"kid 10 KB (token too large)",
       [](W w) {
         return with_header(
             w, R"({"alg":"ES256","typ":"at+jwt","kid":")" + std::string(10000, 'k') + "\"}");
       },
       E::too_large},

      // ---- keys offered by the token itself are never used (RFC 8725 §3.10) -------------
      {"attacker's kid, attacker's jwk embedded",
       [](W w) {
         return sign(R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.attacker->kid() +
                         R"(","jwk":)" + w.attacker->public_jwk_json() + "}",
                     w.claims(), w.attacker.get());
       },
       E::unknown_kid},
      {"no kid, attacker's jwk embedded",
       [](W w) {
         return sign(
             R"({"alg":"ES256","typ":"at+jwt","jwk":)" + w.attacker->public_jwk_json() + "}",
             w.claims(), w.attacker.get());
       },
       E::bad_header},
      {"hub's kid, attacker's jwk embedded",
       [](W w) {
         return sign(w.header("ES256", R"(,"jwk":)" + w.attacker->public_jwk_json()), w.claims(),
                     w.attacker.get());
       },
       E::bad_signature},
      {"hub's kid, jku on loopback",
       [](W w) {
         return sign(w.header("ES256", R"(,"jku":"http://127.0.0.1:1/jwks.json")"), w.claims(),
                     w.attacker.get());
       },
       E::bad_signature},
      {"hub's kid, x5u on loopback",
       [](W w) {
         return sign(w.header("ES256", R"(,"x5u":"http://127.0.0.1:1/cert.pem")"), w.claims(),
                     w.attacker.get());
       },
       E::bad_signature},
      {"hub's kid, x5c",
       [](W w) {
         return sign(w.header("ES256", R"(,"x5c":["MIIBszCCAVmgAwIBAgIUQ"])"), w.claims(),
                     w.attacker.get());
       },
       E::bad_signature},
      {"attacker's kid, jku on loopback",
       [](W w) {
         return sign(R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.attacker->kid() +
                         R"(","jku":"http://127.0.0.1:1/jwks.json"})",
                     w.claims(), w.attacker.get());
       },
       E::unknown_kid},
      {"HS256 with an oct jwk of its own secret embedded",
       [](W w) {
         const std::string secret(32, 's');
         return hmac_sign(w.header("HS256", R"(,"jwk":{"kty":"oct","k":")" +
                                                auth::base64url_encode(secret) + "\"}"),
                          w.claims(), 256, secret);
       },
       E::alg_mismatch},
      {"RS256 with the attacker's RSA jwk embedded, its kid",
       [](W w) {
         return sign(R"({"alg":"RS256","typ":"at+jwt","kid":")" + w.rsa->kid() + R"(","jwk":)" +
                         w.rsa->public_jwk_json() + "}",
                     w.claims(), w.rsa.get());
       },
       E::unknown_kid},

      // ---- crit (RFC 7515 §4.1.11: we understand no extension) ---------------------------
      {"crit naming a registered claim",
       [](W w) { return with_header(w, w.header("ES256", R"(,"crit":["exp"])")); },
       E::unknown_crit},
      {"crit empty array", [](W w) { return with_header(w, w.header("ES256", R"(,"crit":[])")); },
       E::unknown_crit},
      {"crit b64 with b64 false (RFC 7797)",
       [](W w) { return with_header(w, w.header("ES256", R"(,"b64":false,"crit":["b64"])")); },
       E::unknown_crit},
      {"crit an unknown extension",
       [](W w) {
         return with_header(w, w.header("ES256", R"(,"x-policy":"mfa","crit":["x-policy"])"));
       },
       E::unknown_crit},
      {"crit a string, not an array",
       [](W w) { return with_header(w, w.header("ES256", R"(,"crit":"exp")")); }, E::unknown_crit},
      {"crit null", [](W w) { return with_header(w, w.header("ES256", R"(,"crit":null)")); },
       E::unknown_crit},
      {"crit an object", [](W w) { return with_header(w, w.header("ES256", R"(,"crit":{})")); },
       E::unknown_crit},
      {"crit a number array",
       [](W w) { return with_header(w, w.header("ES256", R"(,"crit":[1])")); }, E::unknown_crit},

      // ---- typ (RFC 8725 §3.11: explicit typing) ----------------------------------------
      {"typ JWT",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"JWT","kid":")" + w.kid() + "\"}");
       },
       E::bad_typ},
      {"typ missing",
       [](W w) { return with_header(w, R"({"alg":"ES256","kid":")" + w.kid() + "\"}"); },
       E::bad_typ},
      {"typ a number",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":1,"kid":")" + w.kid() + "\"}"); },
       E::bad_typ},
      {"typ empty",
       [](W w) { return with_header(w, R"({"alg":"ES256","typ":"","kid":")" + w.kid() + "\"}"); },
       E::bad_typ},
      {"typ 'at+jwt ' (trailing space)",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"at+jwt ","kid":")" + w.kid() + "\"}");
       },
       E::bad_typ},
      {"typ text/at+jwt",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"text/at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::bad_typ},
      {"typ application/ alone",
       [](W w) {
         return with_header(w, R"({"alg":"ES256","typ":"application/","kid":")" + w.kid() + "\"}");
       },
       E::bad_typ},
      {"a logout token (typ logout+jwt, events claim) as an access token",
       [](W w) {
         return sign(R"({"alg":"ES256","typ":"logout+jwt","kid":")" + w.kid() + "\"}",
                     w.claims(logout_events + R"(,"jti":"lt-1")"), w.hub.get());
       },
       E::bad_typ},
      {"a logout token typed JWT, events claim",
       [](W w) {
         return sign(R"({"alg":"ES256","typ":"JWT","kid":")" + w.kid() + "\"}",
                     w.claims(logout_events), w.hub.get());
       },
       E::bad_typ},

      // ---- time claims: just outside the leeway, and numbers in every edge form ----------
      {"exp exactly at the leeway's end",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now - 600) + R"(,"exp":)" + n(w.now - w.leeway));
       },
       E::expired},
      {"exp long ago", [](W w) { return with_times(w, R"("iat":1000,"exp":2000)"); }, E::expired},
      {"exp 0", [](W w) { return with_times(w, R"("iat":0,"exp":0)"); }, E::expired},
      {"exp negative", [](W w) { return with_times(w, R"("iat":-100,"exp":-1)"); }, E::expired},
      {"exp -0", [](W w) { return with_times(w, R"("iat":0,"exp":-0)"); }, E::expired},
      {"exp a fraction past the leeway's end",
       [](W w) {
         return with_times(
             w, R"("iat":)" + n(w.now - 600) + R"(,"exp":)" + n(w.now - w.leeway - 1) + ".5");
       },
       E::expired},
      {"exp INT64_MIN", [](W w) { return with_times(w, R"("iat":0,"exp":-9223372036854775808)"); },
       E::expired},
      {"exp a string",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":")" + n(w.now + 600) + "\"");
       },
       E::missing_claim},
      {"exp 1e300", [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":1e300)"); },
       E::missing_claim},
      {"exp 1e400 (beyond a double)",
       [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":1e400)"); }, E::malformed},
      {"exp an integer beyond int64",
       [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":99999999999999999999)"); },
       E::missing_claim},
      {"exp UINT64_MAX",
       [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":18446744073709551615)"); },
       E::missing_claim},
      {"exp true", [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":true)"); },
       E::missing_claim},
      {"exp null", [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":null)"); },
       E::missing_claim},
      {"exp an array",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":[)" + n(w.now + 600) + "]");
       },
       E::missing_claim},
      {"exp an object",
       [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":{"t":1})"); },
       E::missing_claim},
      {"exp NaN", [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":NaN)"); },
       E::malformed},
      {"exp Infinity",
       [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":Infinity)"); },
       E::malformed},
      {"exp hexadecimal",
       [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":0x7fffffff)"); },
       E::malformed},
      {"exp with a leading plus",
       [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":+)" + n(w.now + 600)); },
       E::malformed},
      {"exp missing", [](W w) { return with_times(w, R"("iat":)" + n(w.now)); }, E::missing_claim},
      {"nbf just past the leeway",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":)" + n(w.now + 600) +
                                  R"(,"nbf":)" + n(w.now + w.leeway + w.edge));
       },
       E::not_yet_valid},
      {"nbf INT64_MAX",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":)" + n(w.now + 600) +
                                  R"(,"nbf":9223372036854775807)");
       },
       E::not_yet_valid},
      {"nbf a string",
       [](W w) {
         return with_times(
             w, R"("iat":)" + n(w.now) + R"(,"exp":)" + n(w.now + 600) + R"(,"nbf":"0")");
       },
       E::missing_claim},
      {"nbf null",
       [](W w) {
         return with_times(
             w, R"("iat":)" + n(w.now) + R"(,"exp":)" + n(w.now + 600) + R"(,"nbf":null)");
       },
       E::missing_claim},
      {"iat just past the leeway",
       [](W w) {
         return with_times(
             w, R"("iat":)" + n(w.now + w.leeway + w.edge) + R"(,"exp":)" + n(w.now + 600));
       },
       E::issued_in_future},
      {"iat INT64_MAX",
       [](W w) { return with_times(w, R"("iat":9223372036854775807,"exp":)" + n(w.now + 600)); },
       E::issued_in_future},
      {"iat missing", [](W w) { return with_times(w, R"("exp":)" + n(w.now + 600)); },
       E::missing_claim},
      {"iat a string",
       [](W w) { return with_times(w, R"("iat":")" + n(w.now) + R"(","exp":)" + n(w.now + 600)); },
       E::missing_claim},
      {"iat false", [](W w) { return with_times(w, R"("iat":false,"exp":)" + n(w.now + 600)); },
       E::missing_claim},

      // ---- issuer and audience ------------------------------------------------------------
      {"iss wrong",
       [](W w) {
         return with_claims(w, "{\"iss\":\"evil\",\"aud\":" + q(w.audience) + "," + w.ids() + "," +
                                   w.times() + "}");
       },
       E::bad_issuer},
      {"iss missing",
       [](W w) {
         return with_claims(w, "{\"aud\":" + q(w.audience) + "," + w.ids() + "," + w.times() + "}");
       },
       E::bad_issuer},
      {"iss a number",
       [](W w) {
         return with_claims(
             w, "{\"iss\":1,\"aud\":" + q(w.audience) + "," + w.ids() + "," + w.times() + "}");
       },
       E::bad_issuer},
      {"iss null",
       [](W w) {
         return with_claims(
             w, "{\"iss\":null,\"aud\":" + q(w.audience) + "," + w.ids() + "," + w.times() + "}");
       },
       E::bad_issuer},
      {"iss an array holding ours",
       [](W w) {
         return with_claims(w, "{\"iss\":[" + q(w.issuer) + "],\"aud\":" + q(w.audience) + "," +
                                   w.ids() + "," + w.times() + "}");
       },
       E::bad_issuer},
      {"iss ours as a prefix",
       [](W w) {
         return with_claims(w, "{\"iss\":" + q(w.issuer + ".evil") + ",\"aud\":" + q(w.audience) +
                                   "," + w.ids() + "," + w.times() + "}");
       },
       E::bad_issuer},
      {"iss ours in upper case",
       [](W w) {
         return with_claims(w, "{\"iss\":\"SESSIONHUB\",\"aud\":" + q(w.audience) + "," + w.ids() +
                                   "," + w.times() + "}");
       },
       E::bad_issuer},
      {"aud wrong",
       [](W w) {
         return with_claims(
             w, "{\"iss\":" + q(w.issuer) + ",\"aud\":\"crm\"," + w.ids() + "," + w.times() + "}");
       },
       E::bad_audience},
      {"aud missing",
       [](W w) {
         return with_claims(w, "{\"iss\":" + q(w.issuer) + "," + w.ids() + "," + w.times() + "}");
       },
       E::bad_audience},
      {"aud an array without ours",
       [](W w) {
         return with_claims(w, "{\"iss\":" + q(w.issuer) + ",\"aud\":[\"crm\",\"admin\"]," +
                                   w.ids() + "," + w.times() + "}");
       },
       E::bad_audience},
      {"aud an empty array",
       [](W w) {
         return with_claims(
             w, "{\"iss\":" + q(w.issuer) + ",\"aud\":[]," + w.ids() + "," + w.times() + "}");
       },
       E::bad_audience},
      {"aud ours nested in an inner array",
       [](W w) {
         return with_claims(w, "{\"iss\":" + q(w.issuer) + ",\"aud\":[[" + q(w.audience) + "]]," +
                                   w.ids() + "," + w.times() + "}");
       },
       E::bad_audience},
      {"aud a number",
       [](W w) {
         return with_claims(
             w, "{\"iss\":" + q(w.issuer) + ",\"aud\":7," + w.ids() + "," + w.times() + "}");
       },
       E::bad_audience},
      {"aud null",
       [](W w) {
         return with_claims(
             w, "{\"iss\":" + q(w.issuer) + ",\"aud\":null," + w.ids() + "," + w.times() + "}");
       },
       E::bad_audience},
      {"aud ours with a trailing space",
       [](W w) {
         return with_claims(w, "{\"iss\":" + q(w.issuer) + ",\"aud\":" + q(w.audience + " ") + "," +
                                   w.ids() + "," + w.times() + "}");
       },
       E::bad_audience},

      // ---- duplicate member names (RFC 8725 §3.2 via RFC 7515 §5.2) ----------------------
      {"duplicate alg, none first",
       [](W w) {
         return with_header(
             w, R"({"alg":"none","alg":"ES256","typ":"at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::malformed},
      {"duplicate alg, none last",
       [](W w) {
         return with_header(
             w, R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.kid() + R"(","alg":"none"})");
       },
       E::malformed},
      {"duplicate alg spelt with an escape",
       [](W w) {
         return with_header(
             w, R"({"alg":"ES256","\u0061lg":"none","typ":"at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::malformed},
      {"duplicate kid, the attacker's first",
       [](W w) {
         return sign(R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.attacker->kid() +
                         R"(","kid":")" + w.kid() + "\"}",
                     w.claims(), w.attacker.get());
       },
       E::malformed},
      {"duplicate typ",
       [](W w) {
         return with_header(
             w, R"({"alg":"ES256","typ":"logout+jwt","typ":"at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::malformed},
      {"duplicate sub in the claims",
       [](W w) { return with_claims(w, w.claims(R"("sub":"admin")")); }, E::malformed},
      {"duplicate sid in the claims",
       [](W w) { return with_claims(w, w.claims(R"("sid":"another-session")")); }, E::malformed},
      {"duplicate exp in the claims",
       [](W w) { return with_claims(w, w.claims(R"("exp":)" + n(w.now + 86400 * 365))); },
       E::malformed},
      {"duplicate aud in the claims",
       [](W w) { return with_claims(w, w.claims(R"("aud":"crm")")); }, E::malformed},
      {"duplicate iss in the claims",
       [](W w) { return with_claims(w, w.claims(R"("iss":"evil")")); }, E::malformed},

      // ---- segments -----------------------------------------------------------------------
      {"one segment", [](W w) { return segment(w.good(), 0); }, E::malformed},
      {"two segments", [](W w) { return segment(w.good(), 0) + "." + segment(w.good(), 1); },
       E::malformed},
      {"three segments, the last empty",
       [](W w) { return segment(w.good(), 0) + "." + segment(w.good(), 1) + "."; }, E::malformed},
      {"four segments", [](W w) { return w.good() + ".AAAA"; }, E::malformed},
      {"four segments, the last empty", [](W w) { return w.good() + "."; }, E::malformed},
      {"five segments (the JWE shape)", [](W w) { return w.good() + ".AAAA.BBBB"; }, E::malformed},
      {"a leading dot", [](W w) { return "." + w.good(); }, E::malformed},
      {"empty header", [](W w) { return replace_segment(w, 0, ""); }, E::malformed},
      {"empty payload", [](W w) { return replace_segment(w, 1, ""); }, E::malformed},
      {"empty token", [](W) { return std::string(); }, E::malformed},
      {"one dot", [](W) { return std::string("."); }, E::malformed},
      {"two dots", [](W) { return std::string(".."); }, E::malformed},
      {"three thousand dots", [](W) { return std::string(3000, '.'); }, E::malformed},
      {"a thousand segments",
       [](W) {
         std::string t = "e30";
         for (int i = 0; i < 1000; ++i)
           t += ".e30";
         return t;
       },
       E::malformed},

      // ---- base64url, strictly (RFC 7515 §2: no padding, no other alphabet) --------------
      {"padding after the header",
       [](W w) { return replace_segment(w, 0, segment(w.good(), 0) + "=="); }, E::malformed},
      {"padding after the signature",
       [](W w) { return replace_segment(w, 2, segment(w.good(), 2) + "=="); }, E::malformed},
      {"padding after the payload, signed",
       [](W w) {
         const std::string input =
             auth::base64url_encode(w.header()) + "." + auth::base64url_encode(w.claims()) + "==";
         return input + "." + auth::base64url_encode(w.hub->sign(input));
       },
       E::malformed},
      {"'+' in the signature",
       [](W w) { return edited(w, [](std::string& t) { t[t.size() - 3] = '+'; }); }, E::malformed},
      {"'/' in the signature",
       [](W w) { return edited(w, [](std::string& t) { t[t.size() - 3] = '/'; }); }, E::malformed},
      {"'+' in the header", [](W w) { return edited(w, [](std::string& t) { t[2] = '+'; }); },
       E::malformed},
      {"'*' in the header", [](W w) { return edited(w, [](std::string& t) { t[2] = '*'; }); },
       E::malformed},
      // The payload is decoded only after the signature verifies: a mangled payload fails there.
      {"'/' appended to the payload, unsigned",
       [](W w) { return replace_segment(w, 1, segment(w.good(), 1) + "/"); }, E::bad_signature},
      {"'/' in the payload, signed",
       [](W w) {
         const std::string input =
             auth::base64url_encode(w.header()) + "." + auth::base64url_encode(w.claims()) + "/";
         return input + "." + auth::base64url_encode(w.hub->sign(input));
       },
       E::malformed},
      {"a header of impossible length (4n+1)",
       [](W w) {
         std::string h = auth::base64url_encode(w.header());
         while (h.size() % 4 != 1)
           h += 'A';
         return replace_segment(w, 0, h);
       },
       E::malformed},
      {"non-canonical spare bits in the header",
       [](W w) {
         const std::string t = sign(header_with_spare_bits(w), w.claims(), w.hub.get());
         return noncanonical(segment(t, 0)) + "." + segment(t, 1) + "." + segment(t, 2);
       },
       E::malformed},
      {"non-canonical spare bits in the signature",
       [](W w) { return replace_segment(w, 2, noncanonical(segment(w.good(), 2))); }, E::malformed},
      {"percent-encoded dots",
       [](W w) {
         std::string t = w.good();
         std::string out;
         for (char c : t)
           out += c == '.' ? std::string("%2E") : std::string(1, c);
         return out;
       },
       E::malformed},

      // ---- whitespace and control bytes around and inside -------------------------------
      {"a space before", [](W w) { return " " + w.good(); }, E::malformed},
      {"a space after", [](W w) { return w.good() + " "; }, E::malformed},
      {"a tab before", [](W w) { return "\t" + w.good(); }, E::malformed},
      {"a tab after", [](W w) { return w.good() + "\t"; }, E::malformed},
      {"a newline after", [](W w) { return w.good() + "\n"; }, E::malformed},
      {"CRLF after", [](W w) { return w.good() + "\r\n"; }, E::malformed},
      {"a space inside", [](W w) { return edited(w, [](std::string& t) { t.insert(5, " "); }); },
       E::malformed},
      {"a NUL after", [](W w) { return w.good() + std::string(1, '\0'); }, E::malformed},
      {"a NUL inside the signature",
       [](W w) { return edited(w, [](std::string& t) { t.insert(t.size() - 4, 1, '\0'); }); },
       E::malformed},

      // ---- header and payload not JSON objects, or not UTF-8 -----------------------------
      {"header an array", [](W w) { return with_header(w, R"(["ES256"])"); }, E::malformed},
      {"header a string", [](W w) { return with_header(w, R"("ES256")"); }, E::malformed},
      {"header null", [](W w) { return with_header(w, "null"); }, E::malformed},
      {"header a number", [](W w) { return with_header(w, "256"); }, E::malformed},
      {"header true", [](W w) { return with_header(w, "true"); }, E::malformed},
      {"header not JSON", [](W w) { return with_header(w, "alg=ES256"); }, E::malformed},
      {"header an empty object", [](W w) { return with_header(w, "{}"); }, E::bad_header},
      {"header with bytes after the object", [](W w) { return with_header(w, w.header() + "{}"); },
       E::malformed},
      {"header with 70 members",
       [](W w) {
         std::string extra;
         for (int i = 0; i < 70; ++i)
           extra += ",\"m" + std::to_string(i) + "\":0";
         return with_header(w, w.header("ES256", extra));
       },
       E::malformed},
      {"header nested 2000 deep, unclosed",
       [](W w) { return with_header(w, w.header("ES256", ",\"n\":" + std::string(2000, '['))); },
       E::malformed},
      {"header nested 1500 deep, signed by the attacker",
       [](W w) {
         return sign(w.header("ES256", ",\"n\":" + std::string(1500, '[') + std::string(1500, ']')),
                     w.claims(), w.attacker.get());
       },
       E::bad_signature},
      {"header invalid UTF-8",
       [](W w) { return with_header(w, w.header("ES256", ",\"x\":\"\xC3\x28\"")); }, E::malformed},
      {"header overlong UTF-8 (2 bytes for '/')",
       [](W w) { return with_header(w, w.header("ES256", ",\"x\":\"\xC0\xAF\"")); }, E::malformed},
      {"header overlong UTF-8 (3 bytes for '/')",
       [](W w) { return with_header(w, w.header("ES256", ",\"x\":\"\xE0\x80\xAF\"")); },
       E::malformed},
      {"header a UTF-16 surrogate in UTF-8",
       [](W w) { return with_header(w, w.header("ES256", ",\"x\":\"\xED\xA0\x80\"")); },
       E::malformed},
      {"header a code point above U+10FFFF",
       [](W w) { return with_header(w, w.header("ES256", ",\"x\":\"\xF4\x90\x80\x80\"")); },
       E::malformed},
      {"header UTF-8 cut short",
       [](W w) { return with_header(w, w.header("ES256", ",\"x\":\"\xE2\x82\"")); }, E::malformed},
      {"header a lone surrogate escape",
       [](W w) { return with_header(w, w.header("ES256", R"(,"x":"\ud800")")); }, E::malformed},
      {"payload an array", [](W w) { return with_claims(w, "[1,2]"); }, E::malformed},
      {"payload a number", [](W w) { return with_claims(w, "42"); }, E::malformed},
      {"payload a string", [](W w) { return with_claims(w, R"("alice")"); }, E::malformed},
      {"payload null", [](W w) { return with_claims(w, "null"); }, E::malformed},
      {"payload empty",
       [](W w) {
         const std::string input = auth::base64url_encode(w.header()) + ".";
         return input + "." + auth::base64url_encode(w.hub->sign(input));
       },
       E::malformed},
      {"payload invalid UTF-8", [](W w) { return with_claims(w, w.claims("\"n\":\"\xFF\xFE\"")); },
       E::malformed},
      {"payload overlong UTF-8", [](W w) { return with_claims(w, w.claims("\"n\":\"\xC1\xBF\"")); },
       E::malformed},
      {"payload a UTF-16 surrogate in UTF-8",
       [](W w) { return with_claims(w, w.claims("\"n\":\"\xED\xBF\xBF\"")); }, E::malformed},
      {"payload trailing bytes", [](W w) { return with_claims(w, w.claims() + " {}"); },
       E::malformed},
      // JSON text is exactly the segment's bytes: RapidJSON alone skips a byte-order mark
      // (RFC 8259 §8.1 only lets a parser do so; JWS says nothing of one) and stops at a NUL.
      {"header behind a byte-order mark",
       [](W w) { return with_header(w, "\xEF\xBB\xBF" + w.header()); }, E::malformed},
      {"payload behind a byte-order mark",
       [](W w) { return with_claims(w, "\xEF\xBB\xBF" + w.claims()); }, E::malformed},
      {"payload behind a stray BF byte", [](W w) { return with_claims(w, "\xBF" + w.claims()); },
       E::malformed},
      {"header then a NUL byte and more",
       [](W w) { return with_header(w, w.header() + std::string(1, '\0') + "{}"); }, E::malformed},
      {"payload then a NUL byte and more",
       [](W w) { return with_claims(w, w.claims() + std::string(1, '\0') + "x"); }, E::malformed},
      {"payload with 70 members",
       [](W w) {
         std::string extra = "\"m\":0";
         for (int i = 0; i < 69; ++i)
           extra += ",\"m" + std::to_string(i) + "\":0";
         return with_claims(w, w.claims(extra));
       },
       E::malformed},
      {"raw invalid UTF-8 in the token text",
       [](W w) { return edited(w, [](std::string& t) { t.insert(10, "\xC3\x28"); }); },
       E::malformed},
      {"raw overlong UTF-8 in the token text",
       [](W w) { return edited(w, [](std::string& t) { t.insert(10, "\xC0\xAE"); }); },
       E::malformed},
      {"raw non-ASCII UTF-8 in the token text",
       [](W w) { return edited(w, [](std::string& t) { t.insert(10, "\xC3\xA9"); }); },
       E::malformed},

      // ---- size -----------------------------------------------------------------------------
      {"8.2 KB, signed",
       [](W w) { return with_claims(w, w.claims("\"pad\":\"" + std::string(6200, 'x') + "\"")); },
       E::too_large},
      {"48 KB, signed",
       [](W w) { return with_claims(w, w.claims("\"pad\":\"" + std::string(36000, 'x') + "\"")); },
       E::too_large},

      // ---- signatures ----------------------------------------------------------------------
      // One character short: 85 base64url characters can encode no byte string.
      {"signature text cut short",
       [](W w) { return edited(w, [](std::string& t) { t.pop_back(); }); }, E::malformed},
      {"signature 63 bytes",
       [](W w) {
         return replace_segment(w, 2, auth::base64url_encode(good_signature(w).substr(0, 63)));
       },
       E::bad_signature},
      {"signature 65 bytes",
       [](W w) { return replace_segment(w, 2, auth::base64url_encode(good_signature(w) + "x")); },
       E::bad_signature},
      {"signature a bit flipped",
       [](W w) {
         std::string s = good_signature(w);
         s[10] ^= 1;
         return replace_segment(w, 2, auth::base64url_encode(s));
       },
       E::bad_signature},
      {"signature all zero",
       [](W w) { return replace_segment(w, 2, auth::base64url_encode(std::string(64, '\0'))); },
       E::bad_signature},
      {"signature r and s the curve order",
       [](W w) {
         return replace_segment(w, 2, auth::base64url_encode(p256_order() + p256_order()));
       },
       E::bad_signature},
      {"signature in DER, not r||s",
       [](W w) {
         return replace_segment(w, 2, auth::base64url_encode(der_signature(good_signature(w))));
       },
       E::bad_signature},
      {"signature empty after a valid header and payload",
       [](W w) { return replace_segment(w, 2, ""); }, E::malformed},
      {"payload swapped under the signature",
       [](W w) {
         const std::string other = with_claims(w, w.claims(R"("role":"admin")"));
         return replace_segment(w, 1, segment(other, 1));
       },
       E::bad_signature},
      {"header swapped under the signature",
       [](W w) {
         return replace_segment(
             w, 0, auth::base64url_encode(w.header("ES256", R"(,"x5u":"http://127.0.0.1:1/")")));
       },
       E::bad_signature},
      {"signed by another key, the hub's kid",
       [](W w) { return sign(w.header(), w.claims(), w.attacker.get()); }, E::bad_signature},
      {"a genuine token of another hub's key",
       [](W w) {
         return sign(R"({"alg":"ES256","typ":"at+jwt","kid":")" + w.attacker->kid() + "\"}",
                     w.claims(), w.attacker.get());
       },
       E::unknown_kid},
      {"a genuine token of an Ed25519 hub",
       [](W w) {
         return sign(R"({"alg":"EdDSA","typ":"at+jwt","kid":")" + w.ed->kid() + "\"}", w.claims(),
                     w.ed.get());
       },
       E::unknown_kid},
  };
}

std::vector<token_case> make_accepted() {
  return {
      {"genuine", [](W w) { return w.good(); }, E::none},
      {"exp just inside the leeway",
       [](W w) {
         return with_times(
             w, R"("iat":)" + n(w.now - 600) + R"(,"exp":)" + n(w.now - w.leeway + w.edge));
       },
       E::none},
      {"nbf at the leeway's edge",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":)" + n(w.now + 600) +
                                  R"(,"nbf":)" + n(w.now + w.leeway));
       },
       E::none},
      {"iat at the leeway's edge",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now + w.leeway) + R"(,"exp":)" + n(w.now + 600));
       },
       E::none},
      {"exp a fraction (NumericDate need not be whole)",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":)" + n(w.now + 600) + ".5");
       },
       E::none},
      {"exp in exponent form",
       [](W w) {
         return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":)" + n(w.now + 600) + "e0");
       },
       E::none},
      {"exp INT64_MAX",
       [](W w) { return with_times(w, R"("iat":)" + n(w.now) + R"(,"exp":9223372036854775807)"); },
       E::none},
      {"typ application/at+jwt (RFC 7515 §4.1.9)",
       [](W w) {
         return with_header(
             w, R"({"alg":"ES256","typ":"application/at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::none},
      {"typ in another case",
       [](W w) {
         return with_header(
             w, R"({"alg":"ES256","typ":"Application/AT+JWT","kid":")" + w.kid() + "\"}");
       },
       E::none},
      {"aud an array holding ours",
       [](W w) {
         return with_claims(w, "{\"iss\":" + q(w.issuer) + ",\"aud\":[\"crm\"," + q(w.audience) +
                                   "]," + w.ids() + "," + w.times() + "}");
       },
       E::none},
      {"header members in another order, with whitespace",
       [](W w) {
         return with_header(
             w, "{ \"kid\" : \"" + w.kid() + "\" ,\n \"typ\":\"at+jwt\", \"alg\":\"ES256\" }");
       },
       E::none},
      {"alg spelt with escapes",
       [](W w) {
         return with_header(w, R"({"alg":"E\u0053256","typ":"at+jwt","kid":")" + w.kid() + "\"}");
       },
       E::none},
      {"an unknown header member",
       [](W w) { return with_header(w, w.header("ES256", R"(,"x-trace":"1")")); }, E::none},
      {"custom claims",
       [](W w) { return with_claims(w, w.claims(R"("role":"admin","n":[1,{"a":null}])")); },
       E::none},
  };
}

}  // namespace

std::string der_signature(const std::string& raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

token_world::token_world(auth::key_ptr hub_key)
    : hub(std::move(hub_key)),
      attacker(auth::key::generate(auth::jwt_alg::ES256)),
      rsa(auth::key::generate(auth::jwt_alg::RS256)),
      ed(auth::key::generate(auth::jwt_alg::EdDSA)) {
  if (!hub || hub->alg() != auth::jwt_alg::ES256 || !hub->has_private())
    throw std::invalid_argument("token_world needs an ES256 private key");
  public_forms(*hub, hub_public_pem, hub_public_der);
}

std::string token_world::header(const std::string& alg, const std::string& extra) const {
  return R"({"alg":")" + alg + R"(","typ":"at+jwt","kid":")" + kid() + "\"" + extra + "}";
}

std::string token_world::iss_aud() const {
  return "\"iss\":" + q(issuer) + ",\"aud\":" + q(audience);
}

std::string token_world::ids() const {
  return "\"sub\":" + q(sub) + ",\"sid\":" + q(sid);
}

std::string token_world::times() const {
  return "\"iat\":" + n(now) + ",\"exp\":" + n(now + 600);
}

std::string token_world::claims(const std::string& extra) const {
  return "{" + iss_aud() + "," + ids() + "," + times() + (extra.empty() ? "" : "," + extra) + "}";
}

std::string token_world::claims_with_times(const std::string& members) const {
  return "{" + iss_aud() + "," + ids() + (members.empty() ? "" : "," + members) + "}";
}

std::string token_world::good() const {
  return sign(header(), claims(), hub.get());
}

std::string sign(const std::string& header, const std::string& claims, const auth::key* k) {
  const std::string input = auth::base64url_encode(header) + "." + auth::base64url_encode(claims);
  return input + "." + auth::base64url_encode(k ? k->sign(input) : std::string());
}

std::string hmac_sign(const std::string& header, const std::string& claims, int sha_bits,
                      const std::string& secret) {
  const std::string input = auth::base64url_encode(header) + "." + auth::base64url_encode(claims);
  return input + "." + auth::base64url_encode(hmac(secret, input, sha_bits));
}

std::string segment(const std::string& token, int i) {
  std::size_t start = 0;
  for (int k = 0; k < i; ++k)
    start = token.find('.', start) + 1;
  return token.substr(start, token.find('.', start) - start);
}

const std::vector<token_case>& forged_tokens() {
  static const std::vector<token_case> cases = make_forged();
  return cases;
}

const std::vector<token_case>& accepted_tokens() {
  static const std::vector<token_case> cases = make_accepted();
  return cases;
}

auth::jwt_expectations expectations(const token_world& w) {
  auth::jwt_expectations e;
  e.typ = "at+jwt";
  e.issuer = w.issuer;
  e.audience = w.audience;
  e.now_s = w.now;
  e.leeway_s = w.leeway;
  return e;
}

}  // namespace shub::corpus
