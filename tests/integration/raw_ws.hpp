// raw_ws: a WebSocket client that sends exactly the bytes a test gives it — for the wire
// itself (RFC 6455 violations, pipelined first frames, handshake fields), where a real
// client library would refuse to misbehave. Blocking POSIX sockets with a deadline on
// every read, so a hub that never answers fails the test instead of hanging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "harness.hpp"

namespace shub::itest {

// A blocking TCP socket connected to 127.0.0.1:`port`, TCP_NODELAY set; throws on failure.
[[nodiscard]] int connect_loopback(int port);
// Appends to `in` what arrives on the blocking socket `fd` before `deadline` (a deadline
// already past still looks once): true once some bytes came; false when the deadline passed
// first, or the connection ended (FIN or reset: then `ended` is set, and later calls return
// false at once).
bool recv_before(int fd, std::chrono::steady_clock::time_point deadline, std::string& in,
                 bool& ended);

struct raw_frame {
  std::uint8_t opcode = 0;
  bool fin = true;
  std::string payload;
  // For a close frame: its code (1005 when it had none).
  [[nodiscard]] int close_code() const;
};

class raw_ws {
 public:
  // Connects and sends `request` (then `pipelined`, in the same write); reads the answer's
  // head. `request` empty: a valid upgrade request for /v1/ws from test_origin.
  explicit raw_ws(int port, std::string request = {}, std::string_view pipelined = {});
  ~raw_ws();
  raw_ws(const raw_ws&) = delete;
  raw_ws& operator=(const raw_ws&) = delete;

  // A valid upgrade request with `extra` header lines ("Name: value\r\n" each) added and any
  // default header named in `without` ("sec-websocket-key", "origin", ...) left out.
  [[nodiscard]] static std::string request(std::string_view extra = {},
                                           std::initializer_list<std::string_view> without = {});
  // A client frame: `first` is FIN/RSV/opcode; masked unless told otherwise.
  [[nodiscard]] static std::string frame(std::uint8_t first, std::string_view payload,
                                         bool masked = true);

  [[nodiscard]] int status() const { return status_; }  // the answer's HTTP status
  [[nodiscard]] const std::string& head() const { return head_; }
  void send(std::string_view bytes);
  void send_text(std::string_view text) { send(frame(0x81, text)); }
  // The next frame within `timeout`; nullopt on timeout or when the connection ended.
  std::optional<raw_frame> next(std::chrono::milliseconds timeout = 2s);
  // Frames until a close frame: its code; -1 when the connection ended without one, 0 on
  // timeout.
  int close_code(std::chrono::milliseconds timeout = 2s);
  // Whether the hub closed the TCP connection within `timeout` (reading and dropping any
  // frames before the end).
  bool closed_by_hub(std::chrono::milliseconds timeout = 2s);

 private:
  // Appends at least one byte to in_ before the deadline; false on timeout or the end.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  int status_ = 0;
  bool ended_ = false;
  std::string head_;
  std::string in_;
};

}  // namespace shub::itest
