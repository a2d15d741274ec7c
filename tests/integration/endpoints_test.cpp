// The HTTP endpoints of PROTOCOL §2 and §5 over real sockets: ops endpoints, login and its
// cookies, refresh by cookie, logout, the server API, stats and metrics, CORS, and the
// error answers (problem+json codes, 401/404/405/413/429).
#include <gtest/gtest.h>

#include "auth/jwt.hpp"
#include "auth/keys.hpp"
#include "support.hpp"

namespace shub::it {
namespace {

using header_list = std::vector<std::pair<std::string, std::string>>;

header_list api() {
  return {{"Authorization", std::string("Bearer ") + api_key}};
}
header_list bearer(const std::string& t) {
  return {{"Authorization", "Bearer " + t}};
}

std::vector<std::string> set_cookies(const http_result& r, const std::string& name) {
  std::vector<std::string> out;
  const auto [a, b] = r.headers.equal_range("Set-Cookie");
  for (auto it = a; it != b; ++it) {
    if (it->second.rfind(name + "=", 0) == 0) out.push_back(it->second);
  }
  return out;
}

std::string header(const http_result& r, const std::string& name) {
  const auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string{} : it->second;
}

std::string cookie_value(const std::string& set_cookie) {
  const auto eq = set_cookie.find('='), semi = set_cookie.find(';');
  return set_cookie.substr(eq + 1, semi - eq - 1);
}

std::string code_of(const http_result& r) {
  const auto d = r.parse();
  return d.IsObject() && d.HasMember("code") ? d["code"].GetString() : "";
}

const std::string alice = R"({"username":"alice","password":"wonderland"})";

TEST(Endpoints, OpsHealthReadinessKeysAndErrors) {
  hub_process hub;
  auto r = http(hub.port(), "GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  EXPECT_EQ(http(hub.port(), "GET", "/readyz").status, 200);
  r = http(hub.port(), "GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(header(r, "Content-Type"), "application/problem+json");
  EXPECT_EQ(code_of(r), "not_found");
  r = http(hub.port(), "DELETE", "/v1/login");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "POST");
  EXPECT_EQ(code_of(r), "method_not_allowed");
  r = http(hub.port(), "HEAD", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());

  // The JWKS holds the key that signs access tokens, and it verifies them.
  const auto s = create_session(hub.port(), "alice");
  const auto jwks = http(hub.port(), "GET", "/.well-known/jwks.json");
  ASSERT_EQ(jwks.status, 200);
  std::string error;
  const auto keys = auth::key_set::from_jwks(jwks.body, error);
  ASSERT_FALSE(keys.empty()) << error;
  auth::jwt_expectations e;
  e.typ = "at+jwt";
  e.issuer = "sessionhub";
  e.audience = "sessionhub";
  e.now_s = std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  const auto v = auth::jwt_verify(s.access_token, keys, e);
  ASSERT_TRUE(v.ok()) << auth::to_string(v.error);
  EXPECT_STREQ(v.jwt->claims["sid"].GetString(), s.sid.c_str());
  EXPECT_EQ(keys.signer()->alg(), auth::jwt_alg::ES256);
}

TEST(Endpoints, LoginSetsBothCookiesAndTheDevice) {
  hub_process hub({}, true);
  const auto r = http(hub.port(), "POST", "/v1/login", alice);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto d = r.parse();
  EXPECT_STREQ(d["token_type"].GetString(), "Bearer");
  EXPECT_EQ(d["expires_in"].GetInt64(), 900);
  EXPECT_FALSE(d.HasMember("refresh_token"));  // only when asked for in the body
  for (const char* f : {"sid", "sub", "expires_at", "idle_expires_at", "version"}) {
    EXPECT_TRUE(d["session"].HasMember(f)) << f;
  }
  const auto rt = set_cookies(r, "shub_rt");
  ASSERT_EQ(rt.size(), 2u);
  EXPECT_NE(rt[0].find("Path=/v1/refresh"), std::string::npos);
  EXPECT_NE(rt[1].find("Path=/v1/logout"), std::string::npos);
  for (const auto& c : rt) {
    EXPECT_NE(c.find("HttpOnly"), std::string::npos);
    EXPECT_NE(c.find("SameSite=Strict"), std::string::npos);
    EXPECT_EQ(c.find("Secure"), std::string::npos);  // plain HTTP on loopback
    EXPECT_EQ(cookie_value(c).size(), 43u);
  }
  const auto did = set_cookies(r, "shub_did");
  ASSERT_EQ(did.size(), 1u);
  EXPECT_NE(did[0].find("Path=/;"), std::string::npos);
  // A browser that has a device id keeps it.
  const auto again = http(hub.port(), "POST", "/v1/login", alice,
                          {{"Cookie", "shub_did=" + cookie_value(did[0])}});
  EXPECT_TRUE(set_cookies(again, "shub_did").empty());
  const auto body = http(hub.port(), "POST", "/v1/login",
                         R"({"username":"alice","password":"wonderland","token_delivery":"body"})");
  EXPECT_EQ(body.parse()["refresh_token"].GetStringLength(), 43u);

  const auto bad = http(hub.port(), "POST", "/v1/login", R"({"username":"alice","password":"x"})");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(code_of(bad), "invalid_credentials");
  EXPECT_EQ(
      code_of(http(hub.port(), "POST", "/v1/login", R"({"username":"nobody","password":"x"})")),
      "invalid_credentials");
  EXPECT_EQ(code_of(http(hub.port(), "POST", "/v1/login", "{not json")), "invalid_request");
  EXPECT_TRUE(hub.wait_for_log("\"msg\":\"login_failed\"", 1s));
}

TEST(Endpoints, LoginIsRateLimitedPerAddress) {
  hub_process hub({"--login-rate-limit", "2"}, true);
  EXPECT_EQ(http(hub.port(), "POST", "/v1/login", alice).status, 200);
  EXPECT_EQ(http(hub.port(), "POST", "/v1/login", alice).status, 200);
  const auto r = http(hub.port(), "POST", "/v1/login", alice);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(code_of(r), "rate_limited");
  EXPECT_GE(std::stoi(header(r, "Retry-After")), 1);
}

TEST(Endpoints, RefreshByCookieThenLogoutClearsCookies) {
  hub_process hub({}, true);
  const auto login = http(hub.port(), "POST", "/v1/login", alice);
  const std::string rt = cookie_value(set_cookies(login, "shub_rt")[0]);
  const auto r = http(hub.port(), "POST", "/v1/refresh", {}, {{"Cookie", "shub_rt=" + rt}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string rt2 = cookie_value(set_cookies(r, "shub_rt")[0]);
  EXPECT_NE(rt2, rt);
  EXPECT_FALSE(r.parse().HasMember("refresh_token"));
  const std::string access = r.parse()["access_token"].GetString();

  const auto out = http(hub.port(), "POST", "/v1/logout", R"({"scope":"session"})", bearer(access));
  EXPECT_EQ(out.status, 204);
  const auto cleared = set_cookies(out, "shub_rt");
  ASSERT_EQ(cleared.size(), 2u);
  for (const auto& c : cleared)
    EXPECT_NE(c.find("Max-Age=0"), std::string::npos);
  const auto v = http(hub.port(), "GET", "/v1/validate", {}, bearer(access));
  EXPECT_EQ(v.status, 401);
  EXPECT_EQ(code_of(v), "session_revoked");
  EXPECT_EQ(http(hub.port(), "POST", "/v1/logout", {}, bearer(access)).status, 401);
  EXPECT_EQ(http(hub.port(), "POST", "/v1/refresh", {}, {{"Cookie", "shub_rt=" + rt2}}).status,
            401);
}

TEST(Endpoints, LogoutByCookieAndByScope) {
  hub_process hub({}, true);
  const std::string did = "DeV1ceDeV1ceDeV1ceDeV1";
  const auto one = http(hub.port(), "POST", "/v1/login", alice, {{"Cookie", "shub_did=" + did}});
  const auto two = http(hub.port(), "POST", "/v1/login", alice, {{"Cookie", "shub_did=" + did}});
  const auto other = create_session(hub.port(), "alice");  // another device
  const auto bob = create_session(hub.port(), "bob");
  const std::string rt = cookie_value(set_cookies(one, "shub_rt")[1]);
  EXPECT_EQ(
      http(hub.port(), "POST", "/v1/logout", R"({"scope":"device"})", {{"Cookie", "shub_rt=" + rt}})
          .status,
      204);
  EXPECT_EQ(
      http(hub.port(), "GET", "/v1/validate", {}, bearer(two.parse()["access_token"].GetString()))
          .status,
      401);
  EXPECT_EQ(http(hub.port(), "GET", "/v1/validate", {}, bearer(other.access_token)).status, 200);
  EXPECT_EQ(
      http(hub.port(), "POST", "/v1/logout", R"({"scope":"user"})", bearer(other.access_token))
          .status,
      204);
  EXPECT_EQ(http(hub.port(), "GET", "/v1/validate", {}, bearer(other.access_token)).status, 401);
  EXPECT_EQ(http(hub.port(), "GET", "/v1/validate", {}, bearer(bob.access_token)).status, 200);
  EXPECT_EQ(code_of(http(hub.port(), "POST", "/v1/logout", R"({"scope":"galaxy"})",
                         bearer(bob.access_token))),
            "invalid_request");
  EXPECT_EQ(http(hub.port(), "POST", "/v1/logout").status, 401);
}

TEST(Endpoints, ValidateRefusalsCarryActiveFalse) {
  hub_process hub;
  for (const header_list& h : {header_list{}, bearer("garbage")}) {
    const auto r = http(hub.port(), "GET", "/v1/validate", {}, h);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(header(r, "Content-Type"), "application/problem+json");
    EXPECT_FALSE(r.parse()["active"].GetBool());
    EXPECT_EQ(code_of(r), "token_invalid");
    EXPECT_EQ(header(r, "WWW-Authenticate").rfind("Bearer", 0), 0u);
  }
  const auto s = create_session(hub.port(), "alice");
  const auto ok = http(hub.port(), "GET", "/v1/validate", {}, bearer(s.access_token)).parse();
  for (const char* f :
       {"active", "sub", "sid", "exp", "idle_expires_at", "expires_at", "version"}) {
    EXPECT_TRUE(ok.HasMember(f)) << f;
  }
  const auto e = http(hub.port(), "POST", "/v1/extend", {}, bearer(s.access_token));
  ASSERT_EQ(e.status, 200);
  EXPECT_EQ(e.parse()["version"].GetUint64(), 2u);
  EXPECT_GE(e.parse()["idle_expires_at"].GetInt64(), ok["idle_expires_at"].GetInt64());
}

TEST(Endpoints, ServerApiSessionsAndKeys) {
  hub_process hub;
  for (const header_list& h : {header_list{}, bearer("wrong-key")}) {
    const auto r = http(hub.port(), "GET", "/v1/stats", {}, h);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(code_of(r), "invalid_api_key");
  }
  const auto bad =
      http(hub.port(), "POST", "/v1/sessions", R"({"sub":"a","claims":{"exp":1}})", api());
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(http(hub.port(), "POST", "/v1/sessions", R"({"claims":{}})", api()).status, 400);
  const auto s1 = create_session(hub.port(), "alice",
                                 R"("idle_timeout_s":60,"max_age_s":120,"device_id":"d1")");
  const auto s2 = create_session(hub.port(), "alice");
  create_session(hub.port(), "bob");
  auto tab = authed_tab(hub.port(), s1.access_token);

  const auto list = http(hub.port(), "GET", "/v1/sessions?sub=alice", {}, api());
  ASSERT_EQ(list.status, 200);
  const auto d = list.parse();
  ASSERT_EQ(d["sessions"].Size(), 2u);
  for (const auto& s : d["sessions"].GetArray()) {
    for (const char* f : {"sid", "sub", "created_at", "idle_expires_at", "expires_at",
                          "connections", "device_id"}) {
      EXPECT_TRUE(s.HasMember(f)) << f;
    }
    if (s["sid"] == s1.sid.c_str()) {
      EXPECT_EQ(s["connections"].GetInt64(), 1);
      EXPECT_STREQ(s["device_id"].GetString(), "d1");
      EXPECT_EQ(s["expires_at"].GetInt64() - s["created_at"].GetInt64(), 120'000);
      EXPECT_EQ(s["idle_expires_at"].GetInt64() - s["created_at"].GetInt64(), 60'000);
    }
  }
  EXPECT_EQ(http(hub.port(), "GET", "/v1/sessions", {}, api()).status, 400);
  EXPECT_EQ(http(hub.port(), "DELETE", "/v1/sessions/unknown-sid", {}, api()).status, 404);
  const auto all = http(hub.port(), "POST", "/v1/users/alice/logout", {}, api());
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.parse()["revoked"].GetInt(), 2);
  EXPECT_EQ(tab->close_code(2s), 4010);
  (void)s2;
}

TEST(Endpoints, StatsAndMetricsHaveEveryField) {
  hub_process hub({"--reuse-interval-s", "0"});
  const auto s = create_session(hub.port(), "alice");
  const std::string body = "{\"refresh_token\":\"" + s.refresh_token + "\"}";
  ASSERT_EQ(http(hub.port(), "POST", "/v1/refresh", body).status, 200);
  ASSERT_EQ(http(hub.port(), "POST", "/v1/refresh", R"({"refresh_token":"x"})").status, 401);
  std::this_thread::sleep_for(1100ms);
  ASSERT_EQ(http(hub.port(), "POST", "/v1/refresh", body).status, 401);  // reuse

  const auto d = http(hub.port(), "GET", "/v1/stats", {}, api()).parse();
  EXPECT_TRUE(d["replica"].IsString());
  EXPECT_TRUE(d["uptime_s"].IsInt64());
  for (const char* f : {"current", "authenticated", "watching", "total"})
    EXPECT_TRUE(d["connections"][f].IsInt64()) << f;
  EXPECT_TRUE(d["sessions"]["active"].IsInt64());
  for (const char* f : {"published", "delivered", "dropped"})
    EXPECT_TRUE(d["events"][f].IsInt64()) << f;
  for (const char* f : {"p50", "p99", "max"})
    EXPECT_TRUE(d["fanout_latency_ms"][f].IsNumber()) << f;
  EXPECT_EQ(d["refresh"]["ok"].GetInt64(), 1);
  EXPECT_EQ(d["refresh"]["reused"].GetInt64(), 1);
  EXPECT_EQ(d["refresh"]["failed"].GetInt64(), 1);
  EXPECT_TRUE(d["cluster"]["peers"].IsArray());
  EXPECT_TRUE(d["cluster"]["received"].IsInt64());
  EXPECT_TRUE(d["cluster"]["gaps"].IsInt64());
  EXPECT_STREQ(d["store"]["kind"].GetString(), "sqlite");
  EXPECT_TRUE(d["store"]["up"].GetBool());
  for (const char* f : {"p50", "p99"})
    EXPECT_TRUE(d["store"]["latency_ms"][f].IsNumber()) << f;

  const auto m = http(hub.port(), "GET", "/metrics", {}, api());
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(header(m, "Content-Type").rfind("text/plain", 0), 0u);
  EXPECT_NE(m.body.find("sessionhub_refresh_reused_total 1"), std::string::npos);
  EXPECT_NE(m.body.find("sessionhub_fanout_latency_seconds_bucket{le="), std::string::npos);
  EXPECT_NE(m.body.find("sessionhub_slow_consumer_kicks_total"), std::string::npos);
}

TEST(Endpoints, CorsForListedOriginsOnly) {
  hub_process hub;
  const header_list ok = {{"Origin", test_origin}};
  const auto r = http(hub.port(), "GET", "/healthz", {}, ok);
  EXPECT_EQ(header(r, "Access-Control-Allow-Origin"), test_origin);
  EXPECT_EQ(header(r, "Access-Control-Allow-Credentials"), "true");
  EXPECT_NE(header(r, "Vary").find("Origin"), std::string::npos);
  const auto pre = http(hub.port(), "OPTIONS", "/v1/refresh", {},
                        {{"Origin", test_origin}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_NE(header(pre, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_NE(header(pre, "Access-Control-Allow-Headers").find("Content-Type"), std::string::npos);
  const header_list evil = {{"Origin", "http://evil.example"}};
  EXPECT_TRUE(
      header(http(hub.port(), "GET", "/healthz", {}, evil), "Access-Control-Allow-Origin").empty());
  const auto evil_pre = http(hub.port(), "OPTIONS", "/v1/refresh", {}, evil);
  EXPECT_EQ(evil_pre.status, 403);
  EXPECT_EQ(code_of(evil_pre), "origin_not_allowed");
}

TEST(Endpoints, BadBodiesAreAnsweredAndSurvived) {
  hub_process hub;
  const auto big = http(hub.port(), "POST", "/v1/sessions", std::string(20000, ' '), api());
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(code_of(big), "payload_too_large");
  EXPECT_EQ(code_of(http(hub.port(), "POST", "/v1/sessions", R"({"sub":"a"} trailing)", api())),
            "invalid_request");
  EXPECT_EQ(code_of(http(hub.port(), "POST", "/v1/sessions", "{\"sub\":\"\xff\"}", api())),
            "invalid_request");
  EXPECT_EQ(http(hub.port(), "GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace shub::it
