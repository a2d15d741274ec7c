// WebSocket events over real sockets against the real binary (PROTOCOL §3): fan-out to
// exactly the right tabs, login/logout/extended/expiring, publish, resume, watch.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "harness_ws.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

// The issue's acceptance scenario: 16 tabs over 3 sessions of 2 users; a logout reaches
// exactly that session's tabs well under 100 ms, the others see nothing, stats add up.
TEST(WsEvents, LogoutReachesExactlyTheSessionsTabsQuickly) {
  hub_process hub;
  const auto a1 = create_session_ok(hub.port(), "alice");
  const auto a2 = create_session_ok(hub.port(), "alice");
  const auto b1 = create_session_ok(hub.port(), "bob");
  std::vector<std::unique_ptr<ws_tab>> s1, others;
  for (int i = 0; i < 6; ++i)
    s1.push_back(authed_tab(hub.port(), a1.access_token));
  for (int i = 0; i < 5; ++i)
    others.push_back(authed_tab(hub.port(), a2.access_token));
  for (int i = 0; i < 5; ++i)
    others.push_back(authed_tab(hub.port(), b1.access_token));
  const auto delivered_before = stat_value(hub.port(), "events", "delivered");

  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(delete_session(hub.port(), a1.sid).status, 204);
  std::chrono::steady_clock::duration slowest{};
  for (auto& tab : s1) {
    const auto ev = tab->wait_event("logout", 2s);
    ASSERT_TRUE(ev);
    slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
    EXPECT_STREQ((*ev)["data"]["sid"].GetString(), a1.sid.c_str());
    EXPECT_STREQ((*ev)["data"]["reason"].GetString(), "admin");
    EXPECT_STREQ((*ev)["data"]["scope"].GetString(), "session");
    EXPECT_EQ(tab->close_code(2s), 4010);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count();
  std::printf("logout reached all 6 tabs in %lld ms\n", static_cast<long long>(ms));
  EXPECT_LT(ms, 100);
  for (auto& tab : others) {
    EXPECT_FALSE(tab->next(300ms)) << "a tab of another session got a frame";
    EXPECT_EQ(tab->close_code(0ms), 0);
  }
  EXPECT_EQ(stat_value(hub.port(), "events", "delivered") - delivered_before, 6);
  EXPECT_EQ(stat_value(hub.port(), "events", "dropped"), 0);
  EXPECT_EQ(stat_value(hub.port(), "connections", "authenticated"), 10);
}

TEST(WsEvents, LoginReachesTheUsersTabsOnly) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  const auto b = create_session_ok(hub.port(), "bob");
  auto alice = authed_tab(hub.port(), a.access_token);
  auto bob = authed_tab(hub.port(), b.access_token);
  const auto again = create_session_ok(hub.port(), "alice");
  const auto ev = alice->wait_event("login");
  ASSERT_TRUE(ev);
  EXPECT_STREQ((*ev)["data"]["sid"].GetString(), again.sid.c_str());
  EXPECT_STREQ((*ev)["data"]["sub"].GetString(), "alice");
  EXPECT_FALSE(bob->next(300ms));
}

TEST(WsEvents, ExtendFromOneTabMovesEveryTabOfTheSession) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  const auto other = create_session_ok(hub.port(), "alice");
  auto t1 = authed_tab(hub.port(), a.access_token);
  auto t2 = authed_tab(hub.port(), a.access_token);
  auto t3 = authed_tab(hub.port(), other.access_token);
  t1->send(R"({"type":"extend"})");
  const auto e1 = t1->wait_event("session.extended");
  const auto e2 = t2->wait_event("session.extended");
  ASSERT_TRUE(e1 && e2);
  EXPECT_EQ((*e1)["data"]["idle_expires_at"].GetInt64(),
            (*e2)["data"]["idle_expires_at"].GetInt64());
  EXPECT_EQ((*e1)["version"].GetUint64(), 2u);
  EXPECT_FALSE(t3->next(300ms));
}

TEST(WsEvents, HttpExtendAndRefreshAreAnnounced) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  auto tab = authed_tab(hub.port(), a.access_token);
  ASSERT_EQ(extend(hub.port(), a.access_token).status, 200);
  ASSERT_TRUE(tab->wait_event("session.extended"));
  ASSERT_EQ(refresh(hub.port(), *a.refresh_token).status, 200);
  const auto refreshed = tab->wait_event("token.refreshed");
  ASSERT_TRUE(refreshed);
  EXPECT_EQ((*refreshed)["data"]["expires_in"].GetInt64(), 900);
  EXPECT_FALSE((*refreshed)["data"].HasMember("access_token"));  // no token is ever pushed
  EXPECT_TRUE(tab->wait_event("session.extended"));
}

TEST(WsEvents, ActivityIsCoalescedAndAnnounced) {
  hub_process hub({"--activity-coalesce-ms", "60000"});
  const auto a = create_session_ok(hub.port(), "alice");
  auto t1 = authed_tab(hub.port(), a.access_token);
  auto t2 = authed_tab(hub.port(), a.access_token);
  for (int i = 0; i < 5; ++i)
    t1->send(R"({"type":"activity"})");
  t2->send(R"({"type":"activity"})");
  ASSERT_TRUE(t2->wait_event("session.extended"));
  EXPECT_FALSE(t2->wait_event("session.extended", 500ms)) << "activity was not coalesced";
}

TEST(WsEvents, IdleWarningThenExactlyOneIdleLogout) {
  hub_process hub({"--idle-timeout-s", "3", "--warn-before-s", "2"});
  const auto a = create_session_ok(hub.port(), "alice");
  auto t1 = authed_tab(hub.port(), a.access_token);
  auto t2 = authed_tab(hub.port(), a.access_token);
  const auto warn = t1->wait_event("session.expiring", 3s);
  ASSERT_TRUE(warn);
  EXPECT_EQ((*warn)["data"]["warn_before_s"].GetInt64(), 2);
  ASSERT_TRUE(t2->wait_event("session.expiring", 1s));
  const auto bye = t1->wait_event("logout", 4s);
  ASSERT_TRUE(bye);
  EXPECT_STREQ((*bye)["data"]["reason"].GetString(), "idle_timeout");
  EXPECT_EQ(t1->close_code(2s), 4010);
  EXPECT_TRUE(t2->wait_event("logout", 1s));
  EXPECT_EQ(t2->close_code(2s), 4010);
  // The store agrees: the access token's session is revoked.
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), a.access_token), "session_revoked"));
}

TEST(WsEvents, ExtendDismissesTheWarningAndDefersTheLogout) {
  hub_process hub({"--idle-timeout-s", "3", "--warn-before-s", "2"});
  const auto a = create_session_ok(hub.port(), "alice");
  auto tab = authed_tab(hub.port(), a.access_token);
  ASSERT_TRUE(tab->wait_event("session.expiring", 3s));
  tab->send(R"({"type":"extend"})");
  ASSERT_TRUE(tab->wait_event("session.extended"));
  EXPECT_TRUE(tab->wait_event("session.expiring", 3s));  // warned again for the new deadline
}

TEST(WsEvents, PublishReachesTheChannelAndRefusesReservedNames) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  const auto b = create_session_ok(hub.port(), "bob");
  auto alice = authed_tab(hub.port(), a.access_token);
  auto bob = authed_tab(hub.port(), b.access_token);
  const auto r = publish(hub.port(), "user:alice", "cart.updated", R"({"items":3})");
  ASSERT_EQ(r.status, 202);
  const auto ev = alice->wait_event("cart.updated");
  ASSERT_TRUE(ev);
  EXPECT_EQ((*ev)["data"]["items"].GetInt(), 3);
  EXPECT_STREQ((*ev)["id"].GetString(), r.json_body()["id"].GetString());
  EXPECT_FALSE(bob->next(300ms));
  for (const char* name : {"logout", "login", "session.extended", "session.x"}) {
    EXPECT_EQ(publish(hub.port(), "user:alice", name).status, 400) << name;
  }
  EXPECT_EQ(http_request(hub.port(), "POST", "/v1/publish", {json_type()},
                         R"({"channel":"user:alice","event":"x"})")
                .status,
            401);
}

TEST(WsEvents, ResumeAfterAMissedLogoutLearnsIt) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  std::uint64_t version = 0;
  {
    auto tab = std::make_unique<ws_tab>(hub.port());
    tab->auth(a.access_token);
    const auto ready = tab->wait_type("ready");
    ASSERT_TRUE(ready);
    version = (*ready)["version"].GetUint64();
  }  // the tab goes away (laptop lid closed)
  ASSERT_EQ(http_request(hub.port(), "POST", "/v1/users/alice/logout", {api_auth()}).status, 200);
  ws_tab back(hub.port());
  back.send(R"({"type":"resume","token":")" + a.access_token + R"(","version":)" +
            std::to_string(version) + "}");
  const auto ready = back.wait_type("ready");
  ASSERT_TRUE(ready);
  EXPECT_STREQ((*ready)["state"].GetString(), "revoked");
  const auto bye = back.wait_event("logout");
  ASSERT_TRUE(bye);
  EXPECT_STREQ((*bye)["data"]["reason"].GetString(), "admin");
  EXPECT_EQ(back.close_code(2s), 4010);
}

TEST(WsEvents, ResumeOfAChangedSessionSendsTheLatestState) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  ASSERT_EQ(extend(hub.port(), a.access_token).status, 200);
  ws_tab tab(hub.port());
  tab.send(R"({"type":"resume","token":")" + a.access_token + R"(","version":1})");
  const auto ready = tab.wait_type("ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ((*ready)["version"].GetUint64(), 2u);
  const auto state = tab.wait_event("session.extended");
  ASSERT_TRUE(state);
  EXPECT_EQ((*state)["data"]["idle_expires_at"].GetInt64(), (*ready)["idle_expires_at"].GetInt64());
}

TEST(WsEvents, WatchingTabLearnsOfALoginOnItsDevice) {
  hub_process hub;
  const std::string did = "Wd3vIc3Id0fTh1sBr0wsr0";  // 22 base64url characters
  ws_tab watcher(hub.port(), test_origin, "shub_did=" + did);
  watcher.send(R"({"type":"watch"})");
  const auto ready = watcher.wait_type("ready");
  ASSERT_TRUE(ready);
  EXPECT_TRUE((*ready)["sid"].IsNull());
  EXPECT_STREQ((*ready)["did"].GetString(), did.c_str());
  ws_tab elsewhere(hub.port(), test_origin, "shub_did=AAAAAAAAAAAAAAAAAAAAAA");
  elsewhere.send(R"({"type":"watch"})");
  ASSERT_TRUE(elsewhere.wait_type("ready"));
  const auto signed_in =
      login(hub.port(), "alice", "wonderland", false, {cookie_header({{"shub_did", did}})});
  ASSERT_EQ(signed_in.status, 200);
  const auto ev = watcher.wait_event("login");
  ASSERT_TRUE(ev);
  EXPECT_STREQ((*ev)["data"]["sub"].GetString(), "alice");
  EXPECT_FALSE(elsewhere.next(300ms));
  // The watcher authenticates on the same socket, as the snippet does.
  watcher.auth(signed_in.json_body()["access_token"].GetString());
  const auto authed = watcher.wait_type("ready");
  ASSERT_TRUE(authed);
  EXPECT_STREQ((*authed)["sub"].GetString(), "alice");
}

TEST(WsEvents, LogoutOverTheSocketWithUserScope) {
  hub_process hub;
  const auto a1 = create_session_ok(hub.port(), "alice");
  const auto a2 = create_session_ok(hub.port(), "alice");
  const auto b = create_session_ok(hub.port(), "bob");
  auto t1 = authed_tab(hub.port(), a1.access_token);
  auto t2 = authed_tab(hub.port(), a2.access_token);
  auto tb = authed_tab(hub.port(), b.access_token);
  t1->send(R"({"type":"logout","scope":"user"})");
  for (auto* t : {t1.get(), t2.get()}) {
    const auto ev = t->wait_event("logout");
    ASSERT_TRUE(ev);
    EXPECT_STREQ((*ev)["data"]["reason"].GetString(), "user_logout");
    EXPECT_STREQ((*ev)["data"]["scope"].GetString(), "user");
    EXPECT_EQ(t->close_code(2s), 4010);
  }
  EXPECT_FALSE(tb->next(300ms));
}

TEST(WsEvents, RefreshTokenReuseLogsEveryTabOut) {
  hub_process hub({"--reuse-interval-s", "0"});
  const auto a = create_session_ok(hub.port(), "alice");
  auto tab = authed_tab(hub.port(), a.access_token);
  ASSERT_EQ(refresh(hub.port(), *a.refresh_token).status, 200);
  std::this_thread::sleep_for(1100ms);
  ASSERT_EQ(refresh(hub.port(), *a.refresh_token).status, 401);
  const auto ev = tab->wait_event("logout");
  ASSERT_TRUE(ev);
  EXPECT_STREQ((*ev)["data"]["reason"].GetString(), "refresh_token_reuse");
  EXPECT_EQ(tab->close_code(2s), 4010);
}

}  // namespace
}  // namespace shub::itest
