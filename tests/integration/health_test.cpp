// health_test: the operational surface of PROTOCOL §2 that needs no credentials —
// /healthz, /readyz, the JWKS (and that it really verifies the hub's access tokens), the
// browser snippet — and the shape of the two routing errors every endpoint shares:
// 404 not_found for an unknown path, 405 method_not_allowed with Allow for a known one.
#include <gtest/gtest.h>

#include "auth/jwt.hpp"
#include "auth/keys.hpp"
#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

TEST(HttpHealth, HealthzAnswersOk) {
  hub_process hub;
  const auto r = http_request(hub.port(), "GET", "/healthz");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "application/json"));
  EXPECT_EQ(r.body, R"({"status":"ok"})");  // PROTOCOL §2: exactly this body
}

TEST(HttpHealth, ReadyzAnswersReadyWhenTheStoreAnswers) {
  hub_process hub;
  const auto r = http_request(hub.port(), "GET", "/readyz");
  ASSERT_EQ(r.status, 200) << r.describe();
  const json body = r.json_body();
  ASSERT_TRUE(body.IsObject()) << r.body;
  EXPECT_EQ(json_string(body, "status"), "ready") << r.body;
}

TEST(HttpHealth, ReadyzWithAnInMemoryStore) {
  hub_process hub({"--store", "sqlite::memory:"});
  const auto r = http_request(hub.port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 200) << r.describe();
}

TEST(HttpHealth, JwksPublishesThePublicSigningKeyOnly) {
  hub_process hub;
  const auto r = http_request(hub.port(), "GET", "/.well-known/jwks.json");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "json"));
  const json jwks = r.json_body();
  ASSERT_TRUE(jwks.IsObject() && jwks.HasMember("keys") && jwks["keys"].IsArray()) << r.body;
  ASSERT_GE(jwks["keys"].Size(), 1u) << r.body;
  for (const auto& k : jwks["keys"].GetArray()) {
    EXPECT_TRUE(json_string(k, "kid").has_value()) << to_text(k);
    EXPECT_EQ(json_string(k, "kty"), "EC") << to_text(k);  // ES256 is the default
    EXPECT_EQ(json_string(k, "crv"), "P-256") << to_text(k);
    EXPECT_TRUE(json_string(k, "x") && json_string(k, "y")) << to_text(k);
    EXPECT_FALSE(k.HasMember("d")) << "private key material published: " << to_text(k);
  }
}

TEST(HttpHealth, AccessTokensVerifyAgainstTheJwks) {
  hub_process hub;
  const auto tokens = login_ok(hub.port());
  const auto parts = decode_jwt(tokens.access_token);
  ASSERT_TRUE(parts) << tokens.access_token;
  EXPECT_EQ(json_string(parts->header, "alg"), "ES256");
  EXPECT_EQ(json_string(parts->header, "typ"), "at+jwt");
  const auto kid = json_string(parts->header, "kid");
  ASSERT_TRUE(kid);

  const auto r = http_request(hub.port(), "GET", "/.well-known/jwks.json");
  const json jwks = r.json_body();
  ASSERT_TRUE(jwks.IsObject() && jwks.HasMember("keys") && jwks["keys"].IsArray()) << r.body;
  const rapidjson::Value* match = nullptr;
  for (const auto& k : jwks["keys"].GetArray())
    if (json_string(k, "kid") == kid) match = &k;
  ASSERT_NE(match, nullptr) << "kid " << *kid << " not in " << r.body;

  std::string error;
  const auto key = auth::key::from_public_jwk(to_text(*match), error);
  ASSERT_TRUE(key) << error;
  EXPECT_TRUE(key->verify(parts->signing_input, parts->signature));
  auth::jwt_expectations expect;
  expect.typ = "at+jwt";
  expect.issuer = "sessionhub";
  expect.audience = "sessionhub";
  expect.now_s = now_ms() / 1000;
  const auto verified = auth::jwt_verify(tokens.access_token, auth::key_set({key}), expect);
  EXPECT_TRUE(verified.ok()) << auth::to_string(verified.error);

  // A token whose signature was altered must not verify with the same key.
  std::string forged = parts->signature;
  forged[0] = static_cast<char>(forged[0] ^ 0x01);
  EXPECT_FALSE(key->verify(parts->signing_input, forged));
}

TEST(HttpHealth, HeadAnswersLikeGetWithoutABody) {
  hub_process hub;
  const auto r = http_request(hub.port(), "HEAD", "/healthz");
  EXPECT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(r.body.empty()) << r.describe();
  // The harness read the answer without waiting for body bytes that never come.
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
}

TEST(HttpHealth, BrowserSnippetIsServed) {
  hub_process hub;
  const auto r = http_request(hub.port(), "GET", "/sessionhub.js");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "javascript")) << r.describe();
  EXPECT_NE(r.body.find("SessionHub"), std::string::npos);
}

TEST(HttpHealth, UnknownPathIsNotFound) {
  hub_process hub;
  for (const char* target : {"/nope", "/v1", "/v1/loginx", "/v2/login", "/.well-known/other"}) {
    EXPECT_TRUE(is_problem(http_request(hub.port(), "GET", target), 404, "not_found")) << target;
    EXPECT_TRUE(
        is_problem(http_request(hub.port(), "POST", target, {json_type()}, "{}"), 404, "not_found"))
        << target;
  }
}

TEST(HttpHealth, WrongMethodIsMethodNotAllowedWithAllow) {
  hub_process hub;
  struct probe {
    const char* method;
    const char* target;
    const char* allowed;
  };
  const probe probes[] = {
      {"POST", "/healthz", "GET"},
      {"DELETE", "/readyz", "GET"},
      {"PUT", "/.well-known/jwks.json", "GET"},
      {"GET", "/v1/login", "POST"},
      {"GET", "/v1/refresh", "POST"},
      {"POST", "/v1/validate", "GET"},
      {"GET", "/v1/extend", "POST"},
      {"GET", "/v1/logout", "POST"},
      {"PUT", "/v1/sessions", "POST"},
      {"POST", "/v1/stats", "GET"},
      {"POST", "/metrics", "GET"},
  };
  for (const auto& p : probes) {
    const auto r = http_request(hub.port(), p.method, p.target, {api_auth(), json_type()}, "{}");
    EXPECT_TRUE(is_problem(r, 405, "method_not_allowed")) << p.method << " " << p.target;
    const auto allow = r.header("Allow");
    ASSERT_TRUE(allow) << p.method << " " << p.target << "\n" << r.describe();
    EXPECT_TRUE(icontains(*allow, p.allowed)) << p.target << " Allow: " << *allow;
  }
}

}  // namespace
}  // namespace shub::itest
