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

#include "harness_ws.hpp"

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

using itest::authed_tab;
using itest::ws_tab;

// The user's password hash from `sessionhub hash-password`.
std::string hash_password(const std::string& password);

}  // namespace shub::it
