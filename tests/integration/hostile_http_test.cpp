// Abusive HTTP against the real hub over raw sockets: oversized request lines and headers,
// bodies over the limit, broken framing (Content-Length, chunked), NUL bytes and bare line
// feeds, pipelined garbage, path traversal on the static routes, a long keep-alive
// pipeline and a slowloris trickle. Each gets its answer (or its close) and the hub goes
// on serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace shub::itest {
namespace {

// A raw TCP client: sends bytes as given, reads what comes back.
class raw_tcp {
 public:
  explicit raw_tcp(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("connect failed");
  }
  ~raw_tcp() { ::close(fd_); }
  raw_tcp(const raw_tcp&) = delete;
  raw_tcp& operator=(const raw_tcp&) = delete;

  // False once the hub has closed (or reset) the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until the hub closes or `timeout` passes; `closed` says which. With `head_only`,
  // stops as soon as an answer's head has arrived.
  std::string read_all(std::chrono::milliseconds timeout, bool* closed = nullptr,
                       bool head_only = false) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[16384];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
      if (head_only && out.find("\r\n\r\n") != std::string::npos) break;
    }
    if (closed) *closed = false;
    return out;
  }

 private:
  int fd_ = -1;
};

int first_status(const std::string& response) {
  return response.rfind("HTTP/1.1 ", 0) == 0 && response.size() > 12
             ? std::atoi(response.c_str() + 9)
             : 0;
}

int count_answers(const std::string& response, std::string_view status_line) {
  int n = 0;
  for (std::size_t at = response.find(status_line); at != std::string::npos;
       at = response.find(status_line, at + 1))
    ++n;
  return n;
}

struct abuse {
  const char* what;
  std::string bytes;
  int status;  // the first answer's status
};

TEST(HostileHttp, EveryAbuseIsAnsweredAndTheHubServesOn) {
  hub_process hub;
  const std::string host = "Host: 127.0.0.1\r\n";
  const abuse cases[] = {
      {"request line of 20 KB", "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n" + host + "\r\n",
       431},
      {"one header of 20 KB",
       "GET /healthz HTTP/1.1\r\n" + host + "X-Big: " + std::string(20000, 'b') + "\r\n\r\n", 431},
      {"2,000 small headers",
       [&] {
         std::string r = "GET /healthz HTTP/1.1\r\n" + host;
         for (int i = 0; i < 2000; ++i)
           r += "X-H" + std::to_string(i) + ": v\r\n";
         return r + "\r\n";
       }(),
       431},
      {"body over the limit",
       "POST /v1/login HTTP/1.1\r\n" + host +
           "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
       413},
      {"negative Content-Length",
       "POST /v1/login HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
      {"two different Content-Lengths",
       "POST /v1/login HTTP/1.1\r\n" + host + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
       400},
      {"Content-Length not a number",
       "POST /v1/login HTTP/1.1\r\n" + host + "Content-Length: ten\r\n\r\n", 400},
      {"chunk size not hex",
       "POST /v1/login HTTP/1.1\r\n" + host +
           "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
       400},
      {"NUL in a header",
       std::string("GET /healthz HTTP/1.1\r\n") + host + "X-A: a" + std::string(1, '\0') +
           "b\r\n\r\n",
       400},
      {"NUL in the target",
       std::string("GET /heal") + std::string(1, '\0') + "thz HTTP/1.1\r\n" + host + "\r\n", 400},
      {"bare line feeds", "GET /healthz HTTP/1.1\n" + host + "\n", 400},
      {"not HTTP at all", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n", 400},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
      {"header without a colon", "GET /healthz HTTP/1.1\r\n" + host + "NoColonHere\r\n\r\n", 400},
      {"space before the colon", "GET /healthz HTTP/1.1\r\n" + host + "X-A : b\r\n\r\n", 400},
      {"unknown method", "FROB /healthz HTTP/1.1\r\n" + host + "\r\n", 405},
      {"absolute-form target to elsewhere",
       "GET http://evil.example/healthz HTTP/1.1\r\n" + host + "\r\n", 404},
  };
  for (const auto& c : cases) {
    raw_tcp conn(hub.port());
    conn.send(c.bytes);
    const std::string answer = conn.read_all(5s, nullptr, true);
    EXPECT_EQ(first_status(answer), c.status) << c.what << "\n" << answer.substr(0, 300);
  }
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
  EXPECT_TRUE(hub.running());
}

TEST(HostileHttp, PipelinedGarbageAfterAGoodRequestIsRefusedAfterItsAnswer) {
  hub_process hub;
  raw_tcp conn(hub.port());
  conn.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGARBAGE GARBAGE\r\n\r\n");
  bool closed = false;
  const std::string answer = conn.read_all(5s, &closed);
  EXPECT_EQ(first_status(answer), 200) << answer;
  EXPECT_EQ(count_answers(answer, "HTTP/1.1 400 "), 1) << answer;
  EXPECT_TRUE(closed);
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
}

TEST(HostileHttp, PathTraversalOnStaticRoutesLeaksNothing) {
  hub_process hub;
  const char* targets[] = {
      "/../../../../etc/passwd",       "/..%2f..%2f..%2fetc%2fpasswd",
      "/%2e%2e/%2e%2e/etc/passwd",     "/sessionhub.js/../../../etc/passwd",
      "/dashboard.js%00.png",          "/demo/..%2f..%2f..%2fetc/passwd",
      "/static/%252e%252e/etc/passwd", "//etc/passwd",
  };
  for (const char* t : targets) {
    raw_tcp conn(hub.port());
    conn.send(std::string("GET ") + t +
              " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    const std::string answer = conn.read_all(5s);
    const int status = first_status(answer);
    EXPECT_TRUE(status == 400 || status == 404) << t << "\n" << answer.substr(0, 200);
    EXPECT_EQ(answer.find("root:"), std::string::npos) << t;
  }
}

TEST(HostileHttp, AThousandPipelinedRequestsOnOneConnectionAreAllAnswered) {
  hub_process hub;
  raw_tcp conn(hub.port());
  std::string burst;
  for (int i = 0; i < 1000; ++i)
    burst += "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  burst += "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(conn.send(burst));
  bool closed = false;
  const std::string answer = conn.read_all(20s, &closed);
  EXPECT_EQ(count_answers(answer, "HTTP/1.1 200 "), 1001);
  EXPECT_TRUE(closed);
}

TEST(HostileHttp, ASlowlorisTrickleIsCutOffAtTheRequestTimeout) {
  hub_process hub({"--http-timeout-s", "2"});
  raw_tcp conn(hub.port());
  ASSERT_TRUE(conn.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  const auto start = std::chrono::steady_clock::now();
  bool cut = false;
  // A header byte every 300 ms, for at most 10 s: the hub must close well before that.
  for (int i = 0; i < 33 && !cut; ++i) {
    std::this_thread::sleep_for(300ms);
    bool closed = false;
    (void)conn.read_all(1ms, &closed);
    cut = closed || !conn.send("X");
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(cut);
  EXPECT_LT(took, 6s);
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace shub::itest
