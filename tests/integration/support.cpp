// support: the hub process, HTTP calls and WebSocket tabs used by the integration tests.
#include "support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace shub::it {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;

namespace {

std::string run_capture(const std::string& cmd, const std::string& input) {
  const std::string in_file = std::filesystem::temp_directory_path() / "shub-it-input";
  {
    FILE* f = std::fopen(in_file.c_str(), "w");
    std::fputs(input.c_str(), f);
    std::fclose(f);
  }
  FILE* p = ::popen((cmd + " < " + in_file).c_str(), "r");
  std::string out;
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p))
    out += buf;
  if (p) ::pclose(p);
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

}  // namespace

std::string hash_password(const std::string& password) {
  return run_capture(std::string(SESSIONHUB_BINARY) + " hash-password", password + "\n");
}

hub_process::hub_process(std::vector<std::string> extra, bool with_users) {
  char tmpl[] = "/tmp/shub-it-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  // Defaults a test may override: a flag given in `extra` replaces its default here.
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"--listen", "127.0.0.1:0"},      {"--store", "sqlite:" + dir_ + "/hub.db"},
      {"--api-key", api_key},           {"--allowed-origin", test_origin},
      {"--login-rate-limit", "0"},      {"--refresh-rate-limit", "0"},
      {"--ws-connect-rate-limit", "0"}, {"--threads", "2"}};
  std::vector<std::string> args = {SESSIONHUB_BINARY};
  for (const auto& [flag, value] : defaults) {
    if (std::find(extra.begin(), extra.end(), flag) != extra.end()) continue;
    args.push_back(flag);
    args.push_back(value);
  }
  if (with_users) {
    const std::string users = dir_ + "/users";
    FILE* f = std::fopen(users.c_str(), "w");
    std::fprintf(f, "alice:%s\nbob:%s\n", hash_password("wonderland").c_str(),
                 hash_password("builder").c_str());
    std::fclose(f);
    args.push_back("--users-file");
    args.push_back(users);
  }
  args.insert(args.end(), extra.begin(), extra.end());

  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    ::setpgid(0, 0);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  out_fd_ = fds[0];
  reader_ = std::thread([this] {
    char buf[4096];
    while (true) {
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        exited_ = true;
        cv_.notify_all();
        return;
      }
      log_.append(buf, static_cast<std::size_t>(n));
      cv_.notify_all();
    }
  });
  // Sanitizer builds start slowly; 20 s is generous.
  if (!wait_for_log("\"msg\":\"listening\"", 20s)) {
    const std::string output = log_text();
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    reader_.join();  // the pipe closed with the process
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw std::runtime_error("the hub did not start:\n" + output);
  }
  std::smatch m;
  const std::string text = log_text();
  static const std::regex port_re("\"msg\":\"listening\"[^\\n]*\"port\":([0-9]+)");
  if (!std::regex_search(text, m, port_re)) throw std::runtime_error("no port in:\n" + text);
  port_ = std::stoi(m[1]);
}

hub_process::~hub_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();
  if (out_fd_ >= 0) ::close(out_fd_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool hub_process::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] {
    return log_.find(needle) != std::string::npos || exited_;
  }) && log_.find(needle) != std::string::npos;
}

std::string hub_process::log_text() {
  std::lock_guard lock(mutex_);
  return log_;
}

int hub_process::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 3000; ++i) {  // 30 s at most
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

json http_result::parse() const {
  json d;
  d.Parse(body.c_str());
  return d;
}

http_result http(int port, const std::string& method, const std::string& target,
                 const std::string& body,
                 const std::vector<std::pair<std::string, std::string>>& headers) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(10s);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                        static_cast<unsigned short>(port)));
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  for (const auto& [k, v] : headers)
    req.insert(k, v);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(stream, req);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.skip(method == "HEAD");  // a HEAD answer has a Content-Length but no body
  bhttp::read(stream, buf, parser);
  const auto& res = parser.get();
  http_result out;
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  for (const auto& f : res)
    out.headers.emplace(std::string(f.name_string()), std::string(f.value()));
  beast::error_code ec;
  stream.socket().shutdown(net::ip::tcp::socket::shutdown_both, ec);
  return out;
}

session_tokens create_session(int port, const std::string& sub, const std::string& extra_json) {
  const std::string body =
      "{\"sub\":\"" + sub + "\"" + (extra_json.empty() ? "" : "," + extra_json) + "}";
  const auto r = http(port, "POST", "/v1/sessions", body,
                      {{"Authorization", std::string("Bearer ") + api_key}});
  if (r.status != 201)
    throw std::runtime_error("create_session: " + std::to_string(r.status) + " " + r.body);
  const auto d = r.parse();
  return {d["session"]["sid"].GetString(), sub, d["access_token"].GetString(),
          d["refresh_token"].GetString()};
}

}  // namespace shub::it
