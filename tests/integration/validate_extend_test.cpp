// validate_extend_test: GET /v1/validate and POST /v1/extend (PROTOCOL §2), what resource
// servers and tabs rely on. Success bodies field by field; every refusal a 401 problem with
// "active":false, one of token_expired | token_invalid | session_revoked and a Bearer
// challenge. The hub runs with a signing key the test wrote (--signing-key), so the test
// can mint tokens that are correctly signed yet wrong in exactly one claim or header field.
#include <thread>

#include <gtest/gtest.h>

#include "auth/base64url.hpp"
#include "auth/keys.hpp"
#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string make_jwt(const auth::key& k, const rapidjson::Value& header,
                     const rapidjson::Value& claims) {
  const std::string input =
      auth::base64url_encode(to_text(header)) + "." + auth::base64url_encode(to_text(claims));
  return input + "." + auth::base64url_encode(k.sign(input));
}

void set_member(json& doc, const char* name, rapidjson::Value value) {
  doc.RemoveMember(name);
  doc.AddMember(rapidjson::Value(name, doc.GetAllocator()), value, doc.GetAllocator());
}

void set_string(json& doc, const char* name, const std::string& value) {
  set_member(doc, name, rapidjson::Value(value.c_str(), doc.GetAllocator()));
}

void set_int(json& doc, const char* name, std::int64_t value) {
  set_member(doc, name, rapidjson::Value(value));
}

// A hub that signs with a key this test holds, and one genuine session on it.
class HttpValidateOwnKey : public testing::Test {
 protected:
  void SetUp() override {
    key_ = auth::key::generate(auth::jwt_alg::ES256);
    const std::string pem_path = keys_.path() + "/signing.pem";
    FILE* f = std::fopen(pem_path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    const std::string pem = key_->private_pem();
    std::fwrite(pem.data(), 1, pem.size(), f);
    std::fclose(f);
    hub_ = std::make_unique<hub_process>(std::vector<std::string>{"--signing-key", pem_path});
    session_ = login_ok(hub_->port());
    auto parts = decode_jwt(session_.access_token);
    ASSERT_TRUE(parts);
    genuine_ = std::move(*parts);
  }

  // The genuine token's header and claims after `edit`, signed with `signer` (the hub's
  // key unless given).
  template <typename Edit>
  std::string mint(Edit edit, const auth::key* signer = nullptr) {
    json header, claims;
    header.CopyFrom(genuine_.header, header.GetAllocator());
    claims.CopyFrom(genuine_.claims, claims.GetAllocator());
    edit(header, claims);
    return make_jwt(signer ? *signer : *key_, header, claims);
  }

  temp_dir keys_;
  auth::key_ptr key_;
  std::unique_ptr<hub_process> hub_;
  token_response session_;
  jwt_parts genuine_;
};

TEST_F(HttpValidateOwnKey, AcceptsAReSignedGenuineToken) {
  const auto token = mint([](json&, json&) {});
  EXPECT_NE(token, session_.access_token);
  const auto r = validate(hub_->port(), token);
  EXPECT_EQ(r.status, 200) << r.describe();
}

TEST_F(HttpValidateOwnKey, RefusesWrongClaimsWithTokenInvalid) {
  const std::int64_t now = now_ms() / 1000;
  struct named_edit {
    const char* what;
    std::function<void(json&, json&)> edit;
  };
  const std::vector<named_edit> edits = {
      {"aud other", [](json&, json& c) { set_string(c, "aud", "other-api"); }},
      {"aud array without ours",
       [](json&, json& c) {
         rapidjson::Value a(rapidjson::kArrayType);
         a.PushBack(rapidjson::Value("other-api"), c.GetAllocator());
         set_member(c, "aud", std::move(a));
       }},
      {"iss other", [](json&, json& c) { set_string(c, "iss", "https://evil.example.test"); }},
      {"typ JWT", [](json& h, json&) { set_string(h, "typ", "JWT"); }},
      {"typ absent", [](json& h, json&) { h.RemoveMember("typ"); }},
      {"nbf in the future", [&](json&, json& c) { set_int(c, "nbf", now + 600); }},
      {"iat in the future",
       [&](json&, json& c) {
         set_int(c, "iat", now + 600);
         set_int(c, "nbf", now + 600);
         set_int(c, "exp", now + 1200);
       }},
      {"exp absent", [](json&, json& c) { c.RemoveMember("exp"); }},
      {"sid absent", [](json&, json& c) { c.RemoveMember("sid"); }},
      {"sid not a string", [](json&, json& c) { set_int(c, "sid", 42); }},
      {"kid unknown", [](json& h, json&) { set_string(h, "kid", "no-such-key"); }},
      {"alg HS256", [](json& h, json&) { set_string(h, "alg", "HS256"); }},
      {"alg ES384", [](json& h, json&) { set_string(h, "alg", "ES384"); }},
  };
  for (const auto& e : edits)
    EXPECT_TRUE(is_token_refusal(validate(hub_->port(), mint(e.edit)), "token_invalid")) << e.what;
}

TEST_F(HttpValidateOwnKey, RefusesForgedSignaturesWithTokenInvalid) {
  const auto foreign = auth::key::generate(auth::jwt_alg::ES256);
  const std::string forged = mint([](json&, json&) {}, foreign.get());
  EXPECT_TRUE(is_token_refusal(validate(hub_->port(), forged), "token_invalid"));

  // Claims changed under the genuine signature.
  json claims;
  claims.CopyFrom(genuine_.claims, claims.GetAllocator());
  set_string(claims, "sub", "bob");
  const std::string swapped = auth::base64url_encode(to_text(genuine_.header)) + "." +
                              auth::base64url_encode(to_text(claims)) + "." +
                              auth::base64url_encode(genuine_.signature);
  EXPECT_TRUE(is_token_refusal(validate(hub_->port(), swapped), "token_invalid"));

  // alg none, no signature.
  json header;
  header.CopyFrom(genuine_.header, header.GetAllocator());
  set_string(header, "alg", "none");
  const std::string none = auth::base64url_encode(to_text(header)) + "." +
                           auth::base64url_encode(to_text(genuine_.claims)) + ".";
  EXPECT_TRUE(is_token_refusal(validate(hub_->port(), none), "token_invalid"));
}

TEST_F(HttpValidateOwnKey, CallsAPastExpiryTokenExpired) {
  const std::int64_t now = now_ms() / 1000;
  const auto token = mint([&](json&, json& c) {
    set_int(c, "iat", now - 1000);
    set_int(c, "nbf", now - 1000);
    set_int(c, "exp", now - 100);
  });
  EXPECT_TRUE(is_token_refusal(validate(hub_->port(), token), "token_expired"));
  EXPECT_TRUE(is_token_refusal(extend(hub_->port(), token), "token_expired"));
}

TEST_F(HttpValidateOwnKey, RefusesAnUnknownSession) {
  const auto token = mint([](json&, json& c) { set_string(c, "sid", "AAAAAAAAAAAAAAAAAAAAAA"); });
  const auto r = validate(hub_->port(), token);
  EXPECT_TRUE(is_token_refusal(r, "token_invalid") || is_token_refusal(r, "session_revoked"))
      << r.describe();
}

TEST(HttpValidate, DescribesAnActiveSession) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  const auto r = validate(hub.port(), t.access_token);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "application/json"));
  const json body = r.json_body();
  EXPECT_EQ(json_bool(body, "active"), true) << r.body;
  EXPECT_EQ(json_string(body, "sub"), "alice");
  EXPECT_EQ(json_string(body, "sid"), t.sid);
  EXPECT_EQ(json_int(body, "exp"), json_int(decode_jwt(t.access_token)->claims, "exp"));
  EXPECT_EQ(json_int(body, "idle_expires_at"), t.idle_expires_at);
  EXPECT_EQ(json_int(body, "expires_at"), t.expires_at);
  EXPECT_EQ(json_int(body, "version"), t.version);
}

TEST(HttpValidate, MissingOrNonBearerCredentialsAreTokenInvalid) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  EXPECT_TRUE(is_token_refusal(http_request(hub.port(), "GET", "/v1/validate"), "token_invalid"));
  const std::vector<std::string> values = {"Basic YWxpY2U6d29uZGVybGFuZA==", "Bearer", "Bearer ",
                                           "Token " + t.access_token, t.access_token};
  for (const auto& value : values) {
    const auto r = http_request(hub.port(), "GET", "/v1/validate", {{"Authorization", value}});
    EXPECT_TRUE(is_token_refusal(r, "token_invalid")) << value;
  }
  // A refresh token is not an access token.
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), *t.refresh_token), "token_invalid"));
}

TEST(HttpValidate, GarbageAndAlteredTokensAreTokenInvalid) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  std::string flipped = t.access_token;
  const auto sig_at = flipped.rfind('.') + 5;
  flipped[sig_at] = flipped[sig_at] == 'A' ? 'B' : 'A';
  const std::vector<std::string> bad_tokens = {"abc",
                                               "a.b.c",
                                               "...",
                                               flipped,
                                               t.access_token.substr(0, t.access_token.rfind('.')),
                                               t.access_token + "." + t.access_token,
                                               std::string(10000, 'a')};
  for (const auto& bad : bad_tokens) {
    EXPECT_TRUE(is_token_refusal(validate(hub.port(), bad), "token_invalid")) << bad.substr(0, 80);
  }
  EXPECT_EQ(validate(hub.port(), t.access_token).status, 200);
}

TEST(HttpValidate, ExpiredAccessTokenIsTokenExpiredButTheSessionLives) {
  hub_process hub({"--access-ttl-s", "1", "--clock-leeway-s", "0"});
  const auto t = login_ok(hub.port());
  EXPECT_EQ(t.expires_in, 1);
  sleep_ms(2200);
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), t.access_token), "token_expired"));
  EXPECT_TRUE(is_token_refusal(extend(hub.port(), t.access_token), "token_expired"));
  const auto fresh = refresh_ok(hub.port(), *t.refresh_token);
  EXPECT_EQ(validate(hub.port(), fresh.access_token).status, 200);
}

TEST(HttpValidate, ClockLeewayToleratesARecentExpiry) {
  hub_process hub({"--access-ttl-s", "1", "--clock-leeway-s", "30"});
  const auto t = login_ok(hub.port());
  sleep_ms(2200);
  EXPECT_EQ(validate(hub.port(), t.access_token).status, 200);
}

TEST(HttpValidate, RevokedSessionIsSessionRevoked) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  const auto del = delete_session(hub.port(), t.sid);
  ASSERT_EQ(del.status, 204) << del.describe();
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), t.access_token), "session_revoked"));
  EXPECT_TRUE(is_token_refusal(extend(hub.port(), t.access_token), "session_revoked"));
}

TEST(HttpExtend, SlidesTheIdleExpiryAndBumpsTheVersion) {
  hub_process hub({"--idle-timeout-s", "60"});
  const auto t = login_ok(hub.port());
  sleep_ms(1100);
  const auto before = now_ms();
  const auto r = extend(hub.port(), t.access_token);
  const auto after = now_ms();
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "application/json"));
  const json body = r.json_body();
  const auto idle = json_int(body, "idle_expires_at");
  const auto version = json_int(body, "version");
  ASSERT_TRUE(idle && version) << r.body;
  EXPECT_GE(*idle, t.idle_expires_at + 1000);
  EXPECT_GE(*idle, before + 60'000 - 1000);
  EXPECT_LE(*idle, after + 60'000 + 1000);
  EXPECT_EQ(*version, t.version + 1) << "one state change, one version";

  const json v = validate(hub.port(), t.access_token).json_body();
  EXPECT_EQ(json_int(v, "idle_expires_at"), idle);
  EXPECT_EQ(json_int(v, "version"), version);
  EXPECT_EQ(json_int(v, "expires_at"), t.expires_at) << "extend must not move the absolute expiry";
}

TEST(HttpExtend, KeepsAnIdleSessionAlive) {
  hub_process hub({"--idle-timeout-s", "3"});
  const auto t = login_ok(hub.port());
  sleep_ms(1500);
  ASSERT_EQ(extend(hub.port(), t.access_token).status, 200);
  sleep_ms(2000);
  ASSERT_GT(now_ms(), t.idle_expires_at);
  EXPECT_EQ(validate(hub.port(), t.access_token).status, 200);
  EXPECT_EQ(refresh(hub.port(), *t.refresh_token).status, 200);
}

TEST(HttpExtend, RefusalsAreLikeValidates) {
  hub_process hub;
  EXPECT_TRUE(is_token_refusal(http_request(hub.port(), "POST", "/v1/extend"), "token_invalid"));
  EXPECT_TRUE(is_token_refusal(extend(hub.port(), "a.b.c"), "token_invalid"));
  const auto t = login_ok(hub.port());
  ASSERT_EQ(logout(hub.port(), t.access_token).status, 204);
  EXPECT_TRUE(is_token_refusal(extend(hub.port(), t.access_token), "session_revoked"));
}

}  // namespace
}  // namespace shub::itest
