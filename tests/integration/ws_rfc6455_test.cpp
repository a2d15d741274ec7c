// The hub's own RFC 6455 implementation on the wire: the opening handshake's answer and
// refusals, a first frame sent with the request, pings, and the closing handshake from either
// side. Violations, one table line each, are in hostile_ws_test.cpp.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"

namespace shub::itest {
namespace {

bool has_header(const std::string& head, const std::string& line) {
  return icontains(head, "\r\n" + line + "\r\n");
}

TEST(WsRfc6455, TheHandshakeAnswerCarriesTheAcceptKeyAndTheSubprotocol) {
  hub_process hub;
  raw_ws offered(hub.port());
  EXPECT_EQ(offered.status(), 101) << offered.head();
  EXPECT_TRUE(has_header(offered.head(), "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
      << offered.head();
  EXPECT_TRUE(has_header(offered.head(), "Sec-WebSocket-Protocol: sessionhub.v1"));
  EXPECT_TRUE(has_header(offered.head(), "Upgrade: websocket"));
  raw_ws plain(hub.port(), raw_ws::request({}, {"sec-websocket-protocol"}));
  EXPECT_EQ(plain.status(), 101);
  EXPECT_FALSE(icontains(plain.head(), "Sec-WebSocket-Protocol"));
}

TEST(WsRfc6455, AWrongOrMissingVersionIs426NamingVersion13) {
  hub_process hub;
  raw_ws missing(hub.port(), raw_ws::request({}, {"sec-websocket-version"}));
  EXPECT_EQ(missing.status(), 426) << missing.head();
  EXPECT_TRUE(has_header(missing.head(), "Sec-WebSocket-Version: 13")) << missing.head();
  raw_ws old(hub.port(),
             raw_ws::request("sec-websocket-version: 8\r\n", {"sec-websocket-version"}));
  EXPECT_EQ(old.status(), 426) << old.head();
  EXPECT_TRUE(hub.wait_for_log_msg("ws_handshake_refused", 5s)) << hub.output();
}

TEST(WsRfc6455, AMissingOrMalformedKeyIs400) {
  hub_process hub;
  raw_ws missing(hub.port(), raw_ws::request({}, {"sec-websocket-key"}));
  EXPECT_EQ(missing.status(), 400) << missing.head();
  raw_ws short_key(hub.port(),
                   raw_ws::request("sec-websocket-key: c2hvcnQ=\r\n", {"sec-websocket-key"}));
  EXPECT_EQ(short_key.status(), 400) << short_key.head();
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
}

TEST(WsRfc6455, AFrameSentWithTheRequestIsRead) {
  hub_process hub;
  raw_ws tab(hub.port(), {}, raw_ws::frame(0x81, R"({"type":"watch"})"));
  ASSERT_EQ(tab.status(), 101);
  const auto f = tab.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 0x1);
  EXPECT_NE(f->payload.find(R"("type":"ready")"), std::string::npos) << f->payload;
}

TEST(WsRfc6455, APingIsAnsweredWithItsPayload) {
  hub_process hub;
  raw_ws tab(hub.port());
  tab.send(raw_ws::frame(0x89, "are you there"));
  const auto f = tab.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 0xA);
  EXPECT_EQ(f->payload, "are you there");
}

TEST(WsRfc6455, AClientCloseIsEchoedAndTheHubEndsTheConnection) {
  hub_process hub;
  raw_ws tab(hub.port());
  tab.send(raw_ws::frame(0x88, std::string("\x03\xe8") + "bye"));
  EXPECT_EQ(tab.close_code(), 1000);
  EXPECT_TRUE(tab.closed_by_hub());
  raw_ws bare(hub.port());
  bare.send(raw_ws::frame(0x88, ""));
  const auto f = bare.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 0x8);
  EXPECT_EQ(f->payload, "");  // no code in, no code out
}

}  // namespace
}  // namespace shub::itest
