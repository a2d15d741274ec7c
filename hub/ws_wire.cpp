// ws_wire: RFC 6455 framing for the server side. See ws_wire.hpp.
#include "ws_wire.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "auth/crypto.hpp"

namespace shub::ws {

namespace {

constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_control(opcode op) {
  return static_cast<std::uint8_t>(op) >= 0x8;
}

bool known_opcode(std::uint8_t op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

std::size_t header_size(std::uint8_t second_byte) {
  const std::uint8_t len7 = second_byte & 0x7F;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;  // client frames carry a mask
}

void unmask(char* p, std::size_t n, const std::uint8_t (&mask)[4], std::uint8_t& at) {
  // Word at a time once aligned to the mask: a 1 KiB token frame is 128 steps, not 1024.
  std::size_t i = 0;
  while (i < n && at != 0) {
    p[i++] ^= static_cast<char>(mask[at]);
    at = (at + 1) & 3;
  }
  if (n - i >= 8) {
    std::uint64_t m8 = 0;
    std::uint8_t bytes[8];
    for (int k = 0; k < 8; ++k)
      bytes[k] = mask[k & 3];
    std::memcpy(&m8, bytes, 8);
    for (; n - i >= 8; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      w ^= m8;
      std::memcpy(p + i, &w, 8);
    }
  }
  for (; i < n; ++i) {
    p[i] ^= static_cast<char>(mask[at]);
    at = (at + 1) & 3;
  }
}

}  // namespace

handshake_check check_handshake(std::string_view host, std::string_view key,
                                std::string_view version, bool has_key, bool has_version) {
  if (host.empty()) return {400, "the upgrade request has no Host"};
  if (!has_version) return {426, "the upgrade request has no Sec-WebSocket-Version"};
  if (version != "13") return {426, "only WebSocket version 13 is supported"};
  if (!has_key) return {400, "the upgrade request has no Sec-WebSocket-Key"};
  // 16 random bytes in base64: 22 characters and "==".
  unsigned char raw[24];
  if (key.size() != 24 || key.substr(22) != "==" || key.substr(0, 22).find('=') != key.npos ||
      EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(key.data()), 24) != 18) {
    return {400, "Sec-WebSocket-Key is not 16 bytes in base64"};
  }
  return {};
}

std::string accept_key(std::string_view client_key) {
  std::string in;
  in.reserve(client_key.size() + accept_guid.size());
  in.append(client_key).append(accept_guid);
  const std::string digest = auth::sha1(in);
  char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out),
                      reinterpret_cast<const unsigned char*>(digest.data()), SHA_DIGEST_LENGTH);
  return {out, static_cast<std::size_t>(n)};
}

void append(std::string& out, opcode op, std::string_view payload) {
  char h[max_server_header];
  std::size_t n = 0;
  h[n++] = static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
  const std::uint64_t len = payload.size();
  if (len < 126) {
    h[n++] = static_cast<char>(len);
  } else if (len <= 0xFFFF) {
    h[n++] = 126;
    h[n++] = static_cast<char>(len >> 8);
    h[n++] = static_cast<char>(len);
  } else {
    h[n++] = 127;
    for (int shift = 56; shift >= 0; shift -= 8)
      h[n++] = static_cast<char>(len >> shift);
  }
  out.append(h, n).append(payload);
}

std::string encode(opcode op, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + max_server_header);
  append(out, op, payload);
  return out;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::size_t n = std::min<std::size_t>(reason.size(), 123);
  // Never cut a character in two: back off over continuation bytes.
  while (n > 0 && n < reason.size() && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80)
    --n;
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason.substr(0, n));
  return out;
}

bool valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

bool utf8_validator::feed(std::string_view bytes) {
  // States: 0 accept; 1-3 that many continuation bytes due; 4 after E0 (A0-BF next),
  // 5 after ED (80-9F, no surrogates), 6 after F0 (90-BF), 7 after F4 (80-8F); 8 failed.
  std::uint8_t s = state_;
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p != end) {
    if (s == 0) {
      // JSON frames are mostly ASCII: skip it eight bytes at a time.
      while (end - p >= 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, p, sizeof word);
        if ((word & 0x8080808080808080ULL) != 0) break;
        p += 8;
      }
      if (p == end) break;
    }
    const auto b = static_cast<std::uint8_t>(*p++);
    switch (s) {
      case 0:
        if (b < 0x80) continue;
        if (b >= 0xC2 && b <= 0xDF) {
          s = 1;
        } else if (b == 0xE0) {
          s = 4;
        } else if (b == 0xED) {
          s = 5;
        } else if (b >= 0xE1 && b <= 0xEF) {
          s = 2;
        } else if (b == 0xF0) {
          s = 6;
        } else if (b >= 0xF1 && b <= 0xF3) {
          s = 3;
        } else if (b == 0xF4) {
          s = 7;
        } else {
          s = 8;
        }
        break;
      case 1:
      case 2:
      case 3:
        s = (b & 0xC0) == 0x80 ? s - 1 : 8;
        break;
      case 4:
        s = b >= 0xA0 && b <= 0xBF ? 1 : 8;
        break;
      case 5:
        s = b >= 0x80 && b <= 0x9F ? 1 : 8;
        break;
      case 6:
        s = b >= 0x90 && b <= 0xBF ? 2 : 8;
        break;
      case 7:
        s = b >= 0x80 && b <= 0x8F ? 2 : 8;
        break;
      default:
        break;
    }
    if (s == 8) break;
  }
  state_ = s;
  return s != 8;
}

bool valid_utf8(std::string_view bytes) {
  utf8_validator v;
  return v.feed(bytes) && v.complete();
}

std::optional<violation> frame_parser::start_frame(const std::uint8_t* h, std::uint64_t length) {
  fin_ = (h[0] & 0x80) != 0;
  frame_op_ = static_cast<opcode>(h[0] & 0x0F);
  const std::uint8_t len7 = h[1] & 0x7F;
  if (len7 == 126 && length < 126) return violation{code::protocol_error, "length not minimal"};
  if (len7 == 127 && length <= 0xFFFF) return violation{code::protocol_error, "length not minimal"};
  if (len7 == 127 && (length >> 63) != 0) {
    return violation{code::protocol_error, "length has its top bit set"};
  }
  if (is_control(frame_op_)) return std::nullopt;  // FIN and size checked on the first bytes
  if (frame_op_ == opcode::continuation) {
    if (message_op_ == opcode::continuation) {
      return violation{code::protocol_error, "continuation frame without a message"};
    }
  } else if (message_op_ != opcode::continuation) {
    return violation{code::protocol_error, "new message before the previous one ended"};
  } else {
    message_op_ = frame_op_;
    utf8_.reset();
  }
  if (length > max_message_ || message_.size() + length > max_message_) {
    return violation{code::too_big, "message too big"};
  }
  return std::nullopt;
}

std::optional<violation> frame_parser::take(char* p, std::size_t n, bool whole, frame_sink& sink,
                                            bool& stop) {
  if (is_control(frame_op_)) {
    if (whole) return end_frame({p, n}, sink, stop);
    control_.append(p, n);
    if (remaining_ > 0) return std::nullopt;
    std::string payload;
    payload.swap(control_);
    return end_frame(payload, sink, stop);
  }
  if (message_op_ == opcode::text && !utf8_.feed({p, n})) {
    return violation{code::invalid_payload, "text is not valid UTF-8"};
  }
  if (whole && fin_ && frame_op_ != opcode::continuation) {
    return end_frame({p, n}, sink, stop);  // the common case: no copy at all
  }
  message_.append(p, n);
  if (remaining_ > 0 || !fin_) return std::nullopt;
  std::string payload;
  payload.swap(message_);  // holds nothing once the message is out
  return end_frame(payload, sink, stop);
}

std::optional<violation> frame_parser::end_frame(std::string_view whole, frame_sink& sink,
                                                 bool& stop) {
  switch (frame_op_) {
    case opcode::ping:
      stop = !sink.on_ping(whole);
      return std::nullopt;
    case opcode::pong:
      stop = !sink.on_pong(whole);
      return std::nullopt;
    case opcode::close: {
      if (whole.empty()) {
        stop = !sink.on_close(code::no_status, {});
        return std::nullopt;
      }
      if (whole.size() == 1) return violation{code::protocol_error, "close payload of one byte"};
      const auto c = static_cast<std::uint16_t>((static_cast<std::uint8_t>(whole[0]) << 8) |
                                                static_cast<std::uint8_t>(whole[1]));
      if (!valid_close_code(c)) return violation{code::protocol_error, "invalid close code"};
      if (!valid_utf8(whole.substr(2))) {
        return violation{code::invalid_payload, "close reason is not valid UTF-8"};
      }
      stop = !sink.on_close(c, whole.substr(2));
      return std::nullopt;
    }
    default: {
      if (message_op_ == opcode::text && !utf8_.complete()) {
        return violation{code::invalid_payload, "text ends inside a UTF-8 character"};
      }
      const opcode op = message_op_;
      message_op_ = opcode::continuation;
      stop = !sink.on_message(op, whole);
      return std::nullopt;
    }
  }
}

std::optional<violation> frame_parser::feed(char* data, std::size_t size, frame_sink& sink) {
  std::size_t i = 0;
  bool stop = false;
  while (!stop && (i < size || (step_ == step::payload && remaining_ == 0))) {
    if (step_ == step::header) {
      while (header_have_ < 2 && i < size)
        header_[header_have_++] = static_cast<std::uint8_t>(data[i++]);
      if (header_have_ < 2) break;
      if (header_have_ == 2) {
        // Refuse on the first two bytes what they already show.
        const std::uint8_t b0 = header_[0], b1 = header_[1];
        if ((b0 & 0x70) != 0) return violation{code::protocol_error, "reserved bits set"};
        if (!known_opcode(b0 & 0x0F)) return violation{code::protocol_error, "unknown opcode"};
        if ((b1 & 0x80) == 0) return violation{code::protocol_error, "client frame not masked"};
        if ((b0 & 0x08) != 0) {
          if ((b0 & 0x80) == 0) return violation{code::protocol_error, "fragmented control frame"};
          if ((b1 & 0x7F) > 125) return violation{code::protocol_error, "control frame too long"};
        }
      }
      const std::size_t need = header_size(header_[1]);
      while (header_have_ < need && i < size)
        header_[header_have_++] = static_cast<std::uint8_t>(data[i++]);
      if (header_have_ < need) break;
      std::uint64_t length = header_[1] & 0x7F;
      std::size_t at = 2;
      if (length == 126 || length == 127) {
        const std::size_t bytes = length == 126 ? 2 : 8;
        length = 0;
        for (std::size_t k = 0; k < bytes; ++k)
          length = (length << 8) | header_[at++];
      }
      std::memcpy(mask_, header_ + at, 4);
      mask_at_ = 0;
      header_have_ = 0;
      if (auto v = start_frame(header_, length)) return v;
      remaining_ = length;
      frame_length_ = length;
      step_ = step::payload;
      continue;
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size - i));
    char* p = data + i;
    unmask(p, n, mask_, mask_at_);
    i += n;
    remaining_ -= n;
    const bool whole = n == frame_length_;
    if (remaining_ == 0) step_ = step::header;
    if (auto v = take(p, n, whole, sink, stop)) return v;
  }
  return std::nullopt;
}

}  // namespace shub::ws
