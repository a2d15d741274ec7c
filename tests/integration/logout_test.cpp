// logout_test: POST /v1/logout (PROTOCOL §2) — by bearer access token or by the shub_rt
// cookie, with scope session (the default), user (every session of the sub) or device
// (every session of the shub_did device). Each test checks both sides of the line: what the
// scope must end, and what it must leave alive.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

testing::AssertionResult revoked(int port, const token_response& t) {
  const auto v = validate(port, t.access_token);
  if (!is_token_refusal(v, "session_revoked"))
    return testing::AssertionFailure() << t.sub << "/" << t.sid << " not revoked\n" << v.describe();
  if (t.refresh_token) {
    const auto r = refresh(port, *t.refresh_token);
    if (!is_problem(r, 401, "invalid_grant"))
      return testing::AssertionFailure() << t.sid << " still refreshes\n" << r.describe();
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult alive(int port, const token_response& t) {
  const auto v = validate(port, t.access_token);
  if (v.status != 200)
    return testing::AssertionFailure() << t.sub << "/" << t.sid << " not alive\n" << v.describe();
  return testing::AssertionSuccess();
}

void expect_cookies_cleared(const http_response& r) {
  for (const char* path : {"/v1/refresh", "/v1/logout"}) {
    const auto c = find_set_cookie(r, "shub_rt", path);
    ASSERT_TRUE(c) << "shub_rt for " << path << " not cleared\n" << r.describe();
    EXPECT_EQ(c->max_age(), 0) << path;
    EXPECT_TRUE(c->has("HttpOnly")) << path;
  }
}

TEST(HttpLogout, BearerLogoutEndsTheSessionAndClearsCookies) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  const auto r = logout(hub.port(), t.access_token);
  ASSERT_EQ(r.status, 204) << r.describe();
  EXPECT_TRUE(r.body.empty());
  expect_cookies_cleared(r);
  EXPECT_TRUE(revoked(hub.port(), t));
  const auto again = logout(hub.port(), t.access_token);
  EXPECT_EQ(again.status, 401) << again.describe();
  EXPECT_TRUE(icontains(again.header("Content-Type").value_or(""), "application/problem+json"));
}

TEST(HttpLogout, CookieAloneLogsOut) {
  hub_process hub;
  const auto l = login(hub.port(), "alice", "wonderland", false);
  const auto t = parse_token_response(l);
  const auto rt = find_set_cookie(l, "shub_rt", "/v1/logout");
  ASSERT_TRUE(t && rt) << l.describe();
  const auto r =
      http_request(hub.port(), "POST", "/v1/logout", {cookie_header({{"shub_rt", rt->value}})});
  ASSERT_EQ(r.status, 204) << r.describe();
  expect_cookies_cleared(r);
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), t->access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(hub.port(), rt->value), 401, "invalid_grant"));
  // The cookie of an ended session no longer logs anything out.
  const auto again =
      http_request(hub.port(), "POST", "/v1/logout", {cookie_header({{"shub_rt", rt->value}})});
  EXPECT_EQ(again.status, 401) << again.describe();
}

TEST(HttpLogout, DefaultAndSessionScopeEndOnlyThatSession) {
  hub_process hub;
  const auto a = login_ok(hub.port());
  const auto b = login_ok(hub.port());
  const auto c = login_ok(hub.port());
  ASSERT_EQ(logout(hub.port(), a.access_token).status, 204);
  EXPECT_TRUE(revoked(hub.port(), a));
  EXPECT_TRUE(alive(hub.port(), b));
  ASSERT_EQ(logout(hub.port(), b.access_token, R"({"scope":"session"})").status, 204);
  EXPECT_TRUE(revoked(hub.port(), b));
  EXPECT_TRUE(alive(hub.port(), c));
}

TEST(HttpLogout, UserScopeEndsEverySessionOfTheUser) {
  hub_process hub;
  const auto a1 = login_ok(hub.port());
  const auto a2 = login_ok(hub.port());
  const auto a3 = create_session_ok(hub.port(), "alice");
  const auto b = login_ok(hub.port(), "bob", "builder");
  const auto r = logout(hub.port(), a1.access_token, R"({"scope":"user"})");
  ASSERT_EQ(r.status, 204) << r.describe();
  expect_cookies_cleared(r);
  EXPECT_TRUE(revoked(hub.port(), a1));
  EXPECT_TRUE(revoked(hub.port(), a2));
  EXPECT_TRUE(revoked(hub.port(), a3));
  EXPECT_TRUE(alive(hub.port(), b));
  const json list = list_sessions(hub.port(), "alice");
  ASSERT_TRUE(list.HasMember("sessions") && list["sessions"].IsArray()) << to_text(list);
  EXPECT_EQ(list["sessions"].Size(), 0u) << to_text(list);
}

TEST(HttpLogout, DeviceScopeEndsEverySessionOfTheDevice) {
  hub_process hub;
  const auto first = login(hub.port(), "alice", "wonderland", true);
  const auto did = find_set_cookie(first, "shub_did", "/");
  ASSERT_TRUE(did) << first.describe();
  const auto on_device = cookie_header({{"shub_did", did->value}});
  const auto a1 = *parse_token_response(first);
  const auto a2 = login_ok(hub.port(), "alice", "wonderland", {on_device});
  const auto b = login_ok(hub.port(), "bob", "builder", {on_device});
  const auto elsewhere = login_ok(hub.port());  // no cookie: another browser
  const auto api_made = create_session_ok(hub.port(), "alice", R"("device_id":"tablet-7")");

  const auto r =
      http_request(hub.port(), "POST", "/v1/logout",
                   {bearer(a1.access_token), on_device, json_type()}, R"({"scope":"device"})");
  ASSERT_EQ(r.status, 204) << r.describe();
  expect_cookies_cleared(r);
  EXPECT_TRUE(revoked(hub.port(), a1));
  EXPECT_TRUE(revoked(hub.port(), a2));
  EXPECT_TRUE(revoked(hub.port(), b));
  EXPECT_TRUE(alive(hub.port(), elsewhere));
  EXPECT_TRUE(alive(hub.port(), api_made));
}

TEST(HttpLogout, DeviceScopeByTheCookieAloneUsesTheSessionsDevice) {
  hub_process hub;
  const auto on_device = cookie_header({{"shub_did", "DeV1ceDeV1ceDeV1ceDeV1"}});
  const auto first = login(hub.port(), "alice", "wonderland", true, {on_device});
  const auto rt = find_set_cookie(first, "shub_rt", "/v1/logout");
  ASSERT_TRUE(rt) << first.describe();
  const auto a1 = *parse_token_response(first);
  const auto a2 = login_ok(hub.port(), "alice", "wonderland", {on_device});
  const auto elsewhere = login_ok(hub.port());  // no cookie: another browser

  // No shub_did on the request: the device is the one of the session the cookie names.
  const auto r =
      http_request(hub.port(), "POST", "/v1/logout",
                   {cookie_header({{"shub_rt", rt->value}}), json_type()}, R"({"scope":"device"})");
  ASSERT_EQ(r.status, 204) << r.describe();
  EXPECT_TRUE(revoked(hub.port(), a1));
  EXPECT_TRUE(revoked(hub.port(), a2));
  EXPECT_TRUE(alive(hub.port(), elsewhere));
}

TEST(HttpLogout, UnknownScopeIsInvalidRequestAndEndsNothing) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  EXPECT_TRUE(is_problem(logout(hub.port(), t.access_token, R"({"scope":"galaxy"})"), 400,
                         "invalid_request"));
  EXPECT_TRUE(alive(hub.port(), t));
}

TEST(HttpLogout, WithoutValidCredentialsIs401) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  const http_response refusals[] = {
      http_request(hub.port(), "POST", "/v1/logout"),
      http_request(hub.port(), "POST", "/v1/logout", {bearer("a.b.c")}),
      http_request(hub.port(), "POST", "/v1/logout",
                   {cookie_header({{"shub_rt", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})}),
  };
  for (const auto& r : refusals) {
    EXPECT_EQ(r.status, 401) << r.describe();
    EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "application/problem+json"));
  }
  EXPECT_TRUE(alive(hub.port(), t));
}

}  // namespace
}  // namespace shub::itest
