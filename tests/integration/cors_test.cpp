// cors_test: "CORS: only configured origins, with credentials" (PROTOCOL §2). A listed
// origin is echoed exactly (never `*`, which browsers refuse with credentials) on every
// response, errors included, with Vary: Origin so caches keep origins apart; its preflight
// names the methods and the Authorization and Content-Type headers. Anything else — other
// hosts, ports, schemes, suffixes — gets no grant, and its preflight is a 403.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

testing::AssertionResult grants(const http_response& r, std::string_view origin) {
  const auto acao = r.header("Access-Control-Allow-Origin");
  if (acao != origin)
    return testing::AssertionFailure() << "ACAO is not " << origin << "\n" << r.describe();
  if (r.header("Access-Control-Allow-Credentials") != "true")
    return testing::AssertionFailure() << "no ACAC: true\n" << r.describe();
  bool vary = false;
  for (const auto& v : r.headers_named("Vary"))
    vary |= icontains(v, "Origin");
  if (!vary) return testing::AssertionFailure() << "no Vary: Origin\n" << r.describe();
  return testing::AssertionSuccess();
}

header_list from(std::string_view origin) {
  return {{"Origin", std::string(origin)}};
}

TEST(HttpCors, ListedOriginIsGrantedOnEveryKindOfResponse) {
  hub_process hub;
  EXPECT_TRUE(grants(http_request(hub.port(), "GET", "/healthz", from(test_origin)), test_origin));

  auto headers = from(test_origin);
  headers.push_back(json_type());
  const auto ok = http_request(hub.port(), "POST", "/v1/login", headers,
                               R"({"username":"alice","password":"wonderland"})");
  ASSERT_EQ(ok.status, 200) << ok.describe();
  EXPECT_TRUE(grants(ok, test_origin));

  const auto refused = http_request(hub.port(), "POST", "/v1/login", headers,
                                    R"({"username":"alice","password":"nope"})");
  EXPECT_EQ(refused.status, 401);
  EXPECT_TRUE(grants(refused, test_origin)) << "a page must be able to read its errors";

  EXPECT_TRUE(
      grants(http_request(hub.port(), "GET", "/v1/validate", from(test_origin)), test_origin));
}

TEST(HttpCors, PreflightFromAListedOriginNamesMethodsAndHeaders) {
  hub_process hub;
  for (const char* target : {"/v1/refresh", "/v1/login", "/v1/validate", "/v1/logout"}) {
    auto headers = from(test_origin);
    headers.emplace_back("Access-Control-Request-Method", "POST");
    headers.emplace_back("Access-Control-Request-Headers", "authorization, content-type");
    const auto r = http_request(hub.port(), "OPTIONS", target, headers);
    EXPECT_EQ(r.status, 204) << target << "\n" << r.describe();
    EXPECT_TRUE(grants(r, test_origin)) << target;
    const auto methods = r.header("Access-Control-Allow-Methods").value_or("");
    EXPECT_TRUE(icontains(methods, "POST")) << target << ": " << methods;
    const auto allowed = r.header("Access-Control-Allow-Headers").value_or("");
    EXPECT_TRUE(icontains(allowed, "Authorization")) << target << ": " << allowed;
    EXPECT_TRUE(icontains(allowed, "Content-Type")) << target << ": " << allowed;
  }
}

TEST(HttpCors, UnlistedOriginsAreNotGranted) {
  hub_process hub;
  for (const char* origin :
       {"http://evil.example.test", "https://app.example.test", "http://app.example.test:8080",
        "http://app.example.test.evil.test", "http://sub.app.example.test", "null"}) {
    const auto r = http_request(hub.port(), "GET", "/healthz", from(origin));
    EXPECT_EQ(r.status, 200) << origin;
    EXPECT_FALSE(r.header("Access-Control-Allow-Origin")) << origin << "\n" << r.describe();
    EXPECT_FALSE(r.header("Access-Control-Allow-Credentials")) << origin;

    auto headers = from(origin);
    headers.emplace_back("Access-Control-Request-Method", "POST");
    headers.emplace_back("Access-Control-Request-Headers", "content-type");
    const auto pre = http_request(hub.port(), "OPTIONS", "/v1/refresh", headers);
    EXPECT_TRUE(is_problem(pre, 403, "origin_not_allowed")) << origin;
    EXPECT_FALSE(pre.header("Access-Control-Allow-Origin")) << origin;
  }
}

TEST(HttpCors, EachListedOriginIsEchoedAsItself) {
  hub_process hub({"--allowed-origin", "http://one.example.test", "--allowed-origin",
                   "http://two.example.test:8443"});
  for (const char* origin : {"http://one.example.test", "http://two.example.test:8443"})
    EXPECT_TRUE(grants(http_request(hub.port(), "GET", "/healthz", from(origin)), origin));
  // The defaults were replaced, so the usual test origin is not listed here.
  EXPECT_FALSE(http_request(hub.port(), "GET", "/healthz", from(test_origin))
                   .header("Access-Control-Allow-Origin"));
}

TEST(HttpCors, NoOriginNoCorsHeaders) {
  hub_process hub;
  const auto r = http_request(hub.port(), "GET", "/healthz");
  EXPECT_FALSE(r.header("Access-Control-Allow-Origin")) << r.describe();
}

}  // namespace
}  // namespace shub::itest
