// Forged and malformed access tokens against the real hub, each refused on HTTP
// (GET /v1/validate: 401 with its code) and on the WebSocket (an `auth` frame: close 4001),
// and each refusal logged with its reason. The hub signs with a key this test holds, so a
// case can be correctly signed yet wrong in exactly one field; the attacks are RFC 8725's
// (alg none, HMAC keyed with the public key, embedded keys, crit), plus time claims just
// outside the leeway, audience and issuer, confusion with other token types, duplicate
// members, segment counts, encodings, sizes and numeric edge cases. A few tokens just
// inside the rules are accepted, so the refusals are not an artefact of the test.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "auth/base64url.hpp"
#include "auth/keys.hpp"
#include "harness.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"

namespace shub::itest {
namespace {

using auth::base64url_encode;

struct hostile {
  std::string what;
  std::string token;
  std::string code = "token_invalid";  // the /v1/validate refusal code
  bool ws = true;  // also sent in a WebSocket auth frame (not when it cannot be JSON text)
};

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// The public half of a PEM private key, as PEM and as DER.
void public_forms(const std::string& private_pem, std::string& pem, std::string& der) {
  BIO* in = BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  ASSERT_NE(pkey, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(out, pkey);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  pem.assign(data, static_cast<std::size_t>(n));
  BIO_free(out);
  unsigned char* buf = nullptr;
  const int dn = i2d_PUBKEY(pkey, &buf);
  der.assign(reinterpret_cast<char*>(buf), static_cast<std::size_t>(dn));
  OPENSSL_free(buf);
  EVP_PKEY_free(pkey);
}

class HostileTokens : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = auth::key::generate(auth::jwt_alg::ES256);
    attacker_ = auth::key::generate(auth::jwt_alg::ES256);
    dir_ = new temp_dir;
    const std::string pem_path = dir_->path() + "/signing.pem";
    FILE* f = std::fopen(pem_path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    const std::string pem = key_->private_pem();
    std::fwrite(pem.data(), 1, pem.size(), f);
    std::fclose(f);
    hub_ = new hub_process({"--signing-key", pem_path, "--ws-rate-limit", "1000",
                            "--max-connections-per-ip", "100000", "--ws-connect-rate-limit", "0"});
    const auto live = login_ok(hub_->port());
    const auto parts = decode_jwt(live.access_token);
    ASSERT_TRUE(parts);
    sid_ = (*parts).claims["sid"].GetString();
    sub_ = (*parts).claims["sub"].GetString();
    const auto ended = login_ok(hub_->port());
    ASSERT_EQ(logout(hub_->port(), ended.access_token).status, 204);
    revoked_ = ended.access_token;
  }
  static void TearDownTestSuite() {
    delete hub_;
    delete dir_;
    hub_ = nullptr;
    dir_ = nullptr;
  }

  static std::int64_t now() { return now_ms() / 1000; }
  static std::string header(std::string_view alg = "ES256", std::string_view extra = {}) {
    return R"({"alg":")" + std::string(alg) + R"(","typ":"at+jwt","kid":")" + key_->kid() + "\"" +
           std::string(extra) + "}";
  }
  // The claims of a genuine token with `name` given the raw JSON `value` ("" leaves it out),
  // plus `extra` members.
  static std::string claims(std::string_view name = {}, std::string_view value = {},
                            std::string_view extra = {}) {
    const std::int64_t t = now();
    const std::pair<std::string, std::string> base[] = {
        {"iss", "\"sessionhub\""},       {"aud", "\"sessionhub\""},
        {"sub", "\"" + sub_ + "\""},     {"sid", "\"" + sid_ + "\""},
        {"iat", std::to_string(t - 10)}, {"exp", std::to_string(t + 600)},
    };
    std::string out = "{";
    bool replaced = false;
    for (const auto& [k, v] : base) {
      std::string val = v;
      if (k == name) {
        replaced = true;
        if (value.empty()) continue;
        val = value;
      }
      if (out.size() > 1) out += ",";
      out += "\"" + k + "\":" + val;
    }
    if (!replaced && !name.empty() && !value.empty()) {
      out += ",\"" + std::string(name) + "\":" + std::string(value);
    }
    out += std::string(extra) + "}";
    return out;
  }
  static std::string input(std::string_view h, std::string_view c) {
    return base64url_encode(h) + "." + base64url_encode(c);
  }
  static std::string signed_by(const auth::key& k, std::string_view h, std::string_view c) {
    const std::string in = input(h, c);
    return in + "." + base64url_encode(k.sign(in));
  }
  static std::string mint(std::string_view h, std::string_view c) { return signed_by(*key_, h, c); }
  static std::string hmac_token(const EVP_MD* md, std::string_view alg, std::string_view secret) {
    const std::string h = header(alg);
    const std::string in = input(h, claims());
    return in + "." + base64url_encode(hmac(md, secret, in));
  }

  static std::vector<hostile> cases();

  static inline auth::key_ptr key_;
  static inline auth::key_ptr attacker_;
  static inline temp_dir* dir_ = nullptr;
  static inline hub_process* hub_ = nullptr;
  static inline std::string sid_, sub_, revoked_;
};

std::vector<hostile> HostileTokens::cases() {
  std::vector<hostile> v;
  const std::int64_t t = now();
  const std::string good_c = claims();
  const std::string good = mint(header(), good_c);
  const std::string good_in = input(header(), good_c);

  // alg none, in every casing, with an empty, a garbage and the genuine signature.
  for (const char* none : {"none", "None", "NONE", "nOnE", "NoNe", "nONE", "noNE"}) {
    const std::string in = input(header(none), good_c);
    v.push_back({std::string("alg ") + none + ", empty signature", in + "."});
    v.push_back({std::string("alg ") + none + ", garbage signature", in + ".AAAA"});
  }
  v.push_back({"alg none, genuine signature kept",
               input(header("none"), good_c) + good.substr(good.rfind('.'))});
  // HMAC keyed with the hub's public key, in every form an attacker could pick.
  std::string pub_pem, pub_der;
  public_forms(key_->private_pem(), pub_pem, pub_der);
  const std::string pub_jwk = key_->public_jwk_json();
  const struct {
    const char* name;
    const EVP_MD* md;
  } hmacs[] = {{"HS256", EVP_sha256()}, {"HS384", EVP_sha384()}, {"HS512", EVP_sha512()}};
  for (const auto& h : hmacs) {
    v.push_back(
        {std::string(h.name) + " keyed with the public PEM", hmac_token(h.md, h.name, pub_pem)});
    v.push_back(
        {std::string(h.name) + " keyed with the public DER", hmac_token(h.md, h.name, pub_der)});
    v.push_back(
        {std::string(h.name) + " keyed with the public JWK", hmac_token(h.md, h.name, pub_jwk)});
    v.push_back({std::string(h.name) + " keyed with nothing", hmac_token(h.md, h.name, "")});
  }
  // Algorithms other than the key's own, signed by the key.
  for (const char* alg : {"ES384", "ES512", "RS256", "PS256", "EdDSA", "HS256", "es256", ""}) {
    v.push_back({std::string("alg '") + alg + "' on the ES256 key", mint(header(alg), good_c)});
  }
  v.push_back({"alg missing", mint(R"({"typ":"at+jwt","kid":")" + key_->kid() + "\"}", good_c)});
  v.push_back(
      {"alg a number", mint(R"({"alg":256,"typ":"at+jwt","kid":")" + key_->kid() + "\"}", good_c)});
  // kid.
  const auto with_kid = [&](const std::string& kid_json) {
    return mint(R"({"alg":"ES256","typ":"at+jwt","kid":)" + kid_json + "}", good_c);
  };
  v.push_back({"kid unknown", with_kid("\"no-such-key\"")});
  v.push_back({"kid a path", with_kid("\"../../../../etc/passwd\"")});
  v.push_back({"kid /dev/null", with_kid("\"/dev/null\"")});
  v.push_back({"kid SQL", with_kid("\"' OR '1'='1\"")});
  v.push_back({"kid huge", with_kid("\"" + std::string(1500, 'k') + "\"")});
  v.push_back({"kid empty", with_kid("\"\"")});
  v.push_back({"kid a number", with_kid("7")});
  v.push_back({"kid an object", with_kid(R"({"k":"v"})")});
  v.push_back({"kid null", with_kid("null")});
  v.push_back({"kid missing", mint(R"({"alg":"ES256","typ":"at+jwt"})", good_c)});
  v.push_back({"kid with a NUL", with_kid("\"" + key_->kid() + "\\u0000\"")});
  // Keys carried by the token itself are never trusted.
  const std::string att_jwk = attacker_->public_jwk_json();
  const auto by_attacker = [&](const std::string& extra, const std::string& kid) {
    return signed_by(*attacker_,
                     R"({"alg":"ES256","typ":"at+jwt","kid":")" + kid + "\"" + extra + "}", good_c);
  };
  v.push_back(
      {"embedded jwk, attacker's kid", by_attacker(",\"jwk\":" + att_jwk, attacker_->kid())});
  v.push_back({"embedded jwk, hub's kid", by_attacker(",\"jwk\":" + att_jwk, key_->kid())});
  v.push_back({"jku", by_attacker(R"(,"jku":"http://127.0.0.1:1/jwks.json")", attacker_->kid())});
  v.push_back({"x5u", by_attacker(R"(,"x5u":"http://127.0.0.1:1/cert.pem")", attacker_->kid())});
  v.push_back({"x5c", by_attacker(R"(,"x5c":["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"])",
                                  key_->kid())});
  v.push_back({"attacker's key, hub's kid", by_attacker("", key_->kid())});
  // crit.
  v.push_back({"crit unknown", mint(header("ES256", R"(,"crit":["exp2"],"exp2":1)"), good_c)});
  v.push_back(
      {"crit naming a registered claim", mint(header("ES256", R"(,"crit":["exp"])"), good_c)});
  v.push_back({"crit empty", mint(header("ES256", R"(,"crit":[])"), good_c)});
  v.push_back({"crit a string", mint(header("ES256", R"(,"crit":"b64")"), good_c)});
  v.push_back({"crit b64", mint(header("ES256", R"(,"crit":["b64"],"b64":false)"), good_c)});
  // Time claims.
  v.push_back({"exp just outside the leeway", mint(header(), claims("exp", std::to_string(t - 7))),
               "token_expired"});
  v.push_back({"exp an hour ago", mint(header(), claims("exp", std::to_string(t - 3600))),
               "token_expired"});
  v.push_back({"exp at 0", mint(header(), claims("exp", "0")), "token_expired"});
  v.push_back({"exp negative", mint(header(), claims("exp", "-1")), "token_expired"});
  v.push_back({"exp missing", mint(header(), claims("exp", ""))});
  v.push_back({"exp a string", mint(header(), claims("exp", "\"9999999999\""))});
  v.push_back({"exp true", mint(header(), claims("exp", "true"))});
  v.push_back({"exp null", mint(header(), claims("exp", "null"))});
  v.push_back({"exp an array", mint(header(), claims("exp", "[9999999999]"))});
  v.push_back({"exp 1e400", mint(header(), claims("exp", "1e400"))});
  v.push_back({"exp beyond int64", mint(header(), claims("exp", "99999999999999999999999"))});
  v.push_back(
      {"nbf just outside the leeway", mint(header(), claims("nbf", std::to_string(t + 60)))});
  v.push_back({"nbf a string", mint(header(), claims("nbf", "\"0\""))});
  v.push_back({"iat in the future", mint(header(), claims("iat", std::to_string(t + 3600)))});
  v.push_back({"iat missing", mint(header(), claims("iat", ""))});
  v.push_back({"iat a string", mint(header(), claims("iat", "\"0\""))});
  // Audience and issuer.
  v.push_back({"aud missing", mint(header(), claims("aud", ""))});
  v.push_back({"aud another", mint(header(), claims("aud", "\"other-api\""))});
  v.push_back({"aud array without ours", mint(header(), claims("aud", R"(["a","b"])"))});
  v.push_back({"aud empty array", mint(header(), claims("aud", "[]"))});
  v.push_back({"aud a number", mint(header(), claims("aud", "1"))});
  v.push_back({"aud different case", mint(header(), claims("aud", "\"SessionHub\""))});
  v.push_back({"iss missing", mint(header(), claims("iss", ""))});
  v.push_back({"iss another", mint(header(), claims("iss", "\"https://evil.example\""))});
  v.push_back({"iss a number", mint(header(), claims("iss", "1"))});
  v.push_back({"iss with a trailing slash", mint(header(), claims("iss", "\"sessionhub/\""))});
  // Subject claims the hub needs.
  v.push_back({"sid missing", mint(header(), claims("sid", ""))});
  v.push_back({"sub missing", mint(header(), claims("sub", ""))});
  v.push_back({"sid a number", mint(header(), claims("sid", "5"))});
  // Other token types.
  const auto typed = [&](const std::string& typ_member) {
    return mint(R"({"alg":"ES256")" + typ_member + R"(,"kid":")" + key_->kid() + "\"}", good_c);
  };
  v.push_back({"typ JWT", typed(R"(,"typ":"JWT")")});
  v.push_back({"typ missing", typed("")});
  v.push_back({"typ id_token", typed(R"(,"typ":"id_token")")});
  v.push_back({"typ a number", typed(R"(,"typ":1)")});
  v.push_back(
      {"a logout token used as an access token",
       mint(
           R"({"alg":"ES256","typ":"logout+jwt","kid":")" + key_->kid() + "\"}",
           claims(
               "", "",
               R"(,"jti":"j1","events":{"http://schemas.openid.net/event/backchannel-logout":{}})"))});
  v.push_back({"a refresh-like opaque string", base64url_encode(std::string(32, 'r'))});
  // Duplicate members.
  v.push_back({"duplicate alg (none second)",
               input(R"({"alg":"ES256","alg":"none","typ":"at+jwt","kid":")" + key_->kid() + "\"}",
                     good_c) +
                   "."});
  v.push_back({"duplicate alg, signed",
               mint(R"({"alg":"ES256","typ":"at+jwt","alg":"ES256","kid":")" + key_->kid() + "\"}",
                    good_c)});
  v.push_back({"duplicate kid", mint(header("ES256", ",\"kid\":\"other\""), good_c)});
  v.push_back({"duplicate sub", mint(header(), claims("", "", ",\"sub\":\"mallory\""))});
  v.push_back({"duplicate exp", mint(header(), claims("", "", ",\"exp\":1"))});
  v.push_back({"duplicate sid", mint(header(), claims("", "", ",\"sid\":\"other\""))});
  // Segment counts and encodings.
  v.push_back({"one segment", base64url_encode(header())});
  v.push_back({"two segments", good_in});
  v.push_back({"four segments", good + ".AAAA"});
  v.push_back({"five segments", good + ".AAAA.BBBB"});
  v.push_back({"only dots", ".."});
  v.push_back(
      {"empty header", "." + base64url_encode(good_c) + "." + good.substr(good.rfind('.') + 1)});
  v.push_back(
      {"empty claims", base64url_encode(header()) + ".." + good.substr(good.rfind('.') + 1)});
  v.push_back({"empty signature", good_in + "."});
  v.push_back({"padding in the header",
               base64url_encode(header()) + "=." + good.substr(good.find('.') + 1)});
  std::string std_b64 = good;
  std_b64[10] = '+';
  std_b64[11] = '/';
  v.push_back({"standard base64 characters", std_b64});
  std::string star = good;
  star[good.find('.') + 3] = '*';
  v.push_back({"a star in the claims", star});
  v.push_back({"a space inside", good.substr(0, 20) + " " + good.substr(20)});
  v.push_back({"header not JSON", mint("not json", good_c)});
  v.push_back({"header a JSON array", mint("[\"ES256\"]", good_c)});
  v.push_back({"claims a JSON string", mint(header(), "\"sub\"")});
  v.push_back({"claims with trailing garbage", mint(header(), good_c + "x")});
  v.push_back({"header with a BOM", mint("\xef\xbb\xbf" + header(), good_c)});
  v.push_back({"claims not UTF-8", mint(header(), claims("sub",
                                                         "\"al\xff"
                                                         "ice\""))});
  v.push_back({"claims with overlong UTF-8", mint(header(), claims("sub", "\"\xc0\xaf\""))});
  v.push_back(
      {"claims with a lone surrogate escape", mint(header(), claims("sub", "\"\\ud800\""))});
  v.push_back({"header not UTF-8",
               mint("{\"alg\":\"ES256\xff\",\"kid\":\"" + key_->kid() + "\"}", good_c)});
  // Signatures.
  std::string flipped = good;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  v.push_back({"signature with a changed byte", flipped});
  v.push_back({"signature of another key", signed_by(*attacker_, header(), good_c)});
  v.push_back({"signature truncated", good.substr(0, good.size() - 8)});
  v.push_back({"signature doubled", good + good.substr(good.rfind('.') + 1)});
  v.push_back({"signature of other claims",
               input(header(), claims("sub", "\"mallory\"")) + good.substr(good.rfind('.'))});
  // Sizes.
  v.push_back({"claims padded past the size limit",
               mint(header(), claims("", "", ",\"pad\":\"" + std::string(9000, 'p') + "\"")),
               "token_invalid", false});
  // Sessions.
  v.push_back({"a genuine token of a revoked session", revoked_, "session_revoked"});
  v.push_back({"a genuine signature over an unknown session",
               mint(header(), claims("sid", "\"AAAAAAAAAAAAAAAAAAAAAA\"")), "session_revoked"});
  return v;
}

// The hub's answer to one token on the WebSocket: the close code after an auth frame.
int ws_answer(int port, const std::string& token) {
  raw_ws tab(port);
  if (tab.status() != 101) return -tab.status();
  json frame(rapidjson::kObjectType);
  frame.AddMember("type", "auth", frame.GetAllocator());
  frame.AddMember("token",
                  rapidjson::Value(token.c_str(), static_cast<rapidjson::SizeType>(token.size()),
                                   frame.GetAllocator()),
                  frame.GetAllocator());
  tab.send_text(to_text(frame));
  return tab.close_code(5s);
}

std::size_t count_lines(hub_process& hub, std::string_view msg) {
  std::size_t n = 0;
  for (const auto& line : hub.stdout_lines()) {
    if (line.find("\"msg\":\"" + std::string(msg) + "\"") != std::string::npos &&
        line.find("\"reason\":\"") != std::string::npos)
      ++n;
  }
  return n;
}

TEST_F(HostileTokens, GenuineAndJustInsideTheRulesAreAccepted) {
  const std::int64_t t = now();
  const std::pair<const char*, std::string> accepted[] = {
      {"re-signed genuine", mint(header(), claims())},
      {"exp inside the leeway", mint(header(), claims("exp", std::to_string(t - 2)))},
      {"nbf inside the leeway", mint(header(), claims("nbf", std::to_string(t + 2)))},
      {"aud an array holding ours", mint(header(), claims("aud", R"(["x","sessionhub"])"))},
      {"typ with application/ prefix",
       mint(R"({"alg":"ES256","typ":"application/at+jwt","kid":")" + key_->kid() + "\"}",
            claims())},
  };
  for (const auto& [what, token] : accepted) {
    EXPECT_EQ(validate(hub_->port(), token).status, 200) << what;
  }
}

TEST_F(HostileTokens, EveryForgeryIsRefusedOnHttpAndWebSocketAndLogged) {
  const auto all = cases();
  ASSERT_GE(all.size(), 120u);
  const std::size_t http_before = count_lines(*hub_, "auth_failed");
  const std::size_t ws_before = count_lines(*hub_, "ws_auth_failed");
  std::size_t ws_sent = 0;
  for (const auto& c : all) {
    const auto r = validate(hub_->port(), c.token);
    EXPECT_TRUE(is_token_refusal(r, c.code)) << c.what << "\n" << r.describe();
    if (c.ws) {
      EXPECT_EQ(ws_answer(hub_->port(), c.token), 4001) << c.what;
      ++ws_sent;
    }
  }
  // Every refusal logged with its reason, and the hub alive and serving.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline &&
         (count_lines(*hub_, "auth_failed") < http_before + all.size() ||
          count_lines(*hub_, "ws_auth_failed") < ws_before + ws_sent))
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(count_lines(*hub_, "auth_failed"), http_before + all.size());
  EXPECT_EQ(count_lines(*hub_, "ws_auth_failed"), ws_before + ws_sent);
  EXPECT_TRUE(hub_->running());
  EXPECT_EQ(validate(hub_->port(), mint(header(), claims())).status, 200);
}

}  // namespace
}  // namespace shub::itest
