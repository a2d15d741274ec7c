// redis_server: a real redis-server for a test, on a free loopback port in a temporary
// directory, without persistence. It can be stopped and started again on the same port (to
// test recovery), and is killed when the object goes.
#pragma once

#include <string>
#include <vector>

namespace shub::testing {

class redis_server {
 public:
  // Starts it (and waits for PING); `extra` are more redis-server flags, e.g.
  // {"--requirepass", "secret"}. Throws std::runtime_error when it does not come up.
  explicit redis_server(std::vector<std::string> extra = {});
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  [[nodiscard]] int port() const { return port_; }
  // redis://127.0.0.1:<port>/<db>
  [[nodiscard]] std::string url(int db = 0) const;
  // SIGTERM (SIGKILL after 5 s); the port stays this server's for start().
  void stop();
  void start();
  // SIGSTOP / SIGCONT: a server that holds its connections and answers nothing.
  void pause();
  void resume();
  // One command through hiredis (password given with --requirepass is used); the reply as
  // text: a string, an integer in decimal, "(nil)", "ERR ..." for an error, or the
  // elements of an array joined by '\n'.
  std::string command(const std::vector<std::string>& args, int db = 0);

 private:
  std::vector<std::string> extra_;
  std::string dir_, password_;
  int port_ = 0;
  int pid_ = -1;
};

}  // namespace shub::testing
