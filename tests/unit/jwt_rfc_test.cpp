// jwt against published vectors — RFC 7515 A.1 (HS256) and RFC 8037 A.1–A.4 (Ed25519, its
// RFC 7638 thumbprint and deterministic signature) — and the algorithm-confusion attacks
// RFC 8725 warns of, through the public API of auth/keys and auth/jwt; and ES256 / RS256
// signatures against OpenSSL's own one-shot EVP_DigestSign/Verify, from several threads at
// once (the keys reuse their signing and verifying contexts).
#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "auth/base64url.hpp"
#include "auth/jwt.hpp"
#include "auth/keys.hpp"
#include "token_corpus.hpp"

namespace shub::auth {
namespace {

// RFC 7515 Appendix A.1.
constexpr const char* a1_key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr const char* a1_input =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q";
constexpr const char* a1_signature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

// RFC 8037 Appendix A.1 (private d, public x), A.3 (thumbprint), A.4 (JWS).
constexpr const char* ed_d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr const char* ed_x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr const char* ed_thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
constexpr const char* ed_input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr const char* ed_signature =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

std::string pem_of_ed25519(const std::string& d) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(d.data()), d.size());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return pem;
}

TEST(JwtRfc, Rfc7515A1Hs256) {
  std::string error;
  const auto k = key::from_hmac_secret(*base64url_decode(a1_key), error);
  ASSERT_TRUE(k) << error;
  EXPECT_EQ(base64url_encode(k->sign(a1_input)), a1_signature);
  EXPECT_TRUE(k->verify(a1_input, *base64url_decode(a1_signature)));
  std::string tampered = a1_input;
  tampered[10] ^= 1;
  EXPECT_FALSE(k->verify(tampered, *base64url_decode(a1_signature)));
}

TEST(JwtRfc, Rfc8037Ed25519SignatureAndThumbprint) {
  std::string error;
  const auto priv = key::from_private_pem(pem_of_ed25519(*base64url_decode(ed_d)), error);
  ASSERT_TRUE(priv) << error;
  EXPECT_EQ(priv->alg(), jwt_alg::EdDSA);
  EXPECT_EQ(priv->kid(), ed_thumbprint);                            // A.3
  EXPECT_EQ(base64url_encode(priv->sign(ed_input)), ed_signature);  // A.4, deterministic
  const auto pub = key::from_public_jwk(
      std::string(R"({"kty":"OKP","crv":"Ed25519","x":")") + ed_x + "\"}", error);
  ASSERT_TRUE(pub) << error;
  EXPECT_EQ(pub->kid(), ed_thumbprint);
  EXPECT_TRUE(pub->verify(ed_input, *base64url_decode(ed_signature)));
  EXPECT_FALSE(pub->verify(std::string(ed_input) + "x", *base64url_decode(ed_signature)));
}

// A token whose header and claims are exactly what the test writes, signed by `signer`.
std::string forge(const std::string& header, const std::string& claims, const key* signer) {
  std::string token = base64url_encode(header) + "." + base64url_encode(claims);
  const std::string sig = signer ? signer->sign(token) : std::string{};
  return token + "." + base64url_encode(sig);
}

class JwtConfusion : public ::testing::Test {
 protected:
  JwtConfusion() : es(key::generate(jwt_alg::ES256)), keys({es}) {
    expect.typ = "at+jwt";
    expect.issuer = "sessionhub";
    expect.audience = "sessionhub";
    expect.now_s = 1'700'000'000;
    expect.leeway_s = 5;
  }
  std::string claims(std::int64_t exp_delta = 600) const {
    return R"({"iss":"sessionhub","aud":"sessionhub","sub":"alice","iat":1700000000,"exp":)" +
           std::to_string(1'700'000'000 + exp_delta) + "}";
  }
  std::string header(const std::string& alg) const {
    return R"({"alg":")" + alg + R"(","typ":"at+jwt","kid":")" + es->kid() + "\"}";
  }
  jwt_error verify(const std::string& token) const { return jwt_verify(token, keys, expect).error; }

  key_ptr es;
  key_set keys;
  jwt_expectations expect;
};

TEST_F(JwtConfusion, GenuineTokenVerifies) {
  EXPECT_EQ(verify(jwt_sign(*es, "at+jwt", claims())), jwt_error::none);
}

TEST_F(JwtConfusion, AlgNoneInEveryCasingIsRefused) {
  for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
    // "x.y." (the classic unsigned form) fails the shape check; with any signature bytes the
    // algorithm itself is refused.
    EXPECT_EQ(verify(forge(header(alg), claims(), nullptr)), jwt_error::malformed) << alg;
    EXPECT_EQ(verify(forge(header(alg), claims(), nullptr) + "AAAA"), jwt_error::unsupported_alg);
  }
}

TEST_F(JwtConfusion, Hs256KeyedWithThePublicKeyIsRefused) {
  std::string error;
  const std::string jwk = es->public_jwk_json();
  for (const std::string& secret : {jwk, jwk + jwk, std::string(64, 'k')}) {
    const auto hmac = key::from_hmac_secret(secret, error);
    ASSERT_TRUE(hmac);
    // Signed as HS256 but naming the ES256 key: the key decides the algorithm.
    EXPECT_EQ(verify(forge(header("HS256"), claims(), hmac.get())), jwt_error::alg_mismatch);
  }
}

TEST_F(JwtConfusion, EmbeddedKeysAreNeverTrusted) {
  const auto attacker = key::generate(jwt_alg::ES256);
  const std::string jwk = attacker->public_jwk_json();
  // The attacker's own kid is unknown; naming ours with an embedded key fails the signature.
  EXPECT_EQ(verify(forge(R"({"alg":"ES256","typ":"at+jwt","kid":")" + attacker->kid() +
                             R"(","jwk":)" + jwk + "}",
                         claims(), attacker.get())),
            jwt_error::unknown_kid);
  EXPECT_EQ(verify(forge(R"({"alg":"ES256","typ":"at+jwt","kid":")" + es->kid() +
                             R"(","jku":"http://127.0.0.1/keys","jwk":)" + jwk + "}",
                         claims(), attacker.get())),
            jwt_error::bad_signature);
}

TEST_F(JwtConfusion, TimeAndAudienceAreChecked) {
  EXPECT_EQ(verify(jwt_sign(*es, "at+jwt", claims(-6))), jwt_error::expired);
  EXPECT_EQ(verify(jwt_sign(*es, "at+jwt", claims(-4))), jwt_error::none);  // within leeway
  EXPECT_EQ(verify(jwt_sign(*es, "JWT", claims())), jwt_error::bad_typ);
  EXPECT_EQ(
      verify(jwt_sign(*es, "at+jwt",
                      R"({"iss":"sessionhub","aud":["other"],"iat":1700000000,"exp":1800000000})")),
      jwt_error::bad_audience);
}

// OpenSSL's one-shot EVP_DigestSign / EVP_DigestVerify with SHA-256 on the key's PEM: an
// implementation independent of key::sign and key::verify.
struct one_shot {
  EVP_PKEY* pkey = nullptr;
  jwt_alg alg;
  one_shot(const key& k, jwt_alg a) : alg(a) {
    const std::string pem = k.private_pem();
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
  }
  ~one_shot() { EVP_PKEY_free(pkey); }
  std::string jose(const std::string& der_sig) const {
    if (alg != jwt_alg::ES256) return der_sig;
    const auto* p = reinterpret_cast<const unsigned char*>(der_sig.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_sig.size()));
    const BIGNUM *r = nullptr, *s = nullptr;
    ECDSA_SIG_get0(sig, &r, &s);
    std::string out(64, '\0');
    BN_bn2binpad(r, reinterpret_cast<unsigned char*>(out.data()), 32);
    BN_bn2binpad(s, reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
    ECDSA_SIG_free(sig);
    return out;
  }
  bool verify(const std::string& msg, const std::string& jose_sig) const {
    const std::string d = alg == jwt_alg::ES256 ? corpus::der_signature(jose_sig) : jose_sig;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok =
        EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
        EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(d.data()), d.size(),
                         reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
  }
  std::string sign(const std::string& msg) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                   msg.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(msg.data()), msg.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    return jose(sig);
  }
};

TEST(JwtSignatures, Es256AndRs256AgreeWithOpenSslsOneShotFromSeveralThreads) {
  for (const jwt_alg alg : {jwt_alg::ES256, jwt_alg::RS256}) {
    SCOPED_TRACE(std::string(alg_name(alg)));
    const auto k = key::generate(alg);
    const one_shot ref(*k, alg);
    ASSERT_NE(ref.pkey, nullptr);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          const std::string msg = "header.payload-" + std::to_string(t) + "-" + std::to_string(i);
          const std::string mine = k->sign(msg);
          if (alg == jwt_alg::ES256 && mine.size() != 64) ++failures;
          if (!ref.verify(msg, mine)) ++failures;          // ours, checked by OpenSSL
          if (!k->verify(msg, ref.sign(msg))) ++failures;  // OpenSSL's, checked by ours
          if (!k->verify(msg, mine)) ++failures;
          std::string tampered = mine;
          tampered[tampered.size() / 2] ^= 1;
          if (k->verify(msg, tampered)) ++failures;
          if (k->verify(msg + "x", mine)) ++failures;
        }
      });
    }
    for (auto& th : threads)
      th.join();
    EXPECT_EQ(failures.load(), 0);
  }
}

}  // namespace
}  // namespace shub::auth
