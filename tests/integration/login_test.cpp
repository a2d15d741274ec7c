// login_test: POST /v1/login against the users file (PROTOCOL §2): the token response
// field by field, the access token's header and claims, the two path-limited shub_rt
// cookies and the shub_did device cookie, the options that shape all of these (flags and
// SESSIONHUB_* environment), and the single refusal code for bad credentials.
#include <gtest/gtest.h>

#include "auth/base64url.hpp"
#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

constexpr std::int64_t default_max_age_ms = 604800LL * 1000;
constexpr std::int64_t default_idle_ms = 1800LL * 1000;

// `value` lies within [lo - slack, hi + slack].
testing::AssertionResult within(std::int64_t value, std::int64_t lo, std::int64_t hi,
                                std::int64_t slack = 2000) {
  if (value >= lo - slack && value <= hi + slack) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << value << " not within [" << lo << ", " << hi << "] ± " << slack;
}

TEST(HttpLogin, ReturnsTheTokenResponse) {
  hub_process hub;
  const auto before = now_ms();
  const auto r = login(hub.port(), "alice", "wonderland", false);
  const auto after = now_ms();
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "application/json"));
  const auto t = parse_token_response(r);
  ASSERT_TRUE(t) << r.body;
  EXPECT_FALSE(t->access_token.empty());
  EXPECT_EQ(t->token_type, "Bearer");
  EXPECT_EQ(t->expires_in, 900);
  EXPECT_FALSE(t->sid.empty());
  EXPECT_EQ(t->sub, "alice");
  EXPECT_TRUE(within(t->expires_at, before + default_max_age_ms, after + default_max_age_ms));
  EXPECT_TRUE(within(t->idle_expires_at, before + default_idle_ms, after + default_idle_ms));
  EXPECT_FALSE(t->refresh_token) << "refresh_token in the body without token_delivery: " << r.body;
}

TEST(HttpLogin, TokenDeliveryBodyAddsTheRefreshToken) {
  hub_process hub;
  const auto r = login(hub.port(), "alice", "wonderland", true);
  ASSERT_EQ(r.status, 200) << r.describe();
  const auto t = parse_token_response(r);
  ASSERT_TRUE(t && t->refresh_token) << r.body;
  const auto raw = auth::base64url_decode(*t->refresh_token);
  ASSERT_TRUE(raw) << "refresh token is not base64url: " << *t->refresh_token;
  EXPECT_GE(raw->size(), 32u) << "fewer than 256 bits";
  const auto cookie = find_set_cookie(r, "shub_rt", "/v1/refresh");
  ASSERT_TRUE(cookie) << r.describe();
  EXPECT_EQ(cookie->value, *t->refresh_token);
}

TEST(HttpLogin, RefreshCookieIsSetForTheRefreshAndLogoutPathsOnly) {
  hub_process hub;
  const auto r = login(hub.port(), "alice", "wonderland", false);
  ASSERT_EQ(r.status, 200) << r.describe();
  const auto all = find_set_cookies(r, "shub_rt");
  ASSERT_EQ(all.size(), 2u) << r.describe();
  const auto for_refresh = find_set_cookie(r, "shub_rt", "/v1/refresh");
  const auto for_logout = find_set_cookie(r, "shub_rt", "/v1/logout");
  ASSERT_TRUE(for_refresh && for_logout) << r.describe();
  EXPECT_EQ(for_refresh->value, for_logout->value);
  EXPECT_FALSE(for_refresh->value.empty());
  for (const auto& c : {*for_refresh, *for_logout}) {
    EXPECT_TRUE(c.has("HttpOnly")) << c.path();
    EXPECT_TRUE(iequals(c.attribute("SameSite").value_or(""), "Strict")) << c.path();
    EXPECT_FALSE(c.has("Secure")) << "plain HTTP on loopback: " << c.path();
    ASSERT_TRUE(c.max_age()) << c.path();
    EXPECT_GE(*c.max_age(), 604800 - 5);
    EXPECT_LE(*c.max_age(), 604800);
  }
}

TEST(HttpLogin, DeviceCookieIsSetAndBecomesTheSessionsDevice) {
  hub_process hub;
  const auto r = login(hub.port(), "alice", "wonderland", false);
  ASSERT_EQ(r.status, 200) << r.describe();
  const auto did = find_set_cookie(r, "shub_did", "/");
  ASSERT_TRUE(did) << r.describe();
  EXPECT_FALSE(did->value.empty());
  EXPECT_TRUE(did->has("HttpOnly"));
  EXPECT_TRUE(iequals(did->attribute("SameSite").value_or(""), "Strict"));
  EXPECT_EQ(did->max_age(), 34560000);
  EXPECT_FALSE(did->has("Secure"));

  const auto t = parse_token_response(r);
  ASSERT_TRUE(t);
  const json list = list_sessions(hub.port(), "alice");
  ASSERT_TRUE(list.HasMember("sessions") && list["sessions"].IsArray()) << to_text(list);
  ASSERT_EQ(list["sessions"].Size(), 1u) << to_text(list);
  EXPECT_EQ(json_string(list["sessions"][0], "sid"), t->sid);
  EXPECT_EQ(json_string(list["sessions"][0], "device_id"), did->value);
}

TEST(HttpLogin, CarriedDeviceCookieIsKeptAndUsed) {
  hub_process hub;
  const auto first = login(hub.port(), "alice", "wonderland", false);
  const auto did = find_set_cookie(first, "shub_did", "/");
  ASSERT_TRUE(did) << first.describe();

  const auto second =
      login(hub.port(), "bob", "builder", false, {cookie_header({{"shub_did", did->value}})});
  ASSERT_EQ(second.status, 200) << second.describe();
  EXPECT_TRUE(find_set_cookies(second, "shub_did").empty())
      << "shub_did set again though the request carried it\n"
      << second.describe();
  const json list = list_sessions(hub.port(), "bob");
  ASSERT_TRUE(list.HasMember("sessions") && list["sessions"].IsArray()) << to_text(list);
  ASSERT_EQ(list["sessions"].Size(), 1u) << to_text(list);
  EXPECT_EQ(json_string(list["sessions"][0], "device_id"), did->value);
}

TEST(HttpLogin, AccessTokenCarriesTheRegisteredClaims) {
  hub_process hub;
  const auto before_s = now_ms() / 1000;
  const auto t = login_ok(hub.port());
  const auto after_s = now_ms() / 1000 + 1;
  const auto jwt = decode_jwt(t.access_token);
  ASSERT_TRUE(jwt) << t.access_token;
  EXPECT_EQ(json_string(jwt->header, "alg"), "ES256");
  EXPECT_EQ(json_string(jwt->header, "typ"), "at+jwt");
  EXPECT_TRUE(json_string(jwt->header, "kid"));

  const auto& c = jwt->claims;
  EXPECT_EQ(json_string(c, "iss"), "sessionhub");
  EXPECT_EQ(json_string(c, "sub"), "alice");
  EXPECT_EQ(json_string(c, "aud"), "sessionhub") << "aud must be a string: " << to_text(c);
  EXPECT_EQ(json_string(c, "sid"), t.sid);
  EXPECT_TRUE(json_string(c, "jti") && !json_string(c, "jti")->empty());
  const auto iat = json_int(c, "iat"), exp = json_int(c, "exp"), nbf = json_int(c, "nbf");
  const auto auth_time = json_int(c, "auth_time");
  ASSERT_TRUE(iat && exp && nbf && auth_time) << to_text(c);
  EXPECT_TRUE(within(*iat, before_s, after_s, 1));
  EXPECT_TRUE(within(*auth_time, before_s, after_s, 1));
  EXPECT_LE(*nbf, *iat + 1);
  EXPECT_EQ(*exp - *iat, t.expires_in);

  const auto other = login_ok(hub.port());
  const auto other_jwt = decode_jwt(other.access_token);
  ASSERT_TRUE(other_jwt);
  EXPECT_NE(json_string(other_jwt->claims, "jti"), json_string(c, "jti"));
}

TEST(HttpLogin, IssuerAudienceAndLifetimesFollowTheFlags) {
  hub_process hub({"--issuer", "https://id.example.test", "--audience", "orders-api",
                   "--access-ttl-s", "120", "--idle-timeout-s", "600", "--max-age-s", "3600"});
  const auto before = now_ms();
  const auto r = login(hub.port(), "alice", "wonderland", false);
  const auto after = now_ms();
  const auto t = parse_token_response(r);
  ASSERT_TRUE(t) << r.describe();
  EXPECT_EQ(t->expires_in, 120);
  EXPECT_TRUE(within(t->idle_expires_at, before + 600'000, after + 600'000));
  EXPECT_TRUE(within(t->expires_at, before + 3'600'000, after + 3'600'000));
  const auto jwt = decode_jwt(t->access_token);
  ASSERT_TRUE(jwt);
  EXPECT_EQ(json_string(jwt->claims, "iss"), "https://id.example.test");
  EXPECT_EQ(json_string(jwt->claims, "aud"), "orders-api");
  EXPECT_EQ(*json_int(jwt->claims, "exp") - *json_int(jwt->claims, "iat"), 120);
  const auto cookie = find_set_cookie(r, "shub_rt", "/v1/refresh");
  ASSERT_TRUE(cookie && cookie->max_age()) << r.describe();
  EXPECT_GE(*cookie->max_age(), 3600 - 5);
  EXPECT_LE(*cookie->max_age(), 3600);
  EXPECT_EQ(validate(hub.port(), t->access_token).status, 200);
}

TEST(HttpLogin, OptionsComeFromTheEnvironmentToo) {
  hub_options options;
  options.env = {"SESSIONHUB_ACCESS_TTL_S=77", "SESSIONHUB_ISSUER=env-issuer"};
  hub_process hub(options);
  const auto t = login_ok(hub.port());
  EXPECT_EQ(t.expires_in, 77);
  const auto jwt = decode_jwt(t.access_token);
  ASSERT_TRUE(jwt);
  EXPECT_EQ(json_string(jwt->claims, "iss"), "env-issuer");
}

TEST(HttpLogin, BadCredentialsAreInvalidCredentials) {
  hub_process hub;
  const std::pair<const char*, const char*> attempts[] = {
      {"alice", "wrong"}, {"alice", ""}, {"alice", "builder"}, {"carol", "wonderland"}};
  for (const auto& [user, password] : attempts) {
    const auto r = login(hub.port(), user, password, true);
    EXPECT_TRUE(is_problem(r, 401, "invalid_credentials")) << user << "/" << password;
    EXPECT_TRUE(find_set_cookies(r, "shub_rt").empty()) << r.describe();
    EXPECT_EQ(r.body.find("refresh_token"), std::string::npos) << r.body;
  }
  EXPECT_TRUE(hub.wait_for_log_msg("login_failed", 2s)) << hub.output();
}

TEST(HttpLogin, EachLoginIsItsOwnSession) {
  hub_process hub;
  const auto a1 = login_ok(hub.port());
  const auto a2 = login_ok(hub.port());
  const auto b = login_ok(hub.port(), "bob", "builder");
  EXPECT_NE(a1.sid, a2.sid);
  EXPECT_NE(a1.refresh_token, a2.refresh_token);
  EXPECT_NE(a1.access_token, a2.access_token);
  EXPECT_EQ(b.sub, "bob");
  for (const auto* t : {&a1, &a2, &b}) {
    const auto r = validate(hub.port(), t->access_token);
    ASSERT_EQ(r.status, 200) << r.describe();
    EXPECT_EQ(json_string(r.json_body(), "sid"), t->sid);
    EXPECT_EQ(json_string(r.json_body(), "sub"), t->sub);
  }
  const json list = list_sessions(hub.port(), "alice");
  ASSERT_TRUE(list.HasMember("sessions") && list["sessions"].IsArray());
  EXPECT_EQ(list["sessions"].Size(), 2u) << to_text(list);
}

}  // namespace
}  // namespace shub::itest
