// harness: the pieces every black-box test of the hub needs, and nothing about any one
// endpoint. A `hub_process` runs the real binary (its own process group, its own temp
// directory, stdout and stderr kept line by line so a test can wait for a log line); an
// `http_client` speaks HTTP/1.1 to it over a real loopback socket with a deadline on every
// exchange, so a hung server fails a test instead of hanging it; the cookie helpers read
// Set-Cookie headers the way a browser's jar would. Protocol shortcuts (login, refresh, ...)
// live in hub_api.hpp so that WebSocket and cluster tests can reuse this file unchanged.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

namespace shub::itest {

using namespace std::chrono_literals;
using json = rapidjson::Document;
using header_list = std::vector<std::pair<std::string, std::string>>;

// The browser origin and server API key every hub gets by default.
inline constexpr const char* test_origin = "http://app.example.test";
inline constexpr const char* test_api_key = "test-api-key";

// A directory made with mkdtemp under /tmp and removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A users-file hash of `password` from `SESSIONHUB_BINARY hash-password` (cached per password).
[[nodiscard]] std::string hash_password(const std::string& password);

struct hub_options {
  // Flags after the defaults. A flag named here (`--x v` or `--x=v`) replaces that default.
  std::vector<std::string> args;
  // Default flags to leave out entirely, e.g. "--users-file" for a hub without login.
  std::vector<std::string> omit;
  // Extra environment entries, "NAME=value".
  std::vector<std::string> env;
  // Sanitizer builds start slowly.
  std::chrono::milliseconds start_timeout = 20s;
};

[[nodiscard]] inline hub_options with_args(std::vector<std::string> args) {
  hub_options options;
  options.args = std::move(args);
  return options;
}

// The real binary. Default flags: --listen 127.0.0.1:0, --store sqlite:<dir>/hub.db,
// --api-key test-api-key, --users-file <dir>/users (alice/wonderland, bob/builder),
// --allowed-origin http://app.example.test. The constructor returns once the hub logged
// `"msg":"listening"` with its port, and throws with everything it printed otherwise.
class hub_process {
 public:
  explicit hub_process(hub_options options = {});
  explicit hub_process(std::vector<std::string> args) : hub_process(with_args(std::move(args))) {}
  ~hub_process();
  hub_process(const hub_process&) = delete;
  hub_process& operator=(const hub_process&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int pid() const { return pid_; }
  [[nodiscard]] const std::string& dir() const { return dir_.path(); }
  // The first stdout line (already printed or yet to come) that satisfies `pred`.
  [[nodiscard]] std::optional<std::string> wait_for_log(
      const std::function<bool(std::string_view)>& pred, std::chrono::milliseconds timeout);
  // As wait_for_log, for a JSON log line whose string field `msg` equals `msg`.
  [[nodiscard]] std::optional<json> wait_for_log_msg(std::string_view msg,
                                                     std::chrono::milliseconds timeout);
  [[nodiscard]] std::vector<std::string> stdout_lines();
  [[nodiscard]] std::vector<std::string> stderr_lines();
  // Both streams, labelled, for failure messages.
  [[nodiscard]] std::string output();
  [[nodiscard]] bool running();
  // SIGTERM, then waits up to `timeout`. The exit code (>= 0), or minus the signal that
  // ended the process; a hub still alive at the deadline is killed and gives -SIGKILL.
  int terminate(std::chrono::milliseconds timeout = 20s);
  // SIGKILL to the whole process group; returns as terminate().
  int kill9();

 private:
  struct line {
    bool is_stderr;
    std::string text;
  };
  void read_output();
  void stop();  // kill if running, collect the output thread, close the pipes
  bool reap(bool block);
  int wait_exit(std::chrono::milliseconds timeout);
  [[nodiscard]] int exit_value() const;

  temp_dir dir_;
  int pid_ = -1;
  int port_ = 0;
  int out_fd_ = -1, err_fd_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<line> lines_;
  bool output_closed_ = false;
  bool exited_ = false;
  int status_ = 0;
};

// Reads a hub's JSON log lines in order, each at most once, for a test that sends one bad
// input after another to the same hub and wants each one's own line: next() finds the first
// line with that msg after the last one found, and later lines are left for the next call.
class log_cursor {
 public:
  // Starts after the lines the hub has printed so far.
  explicit log_cursor(hub_process& hub);
  [[nodiscard]] std::optional<json> next(std::string_view msg,
                                         std::chrono::milliseconds timeout = 3s);
  // As next(msg), for the first such line whose string `field` contains `text` (lines of
  // that msg before it are passed over).
  [[nodiscard]] std::optional<json> next(std::string_view msg, std::string_view field,
                                         std::string_view text,
                                         std::chrono::milliseconds timeout = 3s);
  // Forgets what is unread: the next call looks only at lines printed from now on.
  void skip_to_end();

 private:
  hub_process& hub_;
  std::size_t next_line_ = 0;  // index among the stdout lines
};

struct http_response {
  int status = 0;
  header_list headers;  // in arrival order; a name may repeat (Set-Cookie)
  std::string body;

  // First value of header `name` (case-insensitive).
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> headers_named(std::string_view name) const;
  // The body parsed as JSON; check IsObject() — a parse error leaves it neither object nor array.
  [[nodiscard]] json json_body() const;
  // "status <n> <headers> <body>" for assertion messages.
  [[nodiscard]] std::string describe() const;
};

// HTTP/1.1 to 127.0.0.1:<port>. Without keep-alive every request has its own connection and
// says `Connection: close`; with it, one connection is reused (and redialled when the server
// closed it). Every request is bounded by `timeout`; a timeout or socket error throws.
class http_client {
 public:
  explicit http_client(int port, bool keep_alive = false, std::chrono::milliseconds timeout = 10s);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  http_response request(std::string_view method, std::string_view target,
                        const header_list& headers = {}, std::string body = {});

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// One request on its own connection.
http_response http_request(int port, std::string_view method, std::string_view target,
                           const header_list& headers = {}, std::string body = {});

// JSON text → Document (see http_response::json_body).
[[nodiscard]] json parse_json(std::string_view text);
// Member `key` of `v` when `v` is an object holding one of that type.
[[nodiscard]] std::optional<std::string> json_string(const rapidjson::Value& v, const char* key);
[[nodiscard]] std::optional<std::int64_t> json_int(const rapidjson::Value& v, const char* key);
[[nodiscard]] std::optional<bool> json_bool(const rapidjson::Value& v, const char* key);
[[nodiscard]] std::string to_text(const rapidjson::Value& v);

// One Set-Cookie header.
struct set_cookie {
  std::string name, value;
  header_list attributes;  // as sent; flag attributes (HttpOnly) have an empty value

  [[nodiscard]] bool has(std::string_view attribute) const;  // case-insensitive
  [[nodiscard]] std::optional<std::string> attribute(std::string_view attribute) const;
  [[nodiscard]] std::string path() const;  // "" without a Path attribute
  [[nodiscard]] std::optional<std::int64_t> max_age() const;
};

[[nodiscard]] std::optional<set_cookie> parse_set_cookie(std::string_view header_value);
[[nodiscard]] std::vector<set_cookie> set_cookies(const http_response& response);
// Every Set-Cookie named `name` (and with Path `path`, when given).
[[nodiscard]] std::vector<set_cookie> find_set_cookies(const http_response& response,
                                                       std::string_view name,
                                                       std::optional<std::string_view> path = {});
// The only Set-Cookie named `name` with Path `path`; nullopt when none or several.
[[nodiscard]] std::optional<set_cookie> find_set_cookie(const http_response& response,
                                                        std::string_view name,
                                                        std::string_view path);
// A Cookie request header: {"Cookie", "a=1; b=2"}.
[[nodiscard]] std::pair<std::string, std::string> cookie_header(const header_list& cookies);

// Case-insensitive ASCII comparison and search, for header names and values.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);
[[nodiscard]] bool icontains(std::string_view haystack, std::string_view needle);

}  // namespace shub::itest
