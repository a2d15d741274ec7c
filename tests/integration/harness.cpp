// harness (process half): the hub as a child process. posix_spawn rather than fork+exec
// because the test program has threads (the output reader, Asio) and only posix_spawn is
// safe there; the child gets its own process group so a kill reaches anything it started;
// every pipe is close-on-exec so one test's hub never inherits another's output.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

#include <gtest/gtest.h>

#include "harness.hpp"

extern char** environ;

namespace shub::itest {

namespace {

struct pipe_pair {
  int read = -1, write = -1;
  pipe_pair() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    read = fds[0];
    write = fds[1];
  }
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string flag_name(const std::string& arg) {
  return arg.substr(0, arg.find('='));
}

// Spawns `args` in a new process group with stdin from `stdin_fd` (or /dev/null) and
// stdout/stderr onto the given descriptors. Returns the pid.
int spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
          int stdin_fd, int stdout_fd, int stderr_fd) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    bool overridden = false;
    for (const auto& x : extra_env)
      overridden |= x.substr(0, x.find('=')) == entry.substr(0, entry.find('='));
    if (!overridden) env_strings.push_back(entry);
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> argv, envp;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env_strings)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd >= 0)
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  else
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(rc));
  return pid;
}

// Runs `args` to completion with `input` on stdin; its stdout.
std::string run_to_completion(const std::vector<std::string>& args, const std::string& input) {
  pipe_pair in, out;
  const int pid = spawn(args, {}, in.read, out.write, out.write);
  close_fd(in.read);
  close_fd(out.write);
  // A password is far smaller than a pipe buffer, so writing all first cannot deadlock.
  const ssize_t written = ::write(in.write, input.data(), input.size());
  close_fd(in.write);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = ::read(out.read, buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  close_fd(out.read);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (written != static_cast<ssize_t>(input.size()) || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0)
    throw std::runtime_error(args[0] + " failed: " + text);
  return text;
}

}  // namespace

temp_dir::temp_dir() {
  char tmpl[] = "/tmp/shub-itest-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string hash_password(const std::string& password) {
  static std::mutex mutex;
  static std::map<std::string, std::string> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(password); it != cache.end()) return it->second;
  std::string hash = run_to_completion({SESSIONHUB_BINARY, "hash-password"}, password + "\n");
  while (!hash.empty() && (hash.back() == '\n' || hash.back() == '\r'))
    hash.pop_back();
  if (hash.empty() || hash.find('\n') != std::string::npos)
    throw std::runtime_error("hash-password printed not one line: " + hash);
  return cache[password] = hash;
}

hub_process::hub_process(hub_options options) {
  const std::string users = dir() + "/users";
  {
    std::ofstream f(users);
    f << "alice:" << hash_password("wonderland") << "\nbob:" << hash_password("builder") << "\n";
  }
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"--listen", "127.0.0.1:0"},       {"--store", "sqlite:" + dir() + "/hub.db"},
      {"--api-key", test_api_key},       {"--users-file", users},
      {"--allowed-origin", test_origin},
  };
  std::vector<std::string> args = {SESSIONHUB_BINARY};
  for (const auto& [flag, value] : defaults) {
    bool skip = false;
    for (const auto& a : options.args)
      skip |= a.rfind("--", 0) == 0 && flag_name(a) == flag;
    for (const auto& o : options.omit)
      skip |= o == flag;
    if (skip) continue;
    args.push_back(flag);
    args.push_back(value);
  }
  args.insert(args.end(), options.args.begin(), options.args.end());

  pipe_pair out, err;
  pid_ = spawn(args, options.env, -1, out.write, err.write);
  close_fd(out.write);
  close_fd(err.write);
  out_fd_ = out.read;
  err_fd_ = err.read;
  reader_ = std::thread([this] { read_output(); });

  const auto listening = wait_for_log_msg("listening", options.start_timeout);
  const auto port = listening ? json_int(*listening, "port") : std::nullopt;
  if (!port || *port <= 0 || *port > 65535) {
    stop();  // the destructor does not run for a constructor that throws
    std::string command;
    for (const auto& a : args)
      command += a + " ";
    throw std::runtime_error("the hub did not log \"msg\":\"listening\" with a port\ncommand: " +
                             command + "\n" + output());
  }
  port_ = static_cast<int>(*port);
}

hub_process::~hub_process() {
  stop();
}

void hub_process::stop() {
  if (!exited_) kill9();
  if (reader_.joinable()) reader_.join();
  close_fd(out_fd_);
  close_fd(err_fd_);
  // In a sanitizer build a report ends the hub, perhaps after the test's last check: fail the
  // test here rather than let it pass unseen.
  for (const auto& l : stderr_lines())
    for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"})
      if (l.find(marker) != std::string::npos) {
        ADD_FAILURE() << "the hub reported a sanitizer error\n" << output();
        return;
      }
}

void hub_process::read_output() {
  std::string partial[2];
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  int open_streams = 2;
  while (open_streams > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        if (!partial[i].empty()) lines_.push_back({i == 1, std::move(partial[i])});
        fds[i].fd = -1;
        --open_streams;
      } else {
        partial[i].append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = partial[i].find('\n')) != std::string::npos;) {
          lines_.push_back({i == 1, partial[i].substr(0, nl)});
          partial[i].erase(0, nl + 1);
        }
      }
      cv_.notify_all();
    }
  }
  std::lock_guard lock(mutex_);
  output_closed_ = true;
  cv_.notify_all();
}

std::optional<std::string> hub_process::wait_for_log(
    const std::function<bool(std::string_view)>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  std::size_t next = 0;
  while (true) {
    for (; next < lines_.size(); ++next)
      if (!lines_[next].is_stderr && pred(lines_[next].text)) return lines_[next].text;
    if (output_closed_ || cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (; next < lines_.size(); ++next)
        if (!lines_[next].is_stderr && pred(lines_[next].text)) return lines_[next].text;
      return std::nullopt;
    }
  }
}

std::optional<json> hub_process::wait_for_log_msg(std::string_view msg,
                                                  std::chrono::milliseconds timeout) {
  const auto line = wait_for_log(
      [&](std::string_view text) {
        const json doc = parse_json(text);
        return doc.IsObject() && json_string(doc, "msg") == msg;
      },
      timeout);
  if (!line) return std::nullopt;
  return parse_json(*line);
}

std::vector<std::string> hub_process::stdout_lines() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& l : lines_)
    if (!l.is_stderr) out.push_back(l.text);
  return out;
}

std::vector<std::string> hub_process::stderr_lines() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& l : lines_)
    if (l.is_stderr) out.push_back(l.text);
  return out;
}

std::string hub_process::output() {
  std::lock_guard lock(mutex_);
  std::string text;
  for (const auto& l : lines_)
    text += (l.is_stderr ? "[stderr] " : "[stdout] ") + l.text + "\n";
  return text;
}

bool hub_process::reap(bool block) {
  if (exited_) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (r == pid_) {
    exited_ = true;
    status_ = status;
  }
  return exited_;
}

bool hub_process::running() {
  return !reap(false);
}

int hub_process::exit_value() const {
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
  return -1;
}

int hub_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(false) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  if (!exited_) {
    ::kill(-pid_, SIGKILL);
    reap(true);
  }
  return exit_value();
}

int hub_process::terminate(std::chrono::milliseconds timeout) {
  if (!exited_) ::kill(pid_, SIGTERM);
  return wait_exit(timeout);
}

log_cursor::log_cursor(hub_process& hub) : hub_(hub) {
  skip_to_end();
}

void log_cursor::skip_to_end() {
  next_line_ = hub_.stdout_lines().size();
}

std::optional<json> log_cursor::next(std::string_view msg, std::chrono::milliseconds timeout) {
  return next(msg, {}, {}, timeout);
}

std::optional<json> log_cursor::next(std::string_view msg, std::string_view field,
                                     std::string_view text, std::chrono::milliseconds timeout) {
  // wait_for_log offers every stdout line to the predicate once, in order, so counting the
  // calls gives each line's index.
  std::size_t index = 0, found = 0;
  const auto line = hub_.wait_for_log(
      [&](std::string_view line_text) {
        const std::size_t i = index++;
        if (i < next_line_) return false;
        const json doc = parse_json(line_text);
        if (!doc.IsObject() || json_string(doc, "msg") != msg) return false;
        if (!field.empty() &&
            json_string(doc, std::string(field).c_str()).value_or("").find(text) ==
                std::string::npos)
          return false;
        found = i;
        return true;
      },
      timeout);
  if (!line) return std::nullopt;
  next_line_ = found + 1;
  return parse_json(*line);
}

int hub_process::kill9() {
  if (!exited_) ::kill(-pid_, SIGKILL);
  return wait_exit(10s);
}

}  // namespace shub::itest
