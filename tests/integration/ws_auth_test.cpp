// `auth` and `resume` of a tab whose session already has tabs on this replica
// (--ws-auth-known-sessions, on by default): answered from what those tabs know, with a token
// verified before, without a store read — the same `ready` a store read gives, the session's
// later changes included, and never for a session that has ended. Real binary, real sockets.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "harness_ws.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"

namespace shub::itest {
namespace {

std::unique_ptr<ws_tab> ready_tab(int port, const std::string& frame, json& ready) {
  auto tab = std::make_unique<ws_tab>(port);
  tab->send(frame);
  auto r = tab->wait_type("ready");
  if (!r) return nullptr;
  ready = std::move(*r);
  return tab;
}

std::string auth_frame(const std::string& token) {
  return R"({"type":"auth","token":")" + token + "\"}";
}

std::string resume_frame(const std::string& token, std::uint64_t version) {
  return R"({"type":"resume","token":")" + token + R"(","version":)" + std::to_string(version) +
         "}";
}

std::int64_t without_store(int port) {
  return stat_value(port, "connections", "auth_without_store");
}

TEST(WsAuth, MoreTabsOfASessionWithTabsHereGetTheSameReadyWithoutTheStore) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  json first_ready;
  auto first = ready_tab(hub.port(), auth_frame(a.access_token), first_ready);
  ASSERT_TRUE(first);
  EXPECT_EQ(without_store(hub.port()), 0);  // the first tab of a session reads the store

  std::vector<std::unique_ptr<ws_tab>> tabs;
  for (int i = 0; i < 3; ++i) {
    json ready;
    auto tab = ready_tab(hub.port(), auth_frame(a.access_token), ready);
    ASSERT_TRUE(tab);
    // (`did` is each connection's browser: these tabs have no cookie, so each got its own.)
    for (const char* k : {"sid", "sub", "version", "expires_at", "idle_expires_at", "replica"}) {
      ASSERT_TRUE(ready.HasMember(k)) << k;
      EXPECT_TRUE(ready[k] == first_ready[k]) << k;
    }
    tabs.push_back(std::move(tab));
  }
  EXPECT_EQ(without_store(hub.port()), 3);
  EXPECT_EQ(stat_value(hub.port(), "connections", "authenticated"), 4);
  tabs.push_back(std::move(first));

  // The session moves on: a tab resuming from the version it had hears the new state.
  ASSERT_EQ(extend(hub.port(), a.access_token).status, 200);
  for (auto& tab : tabs)
    ASSERT_TRUE(tab->wait_event("session.extended"));
  json ready;
  auto late = ready_tab(hub.port(),
                        resume_frame(a.access_token, first_ready["version"].GetUint64()), ready);
  ASSERT_TRUE(late);
  EXPECT_EQ(ready["version"].GetUint64(), first_ready["version"].GetUint64() + 1);
  EXPECT_GT(ready["idle_expires_at"].GetInt64(), first_ready["idle_expires_at"].GetInt64());
  const auto state = late->wait_event("session.extended");
  ASSERT_TRUE(state);
  EXPECT_EQ((*state)["data"]["idle_expires_at"].GetInt64(), ready["idle_expires_at"].GetInt64());
  EXPECT_EQ(without_store(hub.port()), 4);
  tabs.push_back(std::move(late));

  // Tabs that joined without the store hear the session's events like the first one.
  ASSERT_EQ(delete_session(hub.port(), a.sid).status, 204);
  for (auto& tab : tabs) {
    ASSERT_TRUE(tab->wait_event("logout"));
    EXPECT_EQ(tab->close_code(2s), 4010);
  }
}

TEST(WsAuth, ATokenOfAnEndedSessionIsRefusedThoughItsTabsWereHere) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  json ready;
  auto first = ready_tab(hub.port(), auth_frame(a.access_token), ready);
  auto second = ready_tab(hub.port(), auth_frame(a.access_token), ready);
  ASSERT_TRUE(first && second);
  ASSERT_EQ(http_request(hub.port(), "POST", "/v1/users/alice/logout", {api_auth()}).status, 200);
  EXPECT_EQ(first->close_code(2s), 4010);
  EXPECT_EQ(second->close_code(2s), 4010);

  ws_tab again(hub.port());
  again.auth(a.access_token);
  const auto err = again.wait_type("error");
  ASSERT_TRUE(err);
  EXPECT_EQ(json_string(*err, "code").value_or(""), "session_revoked");
  EXPECT_EQ(again.close_code(2s), 4001);
  EXPECT_EQ(without_store(hub.port()), 1);  // the second tab only
}

// A session of alice with one tab open on `port`, then refreshed through `refresh_port`:
// the new pair (its session's version moved on).
std::optional<token_response> refreshed_with_a_tab(int port, int refresh_port,
                                                   std::unique_ptr<ws_tab>& tab) {
  const auto a = create_session_ok(port, "alice");
  json ready;
  tab = ready_tab(port, auth_frame(a.access_token), ready);
  if (!tab || !a.refresh_token) return std::nullopt;
  auto r = parse_token_response(refresh(refresh_port, *a.refresh_token));
  if (!r || r->version <= a.version) return std::nullopt;
  return r;
}

// A token this hub minted (a refresh here) is known from the start: the next tab with it
// joins its sibling tabs' view, which the refresh's own event moved to the new version.
TEST(WsAuth, ATokenRefreshedHereJoinsItsSiblingTabsAtTheNewVersion) {
  hub_process hub;
  std::unique_ptr<ws_tab> first;
  const auto r = refreshed_with_a_tab(hub.port(), hub.port(), first);
  ASSERT_TRUE(r);
  json ready;
  auto second = ready_tab(hub.port(), auth_frame(r->access_token), ready);
  ASSERT_TRUE(second);
  EXPECT_EQ(without_store(hub.port()), 1);
  EXPECT_EQ(ready["version"].GetInt64(), r->version);
  EXPECT_EQ(ready["idle_expires_at"].GetInt64(), r->idle_expires_at);
}

// A token minted by another hub on the same store and key (another replica, with no cluster
// link here): its first use is verified and its session read, so this hub's tabs, which never
// heard of that refresh, do not answer for it.
TEST(WsAuth, ATokenMintedElsewhereIsVerifiedAndItsSessionRead) {
  hub_process hub;
  hub_process other({"--store", "sqlite:" + hub.dir() + "/hub.db"});  // its key beside it
  std::unique_ptr<ws_tab> first;
  const auto r = refreshed_with_a_tab(hub.port(), other.port(), first);
  ASSERT_TRUE(r) << other.output();
  json ready;
  auto second = ready_tab(hub.port(), auth_frame(r->access_token), ready);
  ASSERT_TRUE(second) << hub.output();
  EXPECT_EQ(without_store(hub.port()), 0);
  EXPECT_EQ(ready["version"].GetInt64(), r->version);  // the store's, not the tabs' view
  auto third = ready_tab(hub.port(), auth_frame(r->access_token), ready);
  ASSERT_TRUE(third);
  EXPECT_EQ(without_store(hub.port()), 1);  // verified now, and the tabs' view caught up
  EXPECT_EQ(ready["version"].GetInt64(), r->version);
}

TEST(WsAuth, WithTheOptionOffEveryAuthReadsTheStore) {
  hub_process hub({"--ws-auth-known-sessions", "false"});
  const auto a = create_session_ok(hub.port(), "alice");
  std::vector<std::unique_ptr<ws_tab>> tabs;
  for (int i = 0; i < 3; ++i) {
    json ready;
    tabs.push_back(ready_tab(hub.port(), auth_frame(a.access_token), ready));
    ASSERT_TRUE(tabs.back());
  }
  EXPECT_EQ(without_store(hub.port()), 0);
  EXPECT_EQ(stat_value(hub.port(), "connections", "authenticated"), 3);
}

// The `auth` frame's token offered with the upgrade instead, as a subprotocol entry next to
// sessionhub.v1 (a browser can offer subprotocols, not set headers): `ready` follows the 101
// with no round trip in between; only sessionhub.v1 is echoed.
raw_ws upgrade_with_token(int port, const std::string& token,
                          const std::string& offer = "sessionhub.v1, sessionhub.auth.") {
  return raw_ws(port, raw_ws::request("Sec-WebSocket-Protocol: " + offer + token + "\r\n",
                                      {"sec-websocket-protocol"}));
}

std::optional<json> next_json(raw_ws& ws) {
  const auto f = ws.next();
  if (!f || f->opcode != 0x1) return std::nullopt;
  return parse_json(f->payload);
}

TEST(WsAuth, ATokenOfferedWithTheUpgradeIsAnsweredWithReadyAfterThe101) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  raw_ws first = upgrade_with_token(hub.port(), a.access_token);
  ASSERT_EQ(first.status(), 101) << first.head();
  EXPECT_TRUE(icontains(first.head(), "\r\nSec-WebSocket-Protocol: sessionhub.v1\r\n"))
      << first.head();
  EXPECT_FALSE(icontains(first.head(), a.access_token)) << "the token was echoed";
  auto ready = next_json(first);
  ASSERT_TRUE(ready);
  EXPECT_STREQ((*ready)["type"].GetString(), "ready");
  EXPECT_EQ(std::string((*ready)["sid"].GetString()), a.sid);
  EXPECT_EQ((*ready)["version"].GetInt64(), a.version);

  raw_ws second = upgrade_with_token(hub.port(), a.access_token);  // a sibling tab
  auto again = next_json(second);
  ASSERT_TRUE(again);
  EXPECT_STREQ((*again)["type"].GetString(), "ready");
  EXPECT_EQ(stat_value(hub.port(), "connections", "auth_in_upgrade"), 2);
  EXPECT_EQ(without_store(hub.port()), 1);
  EXPECT_EQ(stat_value(hub.port(), "connections", "authenticated"), 2);

  second.send_text(auth_frame(a.access_token));  // it is authenticated already
  auto error = next_json(second);
  ASSERT_TRUE(error);
  EXPECT_STREQ((*error)["type"].GetString(), "error");
}

TEST(WsAuth, ABadTokenOfferedWithTheUpgradeCloses4001) {
  hub_process hub;
  raw_ws ws = upgrade_with_token(hub.port(), "not.a.token");
  ASSERT_EQ(ws.status(), 101) << ws.head();
  EXPECT_EQ(ws.close_code(), 4001);
  const auto a = create_session_ok(hub.port(), "alice");
  ASSERT_EQ(logout(hub.port(), a.access_token).status, 204);
  raw_ws ended = upgrade_with_token(hub.port(), a.access_token);
  EXPECT_EQ(ended.close_code(), 4001);
}

// Without sessionhub.v1 beside it the entry is not this protocol's: nothing is echoed and
// the connection waits for its auth frame as usual.
TEST(WsAuth, AnAuthEntryWithoutSessionhubV1IsNotAnAuth) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  raw_ws ws = upgrade_with_token(hub.port(), a.access_token, "sessionhub.auth.");
  ASSERT_EQ(ws.status(), 101) << ws.head();
  EXPECT_FALSE(icontains(ws.head(), "Sec-WebSocket-Protocol")) << ws.head();
  EXPECT_FALSE(ws.next(300ms));
  ws.send_text(auth_frame(a.access_token));
  auto ready = next_json(ws);
  ASSERT_TRUE(ready);
  EXPECT_STREQ((*ready)["type"].GetString(), "ready");
  EXPECT_EQ(stat_value(hub.port(), "connections", "auth_in_upgrade"), 0);
}

}  // namespace
}  // namespace shub::itest
