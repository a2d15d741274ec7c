// harness_test: checks of the test harness itself, so that a broken harness shows up as
// its own failure and not as a puzzling failure of some endpoint test — a hub that cannot
// start fails fast with what it printed, the keep-alive client reuses and redials its
// connection, Set-Cookie headers are read the way a browser reads them, and a WebSocket
// tab gives up on a peer that never answers its handshake.
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "harness.hpp"
#include "harness_ws.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

TEST(IntegrationHarness, AHubThatCannotStartFailsFastWithItsOutput) {
  const auto start = std::chrono::steady_clock::now();
  try {
    hub_process hub({"--listen", "256.0.0.1:0"});
    FAIL() << "a hub listening on 256.0.0.1 started";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("did not log"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256.0.0.1"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s) << "waited for the full timeout";
}

TEST(IntegrationHarness, KeepAliveClientReusesItsConnection) {
  hub_process hub;
  http_client client(hub.port(), true);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(client.request("GET", "/healthz").status, 200);
  const auto r = client.request("GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(client.request("GET", "/healthz").status, 200);
}

TEST(IntegrationHarness, WaitForLogSeesLinesPrintedLater) {
  hub_process hub;
  EXPECT_FALSE(hub.wait_for_log_msg("no-such-message", 200ms));
  const auto t = login_ok(hub.port());
  const auto t1 = refresh_ok(hub.port(), *t.refresh_token);
  (void)refresh_ok(hub.port(), *t1.refresh_token);
  (void)refresh(hub.port(), *t.refresh_token);  // older than the previous: reuse
  EXPECT_TRUE(hub.wait_for_log_msg("refresh_token_reuse", 5s)) << hub.output();
  EXPECT_TRUE(hub.running());
}

TEST(IntegrationHarness, WsTabGivesUpOnAPeerThatNeverAnswersTheHandshake) {
  // A listener that nobody serves: the kernel completes the TCP handshake, nothing more
  // (a stopped or wedged hub looks like this).
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor silent(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const int port = silent.local_endpoint().port();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(ws_tab tab(port), std::runtime_error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "the handshake was not bounded";
}

TEST(IntegrationHarness, WsTabRefusalIsReportedAtOnce) {
  hub_process hub;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(ws_tab(hub.port(), "http://evil.example.test"), std::runtime_error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "a refusal waited for a timeout";
}

TEST(IntegrationHarness, SetCookieHeadersAreParsedLikeABrowser) {
  const auto c = parse_set_cookie(
      "shub_rt=abc-_123; Path=/v1/refresh; Max-Age=0; HttpOnly; "
      "samesite=Strict");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "shub_rt");
  EXPECT_EQ(c->value, "abc-_123");
  EXPECT_EQ(c->path(), "/v1/refresh");
  EXPECT_EQ(c->max_age(), 0);
  EXPECT_TRUE(c->has("httponly"));
  EXPECT_EQ(c->attribute("SameSite"), "Strict");
  EXPECT_FALSE(c->has("Secure"));
  EXPECT_FALSE(parse_set_cookie("no-equals-sign; Path=/"));
  EXPECT_FALSE(parse_set_cookie("a=1; Max-Age=soon")->max_age());

  http_response r;
  r.headers = {{"Set-Cookie", "a=1; Path=/x"}, {"set-cookie", "a=2; Path=/y"}, {"X", "y"}};
  EXPECT_EQ(set_cookies(r).size(), 2u);
  EXPECT_EQ(find_set_cookie(r, "a", "/y")->value, "2");
  EXPECT_FALSE(find_set_cookie(r, "a", "/z"));
  EXPECT_EQ(cookie_header({{"a", "1"}, {"b", "2"}}).second, "a=1; b=2");
}

}  // namespace
}  // namespace shub::itest
