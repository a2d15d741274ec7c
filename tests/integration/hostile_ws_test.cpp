// hostile_ws_test: RFC 6455 broken on purpose, byte by byte (raw_ws), against one hub. Each
// frame-level violation closes with its code — 1002 protocol error, 1007 invalid UTF-8, 1009
// too big — ends the TCP connection and logs one ws_protocol_error line with the reason;
// each broken opening handshake gets its HTTP status; after every case a new client still
// gets its answer. Next to them, the edges RFC 6455 allows (a 125-byte ping, UTF-8 split
// across fragments, control frames between fragments, application close codes), which must
// not be refused. One table per kind: a new violation is one more line.
#include <gtest/gtest.h>

#include <cstdint>

#include "harness.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"

namespace shub::itest {
namespace {

constexpr std::uint8_t fin = 0x80;
constexpr std::uint8_t text = 0x1, binary = 0x2, close_op = 0x8, ping = 0x9, pong = 0xA;
const std::string watch = R"({"type":"watch"})";

std::string frame(std::uint8_t first, std::string_view payload, bool masked = true) {
  return raw_ws::frame(first, payload, masked);
}

std::string big_endian(std::uint64_t v, int bytes) {
  std::string out;
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(v >> shift));
  return out;
}

// A masked frame whose length field says `len7` (and `extended`, big-endian) whatever the
// payload's real size: for non-minimal and impossible lengths.
std::string frame_declaring(std::uint8_t first, std::uint8_t len7, const std::string& extended,
                            std::string_view payload = {}) {
  std::string f;
  f.push_back(static_cast<char>(first));
  f.push_back(static_cast<char>(0x80 | len7));
  f += extended;
  const char mask[4] = {0x11, 0x22, 0x33, 0x44};
  f.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

std::string close_payload(int code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

struct violation {
  std::string name;
  std::string bytes;  // sent after the handshake, in one write
  int code;           // the close code the hub must send
  std::string error;  // the reason it must log
};

std::vector<violation> violations() {
  const std::string start = frame(text, R"({"type":)");  // a text message's first fragment
  const std::string more = frame(fin | 0x0, R"("watch"})");
  const std::string reserved_bits = "reserved bits set", unknown_opcode = "unknown opcode",
                    unmasked = "client frame not masked", control_long = "control frame too long",
                    control_fragmented = "fragmented control frame",
                    orphan = "continuation frame without a message",
                    interleaved = "new message before the previous one ended",
                    bad_utf8 = "text is not valid UTF-8",
                    cut_utf8 = "text ends inside a UTF-8 character", too_big = "message too big",
                    bad_code = "invalid close code", not_minimal = "length not minimal";
  std::vector<violation> v = {
      // RSV1-3: no extension is negotiated, so every reserved bit must be clear (§5.2).
      {"RSV1 on a text frame", frame(fin | 0x40 | text, watch), 1002, reserved_bits},
      {"RSV2 on a text frame", frame(fin | 0x20 | text, watch), 1002, reserved_bits},
      {"RSV3 on a text frame", frame(fin | 0x10 | text, watch), 1002, reserved_bits},
      {"all three RSV bits", frame(fin | 0x70 | text, watch), 1002, reserved_bits},
      {"RSV1 on a ping", frame(fin | 0x40 | ping, "x"), 1002, reserved_bits},
      {"RSV2 on a close", frame(fin | 0x20 | close_op, close_payload(1000)), 1002, reserved_bits},
      {"RSV3 on a continuation", start + frame(fin | 0x10, R"("watch"})"), 1002, reserved_bits},
      // Unmasked client frames (§5.1).
      {"unmasked text", frame(fin | text, watch, false), 1002, unmasked},
      {"unmasked ping", frame(fin | ping, "x", false), 1002, unmasked},
      {"unmasked close", frame(fin | close_op, close_payload(1000), false), 1002, unmasked},
      {"unmasked continuation", start + frame(fin, R"("watch"})", false), 1002, unmasked},
      // Control frames: at most 125 bytes, never fragmented (§5.5).
      {"ping of 126 bytes", frame(fin | ping, std::string(126, 'p')), 1002, control_long},
      {"pong of 126 bytes", frame(fin | pong, std::string(126, 'p')), 1002, control_long},
      {"close of 126 bytes", frame(fin | close_op, close_payload(1000, std::string(124, 'r'))),
       1002, control_long},
      {"ping with a 64-bit length", frame_declaring(fin | ping, 127, big_endian(5, 8), "hello"),
       1002, control_long},
      {"fragmented ping", frame(ping, "x"), 1002, control_fragmented},
      {"fragmented pong", frame(pong, "x"), 1002, control_fragmented},
      {"fragmented close", frame(close_op, close_payload(1000)), 1002, control_fragmented},
      // Fragmentation order (§5.4).
      {"continuation without a message", frame(fin, watch), 1002, orphan},
      {"unfinished continuation without a message", frame(0x0, watch), 1002, orphan},
      {"continuation after a finished message", frame(fin | text, watch) + frame(fin, "x"), 1002,
       orphan},
      {"a new text message inside a fragmented one", start + frame(fin | text, watch), 1002,
       interleaved},
      {"a binary message inside a fragmented text one", start + frame(fin | binary, "x"), 1002,
       interleaved},
      {"a text message inside a fragmented binary one",
       frame(binary, "ab") + frame(fin | text, watch), 1002, interleaved},
  };
  // Reserved opcodes, data (3-7) and control (0xB-0xF) (§5.2).
  for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    char name[32];
    std::snprintf(name, sizeof name, "reserved opcode 0x%X", op);
    v.push_back({name, frame(fin | op, "x"), 1002, unknown_opcode});
  }
  // Invalid UTF-8 in text (§8.1): whole, split across fragments, and cut short at the end.
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"a byte that is never UTF-8 (0xFF)", "\xFF"},
           {"a lone continuation byte", "\x80"},
           {"an overlong '/' in 2 bytes", "\xC0\xAF"},
           {"an overlong '/' in 3 bytes", "\xE0\x80\xAF"},
           {"an overlong '/' in 4 bytes", "\xF0\x80\x80\xAF"},
           {"a high surrogate (U+D800)", "\xED\xA0\x80"},
           {"a low surrogate (U+DFFF)", "\xED\xBF\xBF"},
           {"above U+10FFFF", "\xF4\x90\x80\x80"},
           {"a 0xF5 lead byte", "\xF5\x80\x80\x80"},
           {"a lead byte followed by ASCII", "\xC3\x28"},
       }) {
    v.push_back(
        {"text with " + name, frame(fin | text, "{\"x\":\"" + bytes + "\"}"), 1007, bad_utf8});
  }
  v.push_back(
      {"text cut inside a character at its end", frame(fin | text, "ab\xE2\x82"), 1007, cut_utf8});
  v.push_back({"invalid UTF-8 split across fragments",
               frame(text, "ab\xE2\x82") + frame(fin, "\x28"), 1007, bad_utf8});
  v.push_back({"invalid UTF-8 in a first fragment, refused before the rest", frame(text, "ab\xC0"),
               1007, bad_utf8});
  v.push_back({"a character cut short at the last fragment's end",
               frame(text, "a\xF0\x9F") + frame(fin, "\x98"), 1007, cut_utf8});
  v.push_back({"a surrogate split across fragments", frame(text, "a\xED") + frame(fin, "\xA0\x80"),
               1007, bad_utf8});
  // Close frames (§5.5.1, §7.4): codes the peer may not send, a one-byte payload, a reason
  // that is not UTF-8.
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    v.push_back({"close code " + std::to_string(code), frame(fin | close_op, close_payload(code)),
                 1002, bad_code});
  }
  v.push_back({"close with a one-byte payload", frame(fin | close_op, "\x03"), 1002,
               "close payload of one byte"});
  v.push_back({"close reason not UTF-8", frame(fin | close_op, close_payload(1000, "bye\xFF")),
               1007, "close reason is not valid UTF-8"});
  v.push_back({"close reason an overlong", frame(fin | close_op, close_payload(1000, "\xC0\xAF")),
               1007, "close reason is not valid UTF-8"});
  // Lengths (§5.2): the most significant bit must be 0, the shortest form must be used.
  v.push_back({"a 2^63 length", frame_declaring(fin | text, 127, big_endian(1ULL << 63, 8)), 1002,
               "length has its top bit set"});
  v.push_back({"a 2^64-1 length", frame_declaring(fin | text, 127, big_endian(~0ULL, 8)), 1002,
               "length has its top bit set"});
  v.push_back({"5 bytes in the 16-bit form",
               frame_declaring(fin | text, 126, big_endian(5, 2), "{}{}{"), 1002, not_minimal});
  v.push_back({"5 bytes in the 64-bit form",
               frame_declaring(fin | text, 127, big_endian(5, 8), "{}{}{"), 1002, not_minimal});
  v.push_back({"200 bytes in the 64-bit form",
               frame_declaring(fin | text, 127, big_endian(200, 8), std::string(200, ' ')), 1002,
               not_minimal});
  // Messages over --ws-max-frame-bytes (4 KiB by default): 1009, before the payload arrives.
  v.push_back({"a 2^40-byte frame announced",
               frame_declaring(fin | text, 127, big_endian(1ULL << 40, 8)), 1009, too_big});
  v.push_back({"a 4097-byte text frame", frame(fin | text, std::string(4097, ' ')), 1009, too_big});
  v.push_back({"a 64 KiB text frame", frame(fin | text, std::string(65536, ' ')), 1009, too_big});
  v.push_back({"4097 bytes in three fragments",
               frame(text, std::string(2000, ' ')) + frame(0x0, std::string(2000, ' ')) +
                   frame(fin, std::string(97, ' ')),
               1009, too_big});
  v.push_back(
      {"a 5000-byte binary frame", frame(fin | binary, std::string(5000, 'b')), 1009, too_big});
  return v;
}

class HostileWs : public testing::Test {
 public:
  static void SetUpTestSuite() {
    hub_ = new hub_process(with_args({"--ws-connect-rate-limit", "0"}));
    logs_ = new log_cursor(*hub_);
  }
  static void TearDownTestSuite() {
    delete logs_;
    delete hub_;
  }

 protected:
  void SetUp() override { logs_->skip_to_end(); }

  // A new client still gets its answer, over WebSocket and plain HTTP.
  static testing::AssertionResult serves() {
    if (!hub_->running())
      return testing::AssertionFailure() << "the hub exited\n" << hub_->output();
    raw_ws tab(hub_->port(), {}, frame(fin | text, watch));
    const auto f = tab.next(3s);
    if (!f || f->payload.find(R"("type":"ready")") == std::string::npos)
      return testing::AssertionFailure() << "no ready for a watch";
    const int health = http_request(hub_->port(), "GET", "/healthz").status;
    if (health != 200) return testing::AssertionFailure() << "/healthz " << health;
    return testing::AssertionSuccess();
  }

  static hub_process* hub_;
  static log_cursor* logs_;
};

hub_process* HostileWs::hub_ = nullptr;
log_cursor* HostileWs::logs_ = nullptr;

TEST_F(HostileWs, EveryFrameViolationClosesWithItsCodeAndTheHubServesOn) {
  const auto cases = violations();
  for (const auto& c : cases) {
    raw_ws tab(hub_->port());
    ASSERT_EQ(tab.status(), 101) << c.name;
    tab.send(c.bytes);
    EXPECT_EQ(tab.close_code(3s), c.code) << c.name;
    EXPECT_TRUE(tab.closed_by_hub(3s)) << c.name;
    const auto line = logs_->next("ws_protocol_error");
    ASSERT_TRUE(line) << c.name << ": no ws_protocol_error line";
    EXPECT_EQ(json_int(*line, "code"), c.code) << c.name;
    EXPECT_EQ(json_string(*line, "error"), c.error) << c.name;
    EXPECT_TRUE(serves()) << "after " << c.name;
  }
  std::printf("%zu frame-level violations\n", cases.size());
  EXPECT_GE(cases.size(), 60u);
}

// Requests that are not a valid opening handshake (§4.2.1) or come from an origin the hub
// does not serve (PROTOCOL §2: 403 origin_not_allowed).
struct refused_upgrade {
  std::string name;
  std::string request;
  int status;
  std::string header;   // a header line the answer must carry, or empty
  std::string log_msg;  // the line the hub must log, or empty when it logs none
};

std::string request_with(std::string_view extra, std::initializer_list<std::string_view> without) {
  return raw_ws::request(extra, without);
}

std::string replace_first(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::vector<refused_upgrade> refused_upgrades() {
  const std::string key = "sec-websocket-key", version = "sec-websocket-version";
  const std::string bad_key = "ws_handshake_refused";
  return {
      {"no Sec-WebSocket-Key", request_with({}, {key}), 400, "", bad_key},
      {"an empty Sec-WebSocket-Key", request_with("sec-websocket-key: \r\n", {key}), 400, "",
       bad_key},
      {"a short Sec-WebSocket-Key", request_with("sec-websocket-key: c2hvcnQ=\r\n", {key}), 400, "",
       bad_key},
      {"a Sec-WebSocket-Key of 17 bytes",
       request_with("sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n", {key}), 400, "", bad_key},
      {"a Sec-WebSocket-Key without padding",
       request_with("sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ\r\n", {key}), 400, "", bad_key},
      {"a Sec-WebSocket-Key not base64",
       request_with("sec-websocket-key: !!!!!!!!!!!!!!!!!!!!!!==\r\n", {key}), 400, "", bad_key},
      {"a Sec-WebSocket-Key with '=' inside",
       request_with("sec-websocket-key: dGhlIHNhbXBsZSBub2=jZQ==\r\n", {key}), 400, "", bad_key},
      {"no Sec-WebSocket-Version", request_with({}, {version}), 426, "Sec-WebSocket-Version: 13",
       bad_key},
      {"Sec-WebSocket-Version 8", request_with("sec-websocket-version: 8\r\n", {version}), 426,
       "Sec-WebSocket-Version: 13", bad_key},
      {"Sec-WebSocket-Version 14", request_with("sec-websocket-version: 14\r\n", {version}), 426,
       "Sec-WebSocket-Version: 13", bad_key},
      {"Sec-WebSocket-Version a list", request_with("sec-websocket-version: 13, 8\r\n", {version}),
       426, "Sec-WebSocket-Version: 13", bad_key},
      {"no Host", request_with({}, {"host"}), 400, "", bad_key},
      // Without Upgrade: websocket and Connection: Upgrade the request is a plain GET of the
      // endpoint, which answers 426 naming the upgrade it needs.
      {"no Upgrade", request_with({}, {"upgrade"}), 426, "Upgrade: websocket", ""},
      {"Upgrade: h2c", request_with("upgrade: h2c\r\n", {"upgrade"}), 426, "Upgrade: websocket",
       ""},
      {"no Connection", request_with({}, {"connection"}), 426, "Upgrade: websocket", ""},
      {"Connection: keep-alive", request_with("connection: keep-alive\r\n", {"connection"}), 426,
       "Upgrade: websocket", ""},
      {"HTTP/1.0", replace_first(raw_ws::request(), "HTTP/1.1", "HTTP/1.0"), 426,
       "Upgrade: websocket", ""},
      {"POST instead of GET", replace_first(raw_ws::request(), "GET ", "POST "), 405, "Allow: GET",
       ""},
      {"another path", replace_first(raw_ws::request(), "/v1/ws", "/v1/wss"), 404, "", ""},
      {"an origin not allowed",
       replace_first(raw_ws::request(), test_origin, "http://evil.example.test"), 403, "",
       "ws_origin_refused"},
      {"no Origin",
       replace_first(raw_ws::request(), "origin: " + std::string(test_origin) + "\r\n", ""), 403,
       "", "ws_origin_refused"},
      {"Origin null", replace_first(raw_ws::request(), test_origin, "null"), 403, "",
       "ws_origin_refused"},
      {"the allowed origin with a path",
       replace_first(raw_ws::request(), test_origin, std::string(test_origin) + "/"), 403, "",
       "ws_origin_refused"},
      {"the allowed origin with another port",
       replace_first(raw_ws::request(), test_origin, std::string(test_origin) + ":8080"), 403, "",
       "ws_origin_refused"},
      {"the allowed origin over https",
       replace_first(raw_ws::request(), "http://app", "https://app"), 403, "", "ws_origin_refused"},
  };
}

TEST_F(HostileWs, EveryBrokenHandshakeGetsItsStatusAndTheHubServesOn) {
  const auto cases = refused_upgrades();
  for (const auto& c : cases) {
    raw_ws tab(hub_->port(), c.request);
    EXPECT_EQ(tab.status(), c.status) << c.name << "\n" << tab.head();
    EXPECT_FALSE(icontains(tab.head(), "Sec-WebSocket-Accept")) << c.name;
    if (!c.header.empty()) {
      EXPECT_TRUE(icontains(tab.head(), "\r\n" + c.header + "\r\n")) << c.name << "\n"
                                                                     << tab.head();
    }
    if (!c.log_msg.empty()) {
      EXPECT_TRUE(logs_->next(c.log_msg)) << c.name << ": no " << c.log_msg;
    }
    EXPECT_TRUE(serves()) << "after " << c.name;
  }
  std::printf("%zu refused handshakes\n", cases.size());
}

// The edges RFC 6455 allows, which a too-strict parser would refuse.
TEST_F(HostileWs, WhatTheRfcAllowsIsNotRefused) {
  {
    raw_ws tab(hub_->port());
    const std::string payload(125, 'p');
    tab.send(frame(fin | ping, payload));
    const auto f = tab.next(3s);
    ASSERT_TRUE(f) << "a 125-byte ping";
    EXPECT_EQ(f->opcode, pong);
    EXPECT_EQ(f->payload, payload);
  }
  const auto ready_after = [](const std::string& what, const std::string& bytes) {
    raw_ws tab(hub_->port());
    tab.send(bytes);
    for (int i = 0; i < 4; ++i) {
      const auto f = tab.next(3s);
      if (!f) break;
      if (f->opcode == close_op) {
        ADD_FAILURE() << what << ": closed " << f->close_code();
        return;
      }
      if (f->opcode == text) {
        EXPECT_NE(f->payload.find(R"("type":"ready")"), std::string::npos) << what << f->payload;
        return;
      }
    }
    ADD_FAILURE() << what << ": no ready";
  };
  const std::string euro_watch = "{\"type\":\"watch\",\"x\":\"\xE2\x82\xAC\"}";
  const std::size_t cut = euro_watch.find('\x82');
  ready_after("a character split across fragments",
              frame(text, euro_watch.substr(0, cut)) + frame(fin, euro_watch.substr(cut)));
  ready_after("a ping and a pong between fragments",
              frame(text, R"({"type":)") + frame(fin | ping, "between") + frame(fin | pong, "") +
                  frame(fin, R"("watch"})"));
  ready_after("empty fragments", frame(text, "") + frame(0x0, watch) + frame(fin, ""));
  ready_after("4096 bytes in fragments", frame(text, R"({"type":"watch","pad":")") +
                                             frame(0x0, std::string(4096 - 23 - 2, 'x')) +
                                             frame(fin, "\"}"));
  ready_after("200 bytes in the 16-bit form",
              frame(fin | text, R"({"type":"watch","pad":")" + std::string(175, 'x') + "\"}"));
  for (int code : {1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999}) {
    raw_ws tab(hub_->port());
    tab.send(frame(fin | close_op, close_payload(code, "bye \xE2\x82\xAC")));
    EXPECT_EQ(tab.close_code(3s), code) << "a close with " << code << " is echoed";
  }
  EXPECT_TRUE(serves());
}

}  // namespace
}  // namespace shub::itest
