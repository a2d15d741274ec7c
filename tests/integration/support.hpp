// support: what the integration tests need to drive the real binary over real sockets —
// a hub process (its stdout JSON log kept for assertions), one-shot HTTP calls, and browser
// tabs as WebSocket clients that collect every frame and the close code.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

namespace shub::it {

using namespace std::chrono_literals;
using json = rapidjson::Document;

inline constexpr const char* test_origin = "http://app.example.test";
inline constexpr const char* api_key = "it-api-key";

class hub_process {
 public:
  // Starts the binary with the defaults below plus `extra` (later flags win over earlier
  // ones only where the option is repeatable; pass overrides instead of duplicates).
  explicit hub_process(std::vector<std::string> extra = {}, bool with_users = false);
  ~hub_process();
  hub_process(const hub_process&) = delete;
  hub_process& operator=(const hub_process&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  // Waits for a log line containing `needle`.
  [[nodiscard]] bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout);
  [[nodiscard]] std::string log_text();
  // SIGTERM and wait; the exit status (or -1).
  int terminate();

 private:
  std::string dir_;
  int pid_ = -1;
  int port_ = 0;
  int out_fd_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string log_;
  bool exited_ = false;
};

struct http_result {
  int status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;
  [[nodiscard]] json parse() const;
};

http_result http(int port, const std::string& method, const std::string& target,
                 const std::string& body = {},
                 const std::vector<std::pair<std::string, std::string>>& headers = {});

struct session_tokens {
  std::string sid, sub, access_token, refresh_token;
};
// POST /v1/sessions with the test API key.
session_tokens create_session(int port, const std::string& sub, const std::string& extra_json = {});

// One browser tab: a WebSocket with its own I/O thread.
class ws_tab {
 public:
  // Connects (handshake done) or throws with the reason, e.g. the HTTP status on refusal.
  ws_tab(int port, std::string origin = test_origin, std::string cookie = {},
         int recv_buffer_bytes = 0);
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

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A tab that authenticated and got `ready`.
std::unique_ptr<ws_tab> authed_tab(int port, const std::string& token);

// The user's password hash from `sessionhub hash-password`.
std::string hash_password(const std::string& password);

}  // namespace shub::it
