// harness_ws: one browser tab as a WebSocket client (subprotocol sessionhub.v1) with its own
// I/O thread: it keeps every frame it gets and the close code, so a test can wait for a
// frame type or an event with a deadline.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "harness.hpp"
#include "tls_client.hpp"

namespace shub::itest {

// One browser tab: a WebSocket with its own I/O thread.
class ws_tab {
 public:
  // Connects (handshake done) or throws with the reason, e.g. the HTTP status on refusal.
  explicit ws_tab(int port, std::string origin = test_origin, std::string cookie = {},
                  int recv_buffer_bytes = 0);
  // Over TLS (WSS), verifying the hub against `tls.ca_file`.
  ws_tab(int port, const tls_client_options& tls, std::string origin = test_origin,
         std::string cookie = {}, int recv_buffer_bytes = 0);
  ~ws_tab();
  ws_tab(const ws_tab&) = delete;
  ws_tab& operator=(const ws_tab&) = delete;

  void send(const std::string& text);
  void send_binary(const std::string& bytes);
  void auth(const std::string& token) { send(R"({"type":"auth","token":")" + token + "\"}"); }
  // The next frame within `timeout`, parsed; nullopt when none came.
  std::optional<json> next(std::chrono::milliseconds timeout = 2s);
  // Frames until one whose "type" (and, for events, "event") matches; nullopt on timeout.
  std::optional<json> wait_event(const std::string& event, std::chrono::milliseconds timeout = 2s);
  std::optional<json> wait_type(const std::string& type, std::chrono::milliseconds timeout = 2s);
  // The close code the hub sent, waiting up to `timeout`; 0 if still open, -1 if dropped.
  int close_code(std::chrono::milliseconds timeout = 2s);
  std::string close_reason();
  // Stops reading, answering pings included, with the TCP connection left open (a tab
  // whose page froze, or a reader that cannot keep up).
  void stall();
  [[nodiscard]] std::size_t pending();
  [[nodiscard]] std::chrono::steady_clock::time_point last_frame_at();
  // What the TLS handshake agreed on (WSS tabs only).
  [[nodiscard]] std::optional<tls_session_info> tls_session() const;

  struct impl;  // what every tab keeps; harness_ws.cpp derives one per transport

 private:
  std::unique_ptr<impl> impl_;
};

// A tab that authenticated and got `ready`.
std::unique_ptr<ws_tab> authed_tab(int port, const std::string& token);

}  // namespace shub::itest
