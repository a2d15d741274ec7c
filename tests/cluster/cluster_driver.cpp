// cluster_driver: runs scripts/cluster.sh with its settings in the environment and a
// bounded `timeout` around every call.
#include "cluster_driver.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "harness.hpp"

extern char** environ;

namespace shub::ctest {
namespace {

namespace fs = std::filesystem;

constexpr int ports_taken = 11;  // cluster.sh: base..base+8, origins base+9, base+10
constexpr const char* script_timeout_s = "240";

bool port_free(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A base port with base..base+10 free, below the usual ephemeral range (32768+).
int free_base() {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(20000 / ports_taken, 32000 / ports_taken);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = pick(rng) * ports_taken;
    bool all = true;
    for (int p = base; p < base + ports_taken && all; ++p)
      all = port_free(p);
    if (all) return base;
  }
  throw std::runtime_error("cluster_driver: no block of 11 free ports in 20000..32000");
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace

cluster_driver::cluster_driver(std::vector<std::string> hub_args) {
  char tmpl[] = "/tmp/shub-cluster.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("cluster_driver: mkdtemp failed");
  state_ = tmpl;
  // cluster.sh keeps credentials it finds: the harness's API key, so hub_api works as is.
  {
    std::ofstream key(state_ + "/api-key");
    key << itest::test_api_key;
  }
  fs::permissions(state_ + "/api-key", fs::perms::owner_read | fs::perms::owner_write);
  hub_args_ = join(hub_args);

  std::string output;
  for (int attempt = 0; attempt < 3; ++attempt) {
    base_ = free_base();
    if (run({"up"}, &output) == 0) {
      load_env();
      return;
    }
    // Another program may have taken a port between the check and `up`: try elsewhere.
    if (output.find("is in use") == std::string::npos) break;
  }
  const std::string logs = logs_tail();
  run({"down"});
  fs::remove_all(state_);
  throw std::runtime_error("cluster.sh up failed:\n" + output + logs);
}

cluster_driver::~cluster_driver() {
  std::string output;
  if (run({"down"}, &output) != 0) {
    // What down could not stop (or a paused process it waited on): SIGKILL the groups.
    for (const char* c : {"haproxy", "hub1", "hub2", "hub3", "redis"}) {
      const int p = pid(c);
      if (p > 0) {
        ::kill(-p, SIGCONT);
        ::kill(-p, SIGKILL);
      }
    }
  }
  std::error_code ec;
  fs::remove_all(state_, ec);
}

int cluster_driver::run(const std::vector<std::string>& args, std::string* output) {
  const std::string script = std::string(SESSIONHUB_SOURCE_DIR) + "/scripts/cluster.sh";
  std::vector<std::string> argv = {"timeout", "-k", "10", script_timeout_s, script};
  argv.insert(argv.end(), args.begin(), args.end());

  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("SESSIONHUB_", 0) != 0) envs.emplace_back(*e);
  }
  envs.push_back("SESSIONHUB_CLUSTER_DIR=" + state_);
  envs.push_back("SESSIONHUB_CLUSTER_PORT=" + std::to_string(base_));
  envs.push_back(std::string("SESSIONHUB_BINARY=") + SESSIONHUB_BINARY);
  envs.push_back("SESSIONHUB_CLUSTER_HUB_ARGS=" + hub_args_);
  envs.push_back(std::string("SESSIONHUB_CLUSTER_ORIGINS=") + itest::test_origin);
  envs.push_back("SESSIONHUB_CLUSTER_TIMEOUT=60");

  std::vector<char*> cargv, cenv;
  for (auto& a : argv)
    cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs)
    cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("cluster_driver: pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  pid_t child = -1;
  const int rc = ::posix_spawnp(&child, "timeout", &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    throw std::runtime_error("cluster_driver: cannot run timeout/cluster.sh");
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void cluster_driver::must(const std::vector<std::string>& args) {
  std::string output;
  const int rc = run(args, &output);
  if (rc != 0) {
    throw std::runtime_error("cluster.sh " + join(args) + " exited " + std::to_string(rc) + ":\n" +
                             output + logs_tail());
  }
}

void cluster_driver::load_env() {
  env_.clear();
  std::ifstream in(state_ + "/cluster.env");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
  }
}

std::string cluster_driver::env(const std::string& key) const {
  const auto it = env_.find(key);
  if (it == env_.end()) throw std::runtime_error("cluster.env has no " + key);
  return it->second;
}

int cluster_driver::pid(const std::string& component) const {
  const std::string text = read_file(state_ + "/pids/" + component + ".pid");
  try {
    return text.empty() ? -1 : std::stoi(text);
  } catch (const std::exception&) {
    return -1;
  }
}

void cluster_driver::pause(const std::string& component) {
  const int p = pid(component);
  if (p <= 0 || ::kill(-p, SIGSTOP) != 0) {
    throw std::runtime_error("cannot SIGSTOP " + component);
  }
}

void cluster_driver::resume(const std::string& component) {
  const int p = pid(component);
  if (p <= 0 || ::kill(-p, SIGCONT) != 0) {
    throw std::runtime_error("cannot SIGCONT " + component);
  }
}

std::string cluster_driver::sanitizer_reports() const {
  std::string out;
  for (const char* c : {"hub1", "hub2", "hub3"}) {
    std::istringstream in(read_file(state_ + "/logs/" + c + ".log"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("Sanitizer") != std::string::npos ||
          line.find("runtime error:") != std::string::npos) {
        out += std::string(c) + ": " + line + "\n";
      }
    }
  }
  return out;
}

std::string cluster_driver::logs_tail(int lines) const {
  std::string out;
  for (const char* c : {"redis", "hub1", "hub2", "hub3", "haproxy"}) {
    const std::string text = read_file(state_ + "/logs/" + c + ".log");
    std::size_t pos = text.size();
    for (int i = 0; i <= lines && pos > 0; ++i) {
      pos = text.rfind('\n', pos - 1);
      if (pos == std::string::npos) {
        pos = 0;
        break;
      }
    }
    out += "----- " + std::string(c) + ".log\n" + text.substr(pos) + "\n";
  }
  return out;
}

}  // namespace shub::ctest
