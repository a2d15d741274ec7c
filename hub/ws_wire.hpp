// ws_wire: the server side of RFC 6455 — the opening handshake's checks and answer, server
// frames (encoded once, written as they are to every connection) and an incremental parser
// of client frames with the RFC's checks: masking, reserved bits and opcodes, control frame
// limits, fragmentation order, minimal lengths, message size, close codes, and UTF-8
// validated as the bytes arrive (split sequences across fragments included). No
// extensions are negotiated, so every reserved bit must be clear.
//
// The parser never allocates for a message that arrives whole in one read: it unmasks the
// read buffer in place and hands out a view of it. Only a message split across reads or
// fragments is copied into the parser's own buffer, which holds nothing between messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shub::ws {

enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// RFC 6455 §7.4.1 codes the hub sends itself.
namespace code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;  // never sent: "the close had no code"
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy = 1008;
inline constexpr std::uint16_t too_big = 1009;
}  // namespace code

// The largest header a server frame needs: 2 + 8 bytes (no mask).
inline constexpr std::size_t max_server_header = 10;

// A client's opening handshake, as far as RFC 6455 §4.2.1 goes (the caller has checked the
// method, Upgrade and Connection). `status` 0: acceptable; else 400 or 426 with `reason`.
struct handshake_check {
  int status = 0;
  std::string_view reason;
};
[[nodiscard]] handshake_check check_handshake(std::string_view host, std::string_view key,
                                              std::string_view version, bool has_key,
                                              bool has_version);
// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
[[nodiscard]] std::string accept_key(std::string_view client_key);

// One whole server frame (FIN set, unmasked): header + payload.
[[nodiscard]] std::string encode(opcode op, std::string_view payload);
// Appends one to `out`.
void append(std::string& out, opcode op, std::string_view payload);
// A close frame's payload: the code, then the reason cut to fit 123 bytes on a UTF-8
// character boundary.
[[nodiscard]] std::string close_payload(std::uint16_t code, std::string_view reason);

// Whether a peer may send `code` in a close frame (RFC 6455 §7.4, IANA registry).
[[nodiscard]] bool valid_close_code(std::uint16_t code);

// Streaming UTF-8 validator (RFC 3629: no overlongs, no surrogates, nothing above
// U+10FFFF). Bytes may arrive in any pieces.
class utf8_validator {
 public:
  // False as soon as the bytes so far cannot begin valid UTF-8.
  [[nodiscard]] bool feed(std::string_view bytes);
  // True when the bytes so far end on a character boundary.
  [[nodiscard]] bool complete() const { return state_ == 0; }
  void reset() { state_ = 0; }

 private:
  std::uint8_t state_ = 0;
};
[[nodiscard]] bool valid_utf8(std::string_view bytes);

// Why the parser stopped: the close code to send and a short reason (logged, and sent as
// the close reason).
struct violation {
  std::uint16_t code = 0;
  std::string_view reason;
};

// What a parsed stream yields. Each returns false to stop parsing (the connection is
// closing); the views are valid during the call only.
class frame_sink {
 public:
  virtual bool on_message(opcode op, std::string_view payload) = 0;  // text or binary
  virtual bool on_ping(std::string_view payload) = 0;
  virtual bool on_pong(std::string_view payload) = 0;
  // `code` is code::no_status when the frame had no payload; both are already checked.
  virtual bool on_close(std::uint16_t code, std::string_view reason) = 0;

 protected:
  ~frame_sink() = default;
};

class frame_parser {
 public:
  explicit frame_parser(std::uint64_t max_message) : max_message_(max_message) {}

  // Parses `data` (unmasked in place, so it must be writable and the caller's to change).
  // Returns the violation that ended parsing, if any; after one, feed nothing more.
  std::optional<violation> feed(char* data, std::size_t size, frame_sink& sink);

  // Bytes held for a message still arriving (0 between messages).
  [[nodiscard]] std::size_t buffered() const { return message_.size() + control_.size(); }

 private:
  enum class step : std::uint8_t { header, payload };

  std::optional<violation> start_frame(const std::uint8_t* h, std::uint64_t length);
  // One piece of the current frame's payload, unmasked; `whole`: the entire payload.
  std::optional<violation> take(char* p, std::size_t n, bool whole, frame_sink& sink, bool& stop);
  std::optional<violation> end_frame(std::string_view whole, frame_sink& sink, bool& stop);

  std::uint64_t max_message_;
  std::string message_;             // a fragmented or split data message so far
  std::string control_;             // a control frame's payload split across reads
  std::uint64_t remaining_ = 0;     // of the current frame's payload
  std::uint64_t frame_length_ = 0;  // the current frame's whole payload
  utf8_validator utf8_;
  std::uint8_t header_[14] = {};
  std::uint8_t header_have_ = 0;
  std::uint8_t mask_[4] = {};
  std::uint8_t mask_at_ = 0;
  opcode frame_op_ = opcode::continuation;
  opcode message_op_ = opcode::continuation;  // continuation: no message in progress
  bool fin_ = false;
  step step_ = step::header;
};

}  // namespace shub::ws
