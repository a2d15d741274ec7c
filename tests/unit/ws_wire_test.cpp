// ws_wire: the RFC 6455 handshake fields, server frame encoding, the UTF-8 validator and
// the client frame parser, each check of RFC 6455 §5 with its close code.
#include "hub/ws_wire.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace shub::ws {
namespace {

// A client frame: masked with a fixed key unless `masked` is false; `len_bytes` forces a
// (possibly non-minimal) length encoding: 0 = minimal, 2 or 8.
std::string client_frame(std::uint8_t first, std::string_view payload, bool masked = true,
                         int len_bytes = 0, std::uint64_t claimed = UINT64_MAX) {
  std::string f;
  f.push_back(static_cast<char>(first));
  const std::uint64_t len = claimed == UINT64_MAX ? payload.size() : claimed;
  const char mask_bit = masked ? static_cast<char>(0x80) : 0;
  if (len_bytes == 0) len_bytes = len < 126 ? 0 : len <= 0xFFFF ? 2 : 8;
  if (len_bytes == 0) {
    f.push_back(static_cast<char>(mask_bit | static_cast<char>(len)));
  } else if (len_bytes == 2) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(len >> 8));
    f.push_back(static_cast<char>(len));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back(static_cast<char>(len >> shift));
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(payload[i] ^ (masked ? key[i % 4] : 0)));
  return f;
}

std::string text(std::string_view p, bool fin = true) {
  return client_frame(fin ? 0x81 : 0x01, p);
}
std::string cont(std::string_view p, bool fin = true) {
  return client_frame(fin ? 0x80 : 0x00, p);
}
std::string close_frame(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code));
  p.append(reason);
  return client_frame(0x88, p);
}

struct recorder final : frame_sink {
  std::vector<std::string> events;
  bool stop_after_close = true;
  bool on_message(opcode op, std::string_view p) override {
    events.push_back((op == opcode::text ? "text:" : "binary:") + std::string(p));
    return true;
  }
  bool on_ping(std::string_view p) override {
    events.push_back("ping:" + std::string(p));
    return true;
  }
  bool on_pong(std::string_view p) override {
    events.push_back("pong:" + std::string(p));
    return true;
  }
  bool on_close(std::uint16_t code, std::string_view reason) override {
    events.push_back("close:" + std::to_string(code) + ":" + std::string(reason));
    return !stop_after_close;
  }
};

struct outcome {
  std::vector<std::string> events;
  std::optional<violation> error;
};

// Feeds `bytes` in pieces of `piece` bytes (0: all at once).
outcome parse(std::string bytes, std::size_t piece = 0, std::uint64_t max = 4096) {
  frame_parser p(max);
  recorder r;
  outcome o;
  if (piece == 0) piece = bytes.size();
  for (std::size_t at = 0; at < bytes.size() && !o.error; at += piece) {
    const std::size_t n = std::min(piece, bytes.size() - at);
    o.error = p.feed(bytes.data() + at, n, r);
  }
  o.events = r.events;
  return o;
}

std::uint16_t refusal(std::string bytes, std::uint64_t max = 4096) {
  const auto whole = parse(bytes, 0, max);
  const auto bytewise = parse(bytes, 1, max);
  EXPECT_EQ(whole.error.has_value(), bytewise.error.has_value());
  if (!whole.error || !bytewise.error) return 0;
  EXPECT_EQ(whole.error->code, bytewise.error->code) << whole.error->reason;
  EXPECT_FALSE(whole.error->reason.empty());
  return whole.error->code;
}

TEST(WsHandshake, AcceptKeyIsTheRfcExample) {
  // RFC 6455 §1.3.
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsHandshake, FieldsAreChecked) {
  const std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==";
  EXPECT_EQ(check_handshake("h", key, "13", true, true).status, 0);
  EXPECT_EQ(check_handshake("", key, "13", true, true).status, 400);
  EXPECT_EQ(check_handshake("h", key, "", true, false).status, 426);
  EXPECT_EQ(check_handshake("h", key, "8", true, true).status, 426);
  EXPECT_EQ(check_handshake("h", key, "13, 8", true, true).status, 426);
  EXPECT_EQ(check_handshake("h", "", "13", false, true).status, 400);
  EXPECT_EQ(check_handshake("h", "", "13", true, true).status, 400);
  EXPECT_EQ(check_handshake("h", "dGhlIHNhbXBsZSBub25jZQ=", "13", true, true).status, 400);
  EXPECT_EQ(check_handshake("h", "dGhlIHNhbXBsZSBub25jZ===", "13", true, true).status, 400);
  EXPECT_EQ(check_handshake("h", "dGhlIHNhbXBsZSBub25j!Q==", "13", true, true).status, 400);
  EXPECT_EQ(check_handshake("h", "dGhlIHNhbXBsZSBub25jZQ==x", "13", true, true).status, 400);
}

TEST(WsEncode, LengthsUseTheShortestForm) {
  EXPECT_EQ(encode(opcode::text, "").size(), 2u);
  EXPECT_EQ(encode(opcode::text, std::string(125, 'a')).size(), 127u);
  const auto f126 = encode(opcode::text, std::string(126, 'a'));
  EXPECT_EQ(f126.size(), 126u + 4);
  EXPECT_EQ(static_cast<std::uint8_t>(f126[1]), 126);
  EXPECT_EQ(encode(opcode::text, std::string(65535, 'a')).size(), 65535u + 4);
  const auto f64k = encode(opcode::binary, std::string(65536, 'a'));
  EXPECT_EQ(f64k.size(), 65536u + 10);
  EXPECT_EQ(static_cast<std::uint8_t>(f64k[0]), 0x82);
  EXPECT_EQ(static_cast<std::uint8_t>(f64k[1]), 127);
  const auto ping = encode(opcode::ping, {});
  EXPECT_EQ(ping, std::string("\x89\x00", 2));
}

TEST(WsEncode, CloseReasonIsCutOnACharacterBoundary) {
  const auto p = close_payload(4009, "slow consumer");
  EXPECT_EQ(p, std::string("\x0f\xa9slow consumer", 15));
  std::string reason(121, 'a');
  reason += "\xc3\xa9\xc3\xa9";  // é é: byte 123 falls inside the second
  const auto cut = close_payload(1000, reason);
  EXPECT_EQ(cut.size(), 2u + 123);
  EXPECT_TRUE(valid_utf8(cut.substr(2)));
  std::string longer(122, 'a');
  longer += "\xc3\xa9";  // é would end at byte 124
  EXPECT_EQ(close_payload(1000, longer).size(), 2u + 122);
}

TEST(WsUtf8, AcceptsValidAndRefusesEveryKindOfInvalid) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));                      // U+10FFFF
  EXPECT_TRUE(valid_utf8("\xed\x9f\xbf"));                          // U+D7FF
  EXPECT_FALSE(valid_utf8("\x80"));                                 // lone continuation
  EXPECT_FALSE(valid_utf8("\xc0\x80"));                             // overlong NUL
  EXPECT_FALSE(valid_utf8("\xc1\xbf"));                             // overlong
  EXPECT_FALSE(valid_utf8("\xe0\x80\x80"));                         // overlong 3-byte
  EXPECT_FALSE(valid_utf8("\xf0\x80\x80\x80"));                     // overlong 4-byte
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));                         // surrogate U+D800
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));                     // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xff"));
  EXPECT_FALSE(valid_utf8("\xc3"));      // cut short
  EXPECT_FALSE(valid_utf8("\xe2\x82"));  // cut short
}

TEST(WsUtf8, SequencesMayArriveInPieces) {
  utf8_validator v;
  EXPECT_TRUE(v.feed("\xf0\x9f"));
  EXPECT_FALSE(v.complete());
  EXPECT_TRUE(v.feed("\x98"));
  EXPECT_TRUE(v.feed("\x80"));
  EXPECT_TRUE(v.complete());
  utf8_validator w;
  EXPECT_TRUE(w.feed("\xed"));
  EXPECT_FALSE(w.feed("\xa0"));  // a surrogate, refused at its second byte
}

TEST(WsParser, AWholeTextFrameInAnyPieces) {
  const std::string f = text(R"({"type":"auth","token":"x"})");
  for (std::size_t piece : {0u, 1u, 2u, 3u, 7u}) {
    const auto o = parse(f, piece);
    ASSERT_FALSE(o.error) << piece;
    ASSERT_EQ(o.events.size(), 1u);
    EXPECT_EQ(o.events[0], R"(text:{"type":"auth","token":"x"})");
  }
}

TEST(WsParser, ManyFramesInOneRead) {
  const auto o = parse(text("a") + text("") + client_frame(0x82, "\x01\x02") + text("b"));
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.events, (std::vector<std::string>{"text:a", "text:", "binary:\x01\x02", "text:b"}));
}

TEST(WsParser, LongLengthsAndLongFrames) {
  const std::string big(3000, 'x');
  for (std::size_t piece : {0u, 1u, 1000u}) {
    const auto o = parse(text(big), piece);
    ASSERT_FALSE(o.error);
    ASSERT_EQ(o.events.size(), 1u);
    EXPECT_EQ(o.events[0], "text:" + big);
  }
  EXPECT_EQ(parse(client_frame(0x81, std::string(70000, 'y')), 0, 100000).events.size(), 1u);
}

TEST(WsParser, FragmentsWithControlFramesBetween) {
  const std::string bytes = text("he", false) + client_frame(0x89, "p") + cont("ll", false) +
                            client_frame(0x8A, "q") + cont("o");
  for (std::size_t piece : {0u, 1u, 5u}) {
    const auto o = parse(bytes, piece);
    ASSERT_FALSE(o.error);
    EXPECT_EQ(o.events, (std::vector<std::string>{"ping:p", "pong:q", "text:hello"}));
  }
}

TEST(WsParser, Utf8SplitAcrossFragmentsIsFine) {
  const auto o = parse(text("\xe2", false) + cont("\x82", false) + cont("\xac"));
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.events, std::vector<std::string>{"text:\xe2\x82\xac"});
}

TEST(WsParser, InvalidUtf8Is1007EvenSplitAcrossFragments) {
  EXPECT_EQ(refusal(text("\xc0\x80")), code::invalid_payload);
  EXPECT_EQ(refusal(text("ok\xff")), code::invalid_payload);
  EXPECT_EQ(refusal(text("\xed", false) + cont("\xa0\x80")), code::invalid_payload);
  EXPECT_EQ(refusal(text("\xe2\x82", false) + cont("")), code::invalid_payload);  // ends early
  EXPECT_EQ(refusal(text("\xe2\x82")), code::invalid_payload);
  // Refused at the bad byte, before the message's end arrives.
  const auto o = parse(text("\xff", false));
  ASSERT_TRUE(o.error);
  EXPECT_EQ(o.error->code, code::invalid_payload);
  // Binary messages are not UTF-8 checked.
  EXPECT_FALSE(parse(client_frame(0x82, "\xff\xfe")).error);
}

TEST(WsParser, ProtocolViolationsAre1002) {
  EXPECT_EQ(refusal(client_frame(0x81, "x", false)), code::protocol_error);  // unmasked
  for (std::uint8_t rsv : {0x40, 0x20, 0x10, 0x70})
    EXPECT_EQ(refusal(client_frame(0x81 | rsv, "x")), code::protocol_error) << int(rsv);
  for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF})
    EXPECT_EQ(refusal(client_frame(0x80 | op, "x")), code::protocol_error) << int(op);
  EXPECT_EQ(refusal(client_frame(0x09, "x")), code::protocol_error);  // fragmented ping
  EXPECT_EQ(refusal(client_frame(0x08, "")), code::protocol_error);   // fragmented close
  EXPECT_EQ(refusal(client_frame(0x89, std::string(126, 'p'))), code::protocol_error);
  EXPECT_EQ(refusal(client_frame(0x8A, std::string(126, 'p'))), code::protocol_error);
  EXPECT_EQ(refusal(cont("x")), code::protocol_error);  // continuation without a message
  EXPECT_EQ(refusal(text("a", false) + text("b")), code::protocol_error);
  EXPECT_EQ(refusal(text("a", false) + client_frame(0x82, "b")), code::protocol_error);
  EXPECT_EQ(refusal(client_frame(0x81, "short", true, 2)), code::protocol_error);  // non-minimal
  EXPECT_EQ(refusal(client_frame(0x81, std::string(200, 'a'), true, 8)), code::protocol_error);
  EXPECT_EQ(refusal(client_frame(0x81, "", true, 8, 1ull << 63)), code::protocol_error);
  EXPECT_EQ(refusal(client_frame(0x81, "", true, 8, ~0ull)), code::protocol_error);
}

TEST(WsParser, TooBigIs1009BeforeThePayloadArrives) {
  EXPECT_EQ(refusal(client_frame(0x81, "", true, 2, 5000)), code::too_big);
  EXPECT_EQ(refusal(client_frame(0x81, "", true, 8, 1ull << 40)), code::too_big);
  // A message too big in total, each fragment small.
  EXPECT_EQ(refusal(text(std::string(60, 'a'), false) + cont(std::string(60, 'a')), 100),
            code::too_big);
  EXPECT_FALSE(parse(text(std::string(50, 'a'), false) + cont(std::string(50, 'a')), 0, 100).error);
}

TEST(WsParser, CloseFrames) {
  EXPECT_EQ(parse(close_frame(1000, "bye")).events, std::vector<std::string>{"close:1000:bye"});
  EXPECT_EQ(parse(close_frame(3000)).events, std::vector<std::string>{"close:3000:"});
  EXPECT_EQ(parse(close_frame(4999)).events, std::vector<std::string>{"close:4999:"});
  EXPECT_EQ(parse(client_frame(0x88, "")).events, std::vector<std::string>{"close:1005:"});
  EXPECT_EQ(refusal(client_frame(0x88, "\x03")), code::protocol_error);  // one byte
  for (std::uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535})
    EXPECT_EQ(refusal(close_frame(bad)), code::protocol_error) << bad;
  EXPECT_EQ(refusal(close_frame(1000, "\xff")), code::invalid_payload);
}

TEST(WsParser, ASinkThatStopsEndsParsing) {
  const auto o = parse(close_frame(1000) + text("after"));
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.events, std::vector<std::string>{"close:1000:"});
}

TEST(WsParser, HoldsNothingBetweenMessages) {
  frame_parser p(4096);
  recorder r;
  std::string bytes = text("ab", false);
  ASSERT_FALSE(p.feed(bytes.data(), bytes.size(), r));
  EXPECT_EQ(p.buffered(), 2u);
  bytes = cont("cd");
  ASSERT_FALSE(p.feed(bytes.data(), bytes.size(), r));
  EXPECT_EQ(p.buffered(), 0u);
  EXPECT_EQ(r.events, std::vector<std::string>{"text:abcd"});
}

}  // namespace
}  // namespace shub::ws
