// WebSocket limits and hostile clients against the real binary (PROTOCOL §3): origin,
// auth timeout, bad tokens, oversize/binary/malformed frames, rate limit, slow consumers,
// per-session limits, token replacement and the drain on SIGTERM.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "harness_ws.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"

namespace shub::itest {
namespace {

// A new tab that authenticates with `token` gets an error frame with `code`, then the hub
// closes it with 4001.
testing::AssertionResult auth_refused(int port, const std::string& token, const char* code) {
  ws_tab tab(port);
  tab.auth(token);
  const auto err = tab.wait_type("error");
  if (!err) return testing::AssertionFailure() << "no error frame";
  const auto got = json_string(*err, "code");
  const int close = tab.close_code();
  if (got != code || close != 4001)
    return testing::AssertionFailure() << "error code " << got.value_or("(none)") << " (want "
                                       << code << "), close " << close << " (want 4001)";
  return testing::AssertionSuccess();
}

TEST(WsLimits, UnlistedOrMissingOriginIsRefused) {
  hub_process hub;
  try {
    ws_tab tab(hub.port(), "http://evil.example");
    FAIL() << "the upgrade should be refused";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("403"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ws_tab(hub.port(), ""), std::runtime_error);
  EXPECT_TRUE(hub.wait_for_log_msg("ws_origin_refused", 2s));
  ws_tab ok(hub.port());  // the listed origin passes
}

TEST(WsLimits, PlainGetOfTheEndpointIs426) {
  hub_process hub;
  const auto r = http_request(hub.port(), "GET", "/v1/ws", {});
  EXPECT_EQ(r.status, 426);
  EXPECT_NE(r.body.find("upgrade_required"), std::string::npos);
}

TEST(WsLimits, SilentConnectionClosedWith4008) {
  hub_process hub({"--auth-timeout-s", "1"});
  ws_tab tab(hub.port());
  const auto err = tab.wait_type("error", 3s);
  ASSERT_TRUE(err);
  EXPECT_STREQ((*err)["code"].GetString(), "auth_timeout");
  EXPECT_EQ(tab.close_code(3s), 4008);
}

TEST(WsLimits, BadTokensClose4001WithAReason) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  std::string tampered = a.access_token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  for (const std::string& token : {std::string("garbage"), tampered, std::string("a.b.c")})
    EXPECT_TRUE(auth_refused(hub.port(), token, "token_invalid")) << token;
  ASSERT_EQ(delete_session(hub.port(), a.sid).status, 204);
  EXPECT_TRUE(auth_refused(hub.port(), a.access_token, "session_revoked"));
}

TEST(WsLimits, ExpiredAccessTokenCloses4001) {
  hub_process hub({"--access-ttl-s", "1", "--clock-leeway-s", "0"});
  const auto a = create_session_ok(hub.port(), "alice");
  std::this_thread::sleep_for(2100ms);
  EXPECT_TRUE(auth_refused(hub.port(), a.access_token, "token_expired"));
}

TEST(WsLimits, OversizeFrameCloses1009) {
  hub_process hub;
  ws_tab tab(hub.port());
  tab.send(std::string(R"({"type":"watch","pad":")") + std::string(5000, 'x') + "\"}");
  EXPECT_EQ(tab.close_code(3s), 1009);
  ws_tab fits(hub.port());  // 4 KiB exactly is allowed
  fits.send(std::string(R"({"type":"watch","pad":")") + std::string(4096 - 29, 'x') + "\"}");
  EXPECT_TRUE(fits.wait_type("ready"));
}

TEST(WsLimits, BinaryFrameCloses1003) {
  hub_process hub;
  ws_tab tab(hub.port());
  tab.send_binary("\x01\x02\x03");
  ASSERT_TRUE(tab.wait_type("error"));
  EXPECT_EQ(tab.close_code(), 1003);
}

TEST(WsLimits, MalformedFramesGetErrorsThenAClose) {
  hub_process hub;
  ws_tab tab(hub.port());
  tab.send("not json");
  auto e = tab.wait_type("error");
  ASSERT_TRUE(e);
  EXPECT_STREQ((*e)["code"].GetString(), "invalid_frame");
  tab.send(R"({"type":"teleport"})");
  ASSERT_TRUE(tab.wait_type("error"));
  EXPECT_EQ(tab.close_code(300ms), 0);  // still open after two
  tab.send(R"([1,2,3])");
  ASSERT_TRUE(tab.wait_type("error"));
  EXPECT_EQ(tab.close_code(), 1008);
  // Hostile input is survived: the hub still serves.
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz", {}).status, 200);
}

TEST(WsLimits, FrameFloodCloses4009) {
  hub_process hub({"--ws-rate-limit", "5"});
  const auto a = create_session_ok(hub.port(), "alice");
  auto tab = authed_tab(hub.port(), a.access_token);
  for (int i = 0; i < 40; ++i)
    tab->send(R"({"type":"activity"})");
  EXPECT_EQ(tab->close_code(3s), 4009);
  EXPECT_GE(stat_value(hub.port(), "connections", "rate_limited_closes"), 1);
}

TEST(WsLimits, SlowConsumerIsClosedWhileFastTabsKeepUp) {
  hub_process hub(
      {"--ws-queue-frames", "64", "--ws-queue-bytes", "65536", "--ws-rate-limit", "1000"});
  const auto a = create_session_ok(hub.port(), "alice");
  ws_tab slow(hub.port(), test_origin, {}, 4096);
  slow.auth(a.access_token);
  ASSERT_TRUE(slow.wait_type("ready"));
  slow.stall();
  auto fast = authed_tab(hub.port(), a.access_token);
  const std::string payload(12000, 'p');  // fills the kernel's socket buffers quickly
  int received = 0;
  const std::string data = R"({"p":")" + payload + "\"}";
  for (int i = 0; i < 1500 && stat_value(hub.port(), "connections", "slow_consumer_kicks") == 0;
       ++i) {
    ASSERT_EQ(publish(hub.port(), "user:alice", "bulk", data).status, 202);
    if (fast->wait_event("bulk", 2s)) ++received;
  }
  const auto s = stats(hub.port());
  EXPECT_GE(s["connections"]["slow_consumer_kicks"].GetInt64(), 1);
  EXPECT_TRUE(hub.wait_for_log_msg("slow_consumer", 2s));
  EXPECT_GT(received, 0);
  // The fast tab saw every event it was sent, promptly: its latency did not suffer.
  EXPECT_EQ(fast->pending(), 0u);
  EXPECT_LT(s["fanout_latency_ms"]["p99"].GetDouble(), 50.0);
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz", {}).status, 200);
}

TEST(WsLimits, TooManyConnectionsForOneSession) {
  hub_process hub({"--max-connections-per-session", "2"});
  const auto a = create_session_ok(hub.port(), "alice");
  auto t1 = authed_tab(hub.port(), a.access_token);
  auto t2 = authed_tab(hub.port(), a.access_token);
  ws_tab t3(hub.port());
  t3.auth(a.access_token);
  const auto err = t3.wait_type("error");
  ASSERT_TRUE(err);
  EXPECT_STREQ((*err)["code"].GetString(), "too_many_connections");
  EXPECT_EQ(t3.close_code(), 4003);
}

TEST(WsLimits, TooManyConnectionsFromOneAddress) {
  hub_process hub({"--max-connections-per-ip", "3"});
  ws_tab a(hub.port()), b(hub.port()), c(hub.port());
  try {
    ws_tab d(hub.port());
    FAIL() << "the fourth connection should be refused";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("429"), std::string::npos) << e.what();
  }
}

TEST(WsLimits, TokenFrameReplacesTheTokenOfTheSameSessionOnly) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  const auto b = create_session_ok(hub.port(), "bob");
  auto tab = authed_tab(hub.port(), a.access_token);
  tab->send(R"({"type":"token","token":")" + refresh_ok(hub.port(), *a.refresh_token).access_token +
            "\"}");
  EXPECT_EQ(tab->close_code(500ms), 0);
  tab->send(R"({"type":"token","token":")" + b.access_token + "\"}");
  const auto err = tab->wait_type("error");
  ASSERT_TRUE(err);
  EXPECT_STREQ((*err)["code"].GetString(), "token_mismatch");
  EXPECT_EQ(tab->close_code(), 4003);
}

TEST(WsLimits, PingsKeepLiveTabsAndSilentPeersAreDropped) {
  hub_process hub({"--ping-interval-s", "1", "--silent-timeout-s", "3"});
  const auto a = create_session_ok(hub.port(), "alice");
  auto live = authed_tab(hub.port(), a.access_token);  // reads, so it answers pings
  auto silent = authed_tab(hub.port(), a.access_token);
  silent->stall();  // reads nothing more: no pongs, no frames
  EXPECT_TRUE(hub.wait_for_log_msg("ws_silent_peer", 6s));
  EXPECT_EQ(live->close_code(500ms), 0);
  EXPECT_EQ(stat_value(hub.port(), "connections", "authenticated"), 1);
  // The live tab still gets events after the silent one is gone.
  ASSERT_EQ(extend(hub.port(), a.access_token).status, 200);
  EXPECT_TRUE(live->wait_event("session.extended"));
}

// A tab that gets events has its ping written with one of them once the ping is within the
// last quarter of its interval: with events every ~100 ms and a 2 s interval, pings come
// 1.5-1.6 s apart. The sweep alone pings 2 s after the last ping at the earliest.
TEST(WsLimits, PingsRideAlongWithEventsOnceNearlyDue) {
  hub_process hub({"--ping-interval-s", "2"});
  const auto a = create_session_ok(hub.port(), "alice");
  raw_ws ws(hub.port());
  ASSERT_EQ(ws.status(), 101);
  ws.send_text(R"({"type":"auth","token":")" + a.access_token + R"("})");
  const auto ready = ws.next();
  ASSERT_TRUE(ready && ready->payload.find(R"("type":"ready")") != std::string::npos);
  std::vector<std::chrono::steady_clock::time_point> pings;
  int events = 0;
  const auto give_up = std::chrono::steady_clock::now() + 12s;
  while (pings.size() < 4 && std::chrono::steady_clock::now() < give_up) {
    ASSERT_EQ(publish(hub.port(), "user:alice", "tick").status, 202);
    const auto turn_ends = std::chrono::steady_clock::now() + 100ms;
    for (auto now = std::chrono::steady_clock::now(); now < turn_ends;
         now = std::chrono::steady_clock::now()) {
      const auto f =
          ws.next(std::chrono::duration_cast<std::chrono::milliseconds>(turn_ends - now));
      if (!f) break;
      if (f->opcode == 0x9) {
        pings.push_back(std::chrono::steady_clock::now());
        ws.send(raw_ws::frame(0x8A, f->payload));
      } else if (f->opcode == 0x1) {
        ++events;
      }
    }
  }
  ASSERT_EQ(pings.size(), 4U) << events << " events";
  for (std::size_t i = 1; i < pings.size(); ++i) {
    const auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(pings[i] - pings[i - 1]);
    EXPECT_GE(gap, 1400ms) << "ping " << i;
    EXPECT_LT(gap, 1900ms) << "ping " << i;
  }
}

TEST(WsLimits, SigtermClosesEveryTabWith1001AndExitsZero) {
  hub_process hub;
  const auto a = create_session_ok(hub.port(), "alice");
  auto t1 = authed_tab(hub.port(), a.access_token);
  ws_tab t2(hub.port());
  t2.send(R"({"type":"watch"})");
  ASSERT_TRUE(t2.wait_type("ready"));
  EXPECT_EQ(hub.terminate(), 0);
  EXPECT_EQ(t1->close_code(3s), 1001);
  EXPECT_EQ(t2.close_code(3s), 1001);
}

}  // namespace
}  // namespace shub::itest
