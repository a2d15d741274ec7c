// dashboard_test: GET /dashboard, /dashboard.js and /dashboard.css, the operators' page
// (hub/handlers_dashboard.cpp): served without a credential, with the right content types
// and the strict headers a page that holds an API key needs (no caching, a CSP that allows
// only the hub's own script, style and API, no framing, no referrer), and wired to the
// figures it shows: it loads its own script and stylesheet and reads /v1/stats, which still
// refuses a request without the key.
#include <algorithm>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

// The CSP's directives, "name value…" split on ';' and trimmed.
std::vector<std::string> directives(std::string_view csp) {
  std::vector<std::string> out;
  while (!csp.empty()) {
    const auto semi = csp.find(';');
    std::string_view d = csp.substr(0, semi);
    while (!d.empty() && d.front() == ' ')
      d.remove_prefix(1);
    while (!d.empty() && d.back() == ' ')
      d.remove_suffix(1);
    if (!d.empty()) out.emplace_back(d);
    if (semi == std::string_view::npos) break;
    csp.remove_prefix(semi + 1);
  }
  return out;
}

bool has_directive(const std::vector<std::string>& ds, std::string_view d) {
  return std::find(ds.begin(), ds.end(), d) != ds.end();
}

void expect_strict_headers(const http_response& r, std::string_view content_type) {
  EXPECT_EQ(r.header("Content-Type"), std::string(content_type)) << r.describe();
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  EXPECT_TRUE(iequals(r.header("X-Frame-Options").value_or(""), "DENY"));
  EXPECT_EQ(r.header("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
  const auto csp = r.header("Content-Security-Policy");
  ASSERT_TRUE(csp) << r.describe();
  const auto ds = directives(*csp);
  EXPECT_TRUE(has_directive(ds, "default-src 'none'") || has_directive(ds, "default-src 'self'"))
      << *csp;
  EXPECT_TRUE(has_directive(ds, "script-src 'self'")) << *csp;
  EXPECT_TRUE(has_directive(ds, "connect-src 'self'")) << *csp;
  EXPECT_TRUE(has_directive(ds, "frame-ancestors 'none'")) << *csp;
  // Nothing inline, nothing evaluated, nothing from elsewhere.
  for (const char* banned : {"unsafe-inline", "unsafe-eval", "http:", "https:", "*"}) {
    EXPECT_EQ(csp->find(banned), std::string::npos) << banned << " in " << *csp;
  }
}

TEST(Dashboard, PageIsServedWithoutAKeyUnderStrictHeaders) {
  hub_process hub;
  const auto r = http_request(hub.port(), "GET", "/dashboard");
  ASSERT_EQ(r.status, 200) << r.describe();
  expect_strict_headers(r, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<!doctype html>"), std::string::npos);
  EXPECT_NE(r.body.find("src=\"/dashboard.js\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("href=\"/dashboard.css\""), std::string::npos) << r.body;
  // Self-contained: no script, style or font from another origin.
  EXPECT_EQ(r.body.find("src=\"http"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("href=\"http"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("<script>"), std::string::npos) << "inline script: the CSP refuses it";
  EXPECT_EQ(r.body.find("<style"), std::string::npos) << "inline style: the CSP refuses it";
  EXPECT_EQ(r.body.find(" style=\""), std::string::npos) << "style attribute: the CSP refuses it";
}

TEST(Dashboard, ScriptAndStylesheetAreServedUnderStrictHeaders) {
  hub_process hub;
  const auto js = http_request(hub.port(), "GET", "/dashboard.js");
  ASSERT_EQ(js.status, 200) << js.describe();
  expect_strict_headers(js, "text/javascript; charset=utf-8");
  // The figures come from the stats endpoint, with the API key as a Bearer credential.
  EXPECT_NE(js.body.find("\"/v1/stats\""), std::string::npos);
  EXPECT_NE(js.body.find("Bearer "), std::string::npos);
  EXPECT_NE(js.body.find("sessionStorage"), std::string::npos);
  EXPECT_EQ(js.body.find("localStorage"), std::string::npos) << "the key must not outlive the tab";
  EXPECT_EQ(js.body.find("//cdn"), std::string::npos);

  const auto css = http_request(hub.port(), "GET", "/dashboard.css");
  ASSERT_EQ(css.status, 200) << css.describe();
  expect_strict_headers(css, "text/css; charset=utf-8");
  EXPECT_EQ(css.body.find("@import"), std::string::npos);
  EXPECT_EQ(css.body.find("url("), std::string::npos) << "nothing fetched from the stylesheet";
}

TEST(Dashboard, HeadAndWrongMethod) {
  hub_process hub;
  const auto head = http_request(hub.port(), "HEAD", "/dashboard");
  EXPECT_EQ(head.status, 200) << head.describe();
  EXPECT_TRUE(head.body.empty());
  const auto post = http_request(hub.port(), "POST", "/dashboard", {json_type()}, "{}");
  EXPECT_TRUE(is_problem(post, 405, "method_not_allowed")) << post.describe();
  EXPECT_TRUE(is_problem(http_request(hub.port(), "GET", "/dashboard/"), 404, "not_found"));
}

TEST(Dashboard, TheDataStillNeedsTheKey) {
  hub_process hub;
  const auto anonymous = http_request(hub.port(), "GET", "/v1/stats");
  EXPECT_TRUE(is_problem(anonymous, 401, "invalid_api_key")) << anonymous.describe();
  const auto wrong =
      http_request(hub.port(), "GET", "/v1/stats", {{"Authorization", "Bearer not-the-key"}});
  EXPECT_TRUE(is_problem(wrong, 401, "invalid_api_key")) << wrong.describe();
  const auto ok = http_request(hub.port(), "GET", "/v1/stats", {api_auth()});
  ASSERT_EQ(ok.status, 200) << ok.describe();
  // Every figure the page draws is in the answer.
  const json s = ok.json_body();
  ASSERT_TRUE(s.IsObject()) << ok.body;
  for (const char* member : {"replica", "uptime_s", "connections", "sessions", "events",
                             "fanout_latency_ms", "refresh", "http", "cluster", "store"}) {
    EXPECT_TRUE(s.HasMember(member)) << member << " missing from " << ok.body;
  }
  for (const char* c : {"current", "authenticated", "watching", "total", "slow_consumer_kicks",
                        "rate_limited_closes"}) {
    EXPECT_TRUE(json_int(s["connections"], c).has_value()) << c << " in " << ok.body;
  }
  for (const char* e : {"published", "delivered", "dropped"}) {
    EXPECT_TRUE(json_int(s["events"], e).has_value()) << e << " in " << ok.body;
  }
  for (const char* c : {"sent", "received", "dropped", "gaps"}) {
    EXPECT_TRUE(json_int(s["cluster"], c).has_value()) << c << " in " << ok.body;
  }
  EXPECT_TRUE(s["cluster"].HasMember("peers") && s["cluster"]["peers"].IsArray()) << ok.body;
}

}  // namespace
}  // namespace shub::itest
