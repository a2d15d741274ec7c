// Hostile WebSocket input on the wire: RFC 6455 violations of every kind, each sent raw to
// the real hub, each answered with the close code the RFC gives it (1002 protocol error,
// 1007 invalid UTF-8, 1009 too big) and the TCP connection ended by the hub; handshakes the
// hub must refuse with their HTTP status. After every case the hub still serves a tab.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"

namespace shub::itest {
namespace {

constexpr std::string_view watch = R"({"type":"watch"})";

// A masked frame header with the length in the form given (7, 16 or 64 bits), whatever the
// payload's real size, and a zero masking key (the payload goes as it is).
std::string header(std::uint8_t first, int form, std::uint64_t length) {
  std::string h(1, static_cast<char>(first));
  if (form == 7) {
    h.push_back(static_cast<char>(0x80 | length));
  } else if (form == 16) {
    h.push_back(static_cast<char>(0x80 | 126));
    h.push_back(static_cast<char>(length >> 8));
    h.push_back(static_cast<char>(length));
  } else {
    h.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      h.push_back(static_cast<char>(length >> shift));
  }
  h.append(4, '\0');
  return h;
}

std::string close_frame(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return raw_ws::frame(0x88, p);
}

struct violation {
  std::string what;
  std::string bytes;
  int code;
};

std::vector<violation> violations() {
  const auto f = [](std::uint8_t first, std::string_view payload, bool masked = true) {
    return raw_ws::frame(first, payload, masked);
  };
  std::vector<violation> v = {
      // Reserved bits with no extension negotiated.
      {"RSV1 on text", f(0xC1, watch), 1002},
      {"RSV2 on text", f(0xA1, watch), 1002},
      {"RSV3 on text", f(0x91, watch), 1002},
      {"all RSV bits", f(0xF1, watch), 1002},
      {"RSV1 on ping", f(0xC9, "x"), 1002},
      {"RSV3 on close", f(0x98, "\x03\xe8"), 1002},
      {"RSV2 on a continuation", f(0x01, "ab") + f(0xA0, "cd"), 1002},
      // Unmasked client frames.
      {"unmasked text", f(0x81, watch, false), 1002},
      {"unmasked ping", f(0x89, "x", false), 1002},
      {"unmasked close", f(0x88, "\x03\xe8", false), 1002},
      {"unmasked binary", f(0x82, "xy", false), 1002},
      {"unmasked continuation", f(0x01, "ab") + f(0x80, "cd", false), 1002},
      // Control frames too long or fragmented.
      {"ping of 126 bytes", f(0x89, std::string(126, 'p')), 1002},
      {"pong of 126 bytes", f(0x8A, std::string(126, 'p')), 1002},
      {"close of 126 bytes", f(0x88, "\x03\xe8" + std::string(124, 'r')), 1002},
      {"ping without FIN", f(0x09, "x"), 1002},
      {"pong without FIN", f(0x0A, "x"), 1002},
      {"close without FIN", f(0x08, "\x03\xe8"), 1002},
      // Fragmentation out of order.
      {"continuation first (final)", f(0x80, watch), 1002},
      {"continuation first (not final)", f(0x00, watch), 1002},
      {"text during a fragmented text", f(0x01, "ab") + f(0x81, "cd"), 1002},
      {"binary during a fragmented text", f(0x01, "ab") + f(0x82, "cd"), 1002},
      {"text start during a fragmented text", f(0x01, "ab") + f(0x01, "cd"), 1002},
      // Invalid UTF-8 in text, whole or split across fragments.
      {"overlong two-byte slash", f(0x81, "\xc0\xaf"), 1007},
      {"overlong three-byte slash", f(0x81, "\xe0\x80\xaf"), 1007},
      {"overlong four-byte slash", f(0x81, "\xf0\x80\x80\xaf"), 1007},
      {"high surrogate", f(0x81, "\xed\xa0\x80"), 1007},
      {"low surrogate", f(0x81, "\xed\xbf\xbf"), 1007},
      {"above U+10FFFF (F4 90)", f(0x81, "\xf4\x90\x80\x80"), 1007},
      {"above U+10FFFF (F5)", f(0x81, "\xf5\x80\x80\x80"), 1007},
      {"lone continuation byte", f(0x81, "a\x80z"), 1007},
      {"byte FE", f(0x81, "\xfe"), 1007},
      {"byte FF", f(0x81, "\xff"), 1007},
      {"sequence cut at the end", f(0x81, "price \xe2\x82"), 1007},
      {"bad byte in a later fragment", f(0x01, "abc") + f(0x80, "d\xff"), 1007},
      {"sequence broken across fragments", f(0x01, "\xe2\x82") + f(0x80, "("), 1007},
      {"sequence cut at the final fragment", f(0x01, "abc\xe2") + f(0x80, ""), 1007},
      {"surrogate split across fragments", f(0x01, "\xed") + f(0x80, "\xa0\x80"), 1007},
      // Close frames that break the rules.
      {"close with one byte", f(0x88, "\x03"), 1002},
      {"close code 0", close_frame(0), 1002},
      {"close code 999", close_frame(999), 1002},
      {"close code 1004", close_frame(1004), 1002},
      {"close code 1005", close_frame(1005), 1002},
      {"close code 1006", close_frame(1006), 1002},
      {"close code 1015", close_frame(1015), 1002},
      {"close code 1016", close_frame(1016), 1002},
      {"close code 2999", close_frame(2999), 1002},
      {"close code 5000", close_frame(5000), 1002},
      {"close code 65535", close_frame(65535), 1002},
      {"close reason not UTF-8", close_frame(1000, "bye \xff"), 1007},
      // Lengths.
      {"64-bit length with the top bit set", header(0x81, 64, std::uint64_t{1} << 63), 1002},
      {"64-bit length of 2^64 - 1", header(0x81, 64, ~std::uint64_t{0}), 1002},
      {"16-bit form for 5 bytes", header(0x81, 16, 5) + "hello", 1002},
      {"64-bit form for 200 bytes", header(0x81, 64, 200) + std::string(200, 'a'), 1002},
      {"64-bit form for 65535 bytes", header(0x81, 64, 65535), 1002},
      {"text over the frame limit", f(0x81, std::string(5000, 'a')), 1009},
      {"a 1 MiB length, no payload yet", header(0x81, 64, 1 << 20), 1009},
      {"fragments adding up over the limit",
       f(0x01, std::string(3000, 'a')) + f(0x80, std::string(3000, 'b')), 1009},
      {"a binary frame over the limit", f(0x82, std::string(5000, 'b')), 1009},
  };
  // Every reserved opcode, data (3-7) and control (B-F).
  for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    v.push_back({"reserved opcode " + std::to_string(op), f(0x80 | op, "x"), 1002});
  }
  return v;
}

TEST(WsViolations, EveryViolationClosesWithItsCodeAndTheHubServesOn) {
  hub_process hub;
  const auto cases = violations();
  ASSERT_GE(cases.size(), 60u);
  for (const auto& c : cases) {
    raw_ws tab(hub.port());
    ASSERT_EQ(tab.status(), 101) << c.what;
    tab.send(c.bytes);
    EXPECT_EQ(tab.close_code(5s), c.code) << c.what;
    EXPECT_TRUE(tab.closed_by_hub(6s)) << c.what;
  }
  // Still serving, and the violations were logged with their reasons.
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
  raw_ws after(hub.port(), {}, raw_ws::frame(0x81, watch));
  const auto f = after.next();
  ASSERT_TRUE(f);
  EXPECT_NE(f->payload.find("ready"), std::string::npos) << f->payload;
  EXPECT_TRUE(hub.running());
  // Each logged with what was wrong (the log may trail the closes by a moment).
  const auto logged = [&hub] {
    int n = 0;
    for (const auto& line : hub.stdout_lines()) {
      if (line.find("\"ws_protocol_error\"") != std::string::npos &&
          line.find("\"error\":\"") != std::string::npos)
        ++n;
    }
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (logged() < static_cast<int>(cases.size()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_EQ(logged(), static_cast<int>(cases.size())) << hub.output();
}

TEST(WsViolations, BadHandshakesAreRefusedWithTheirStatus) {
  hub_process hub;
  struct handshake {
    const char* what;
    std::string request;
    int status;
  } cases[] = {
      {"no key", raw_ws::request({}, {"sec-websocket-key"}), 400},
      {"key of 5 bytes", raw_ws::request("Sec-WebSocket-Key: c2hvcnQ=\r\n", {"sec-websocket-key"}),
       400},
      {"key not base64",
       raw_ws::request("Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n", {"sec-websocket-key"}),
       400},
      {"key of 17 bytes",
       raw_ws::request("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n", {"sec-websocket-key"}),
       400},
      {"no version", raw_ws::request({}, {"sec-websocket-version"}), 426},
      {"version 8", raw_ws::request("Sec-WebSocket-Version: 8\r\n", {"sec-websocket-version"}),
       426},
      {"version 14", raw_ws::request("Sec-WebSocket-Version: 14\r\n", {"sec-websocket-version"}),
       426},
      {"unlisted origin", raw_ws::request("Origin: http://evil.example\r\n", {"origin"}), 403},
      {"no origin", raw_ws::request({}, {"origin"}), 403},
  };
  for (const auto& c : cases) {
    raw_ws tab(hub.port(), c.request);
    EXPECT_EQ(tab.status(), c.status) << c.what << "\n" << tab.head();
  }
  raw_ws good(hub.port());
  EXPECT_EQ(good.status(), 101) << good.head();
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace shub::itest
