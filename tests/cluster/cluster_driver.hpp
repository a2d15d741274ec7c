// cluster_driver: scripts/cluster.sh's topology (Redis, three replicas, HAProxy) for the
// cluster tests, on free loopback ports in a temporary state dir. It runs the script itself
// (up, kill, stop, start, down), reads the cluster.env it writes, and pauses processes with
// SIGSTOP/SIGCONT for the lost-message tests. Every replica uses the harness's API key and
// allowed origin, so hub_api's one-liners work against any of them or against HAProxy.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace shub::ctest {

class cluster_driver {
 public:
  // `up` with these extra flags for every replica; throws with the script's output and the
  // components' logs when it does not come up.
  explicit cluster_driver(std::vector<std::string> hub_args);
  ~cluster_driver();  // `down`, and SIGKILL for anything still running
  cluster_driver(const cluster_driver&) = delete;
  cluster_driver& operator=(const cluster_driver&) = delete;

  // cluster.sh <args...>: its exit status; `output` gets stdout and stderr.
  int run(const std::vector<std::string>& args, std::string* output = nullptr);
  // As run, throwing std::runtime_error with the output unless it exits 0.
  void must(const std::vector<std::string>& args);

  // A value of cluster.env (throws when missing).
  [[nodiscard]] std::string env(const std::string& key) const;
  [[nodiscard]] int front_port() const { return base_; }
  [[nodiscard]] int hub_port(int n) const { return base_ + n; }
  [[nodiscard]] int redis_port() const { return base_ + 7; }
  [[nodiscard]] std::string store_url() const { return env("CLUSTER_STORE"); }
  [[nodiscard]] std::string signing_key() const { return env("CLUSTER_SIGNING_KEY"); }
  [[nodiscard]] const std::string& state_dir() const { return state_; }
  // The pid cluster.sh recorded for a component (redis, hub1..3, haproxy); -1 when none.
  [[nodiscard]] int pid(const std::string& component) const;
  // SIGSTOP / SIGCONT to a component's process group.
  void pause(const std::string& component);
  void resume(const std::string& component);
  // Lines of the replicas' logs where AddressSanitizer, LeakSanitizer or UBSan reported
  // something (a sanitizer build's replicas print there, also when they exit).
  [[nodiscard]] std::string sanitizer_reports() const;
  // The last lines of every component's log, for failure messages.
  [[nodiscard]] std::string logs_tail(int lines = 30) const;

 private:
  void load_env();

  std::string state_;
  std::string hub_args_;
  int base_ = 0;
  std::map<std::string, std::string> env_;
};

}  // namespace shub::ctest
