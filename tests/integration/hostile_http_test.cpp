// hostile_http_test: HTTP/1.1 abused on the wire, against one hub started with small limits
// (--max-header-bytes 8192, --max-body-bytes 1024, --http-timeout-s 2): huge request lines and
// headers (431), many headers, bodies over the limit (413), slow headers and bodies trickled
// byte by byte (closed at the deadline, whatever keeps arriving), Content-Length that lies,
// is negative or repeated, chunked garbage, garbage pipelined after a good request, NUL
// bytes, bare LF line endings, absolute-form targets, very long paths, percent-encoded
// traversal, and hundreds of requests on one keep-alive connection. Every answer is checked,
// and after each case a new client is served. Requests are written byte-exact on a raw
// socket, since a real client library would refuse to send most of them.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"

namespace shub::itest {
namespace {

constexpr int max_header_bytes = 8192;
constexpr int max_body_bytes = 1024;
constexpr int http_timeout_s = 2;

// One answer read off the wire.
struct answer {
  int status = 0;
  std::string head;
  std::string body;
};

// A TCP connection that sends exactly the bytes given and reads answers with a deadline.
class raw_http {
 public:
  explicit raw_http(int port) : fd_(connect_loopback(port)) {}
  ~raw_http() { ::close(fd_); }
  raw_http(const raw_http&) = delete;
  raw_http& operator=(const raw_http&) = delete;

  // False once the hub stopped reading (it closed or reset the connection).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // The next whole answer (head and Content-Length body) within `timeout`.
  std::optional<answer> next(std::chrono::milliseconds timeout = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto end = in_.find("\r\n\r\n");
      if (end != std::string::npos) {
        answer a;
        a.head = in_.substr(0, end + 4);
        if (a.head.size() > 12) a.status = std::atoi(a.head.c_str() + 9);
        std::size_t length = 0;
        const auto cl = lowercase(a.head).find("\r\ncontent-length:");
        if (cl != std::string::npos) length = std::strtoul(a.head.c_str() + cl + 17, nullptr, 10);
        if (in_.size() >= end + 4 + length) {
          a.body = in_.substr(end + 4, length);
          in_.erase(0, end + 4 + length);
          return a;
        }
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  // Whether the hub ended the connection within `timeout` (what it sent meanwhile is kept
  // for next()).
  bool closed_by_hub(std::chrono::milliseconds timeout = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return ended_;
  }
  [[nodiscard]] bool ended() const { return ended_; }
  [[nodiscard]] const std::string& unread() const { return in_; }

 private:
  static std::string lowercase(std::string s) {
    for (char& c : s)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  bool fill(std::chrono::steady_clock::time_point deadline) {
    return recv_before(fd_, deadline, in_, ended_);
  }

  int fd_ = -1;
  bool ended_ = false;
  std::string in_;
};

std::string get(std::string_view target, std::string_view extra_headers = {}) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         std::string(extra_headers) + "\r\n";
}

// A case: the bytes, then the answers in order (status codes), then whether the hub must
// close the connection after them (it must after every request it could not read whole:
// what follows in the stream is not a request).
struct abuse {
  std::string name;
  std::string bytes;
  std::vector<int> statuses;
  bool closes;
  std::string log_error;  // what the hub's (debug) http_bad_request line must say, if set
};

class HostileHttp : public testing::Test {
 public:
  static void SetUpTestSuite() {
    hub_ = new hub_process(
        with_args({"--max-header-bytes", std::to_string(max_header_bytes), "--max-body-bytes",
                   std::to_string(max_body_bytes), "--http-timeout-s",
                   std::to_string(http_timeout_s), "--log-level", "debug"}));
    logs_ = new log_cursor(*hub_);
  }
  static void TearDownTestSuite() {
    delete logs_;
    delete hub_;
  }

 protected:
  void SetUp() override { logs_->skip_to_end(); }

  static int port() { return hub_->port(); }

  // A new client is served.
  static testing::AssertionResult serves() {
    if (!hub_->running())
      return testing::AssertionFailure() << "the hub exited\n" << hub_->output();
    const auto r = http_request(port(), "GET", "/healthz");
    if (r.status != 200) return testing::AssertionFailure() << r.describe();
    return testing::AssertionSuccess();
  }

  static void run(const std::vector<abuse>& cases) {
    for (const auto& c : cases) {
      raw_http conn(port());
      conn.send(c.bytes);
      for (std::size_t i = 0; i < c.statuses.size(); ++i) {
        const auto a = conn.next();
        if (!a) {
          ADD_FAILURE() << c.name << ": answer " << i + 1 << " missing; got " << conn.unread();
          break;
        }
        EXPECT_EQ(a->status, c.statuses[i]) << c.name << " answer " << i + 1 << "\n" << a->head;
        if (a->status >= 400) {
          EXPECT_TRUE(icontains(a->head, "application/problem+json")) << c.name << "\n" << a->head;
        }
      }
      if (c.closes) {
        EXPECT_TRUE(conn.closed_by_hub(3s)) << c.name << ": the connection stayed open";
        EXPECT_EQ(conn.unread(), "") << c.name << ": more than the answers expected";
      }
      if (!c.log_error.empty()) {
        EXPECT_TRUE(logs_->next("http_bad_request", "error", c.log_error))
            << c.name << ": no http_bad_request line with " << c.log_error;
      }
      EXPECT_TRUE(serves()) << "after " << c.name;
    }
  }

  static hub_process* hub_;
  static log_cursor* logs_;
};

hub_process* HostileHttp::hub_ = nullptr;
log_cursor* HostileHttp::logs_ = nullptr;

TEST_F(HostileHttp, OversizeRequestLinesHeadersAndBodies) {
  const std::string big(max_header_bytes + 100, 'a');
  std::string many_small, too_many;
  for (int i = 0; i < 500; ++i)
    many_small += "X-H" + std::to_string(i) + ": v\r\n";  // ~5 KB: under the limit
  for (int i = 0; i < 2000; ++i)
    too_many += "X-H" + std::to_string(i) + ": v\r\n";  // ~22 KB: over it
  const std::string login =
      "POST /v1/login HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n";
  // A request of exactly `total` bytes, half of what is free in its request line and half
  // in one header: the limit is on the two together, to the byte.
  const auto sized = [](std::size_t total) {
    const std::size_t fill = total - get("/healthz?p=", "X-Pad: \r\n").size();
    return get("/healthz?p=" + std::string(fill / 2, 'a'),
               "X-Pad: " + std::string(fill - fill / 2, 'b') + "\r\n");
  };
  ASSERT_EQ(sized(max_header_bytes).size(), static_cast<std::size_t>(max_header_bytes));
  run({
      {"a request line and headers of exactly --max-header-bytes",
       sized(max_header_bytes),
       {200},
       false,
       ""},
      {"a request line and headers one byte over --max-header-bytes",
       sized(max_header_bytes + 1),
       {431},
       true,
       "header limit exceeded"},
      {"a request line over --max-header-bytes",
       get("/" + big),
       {431},
       true,
       "header limit exceeded"},
      {"one header over --max-header-bytes",
       get("/healthz", "X-Big: " + big + "\r\n"),
       {431},
       true,
       "header limit exceeded"},
      {"a header name over --max-header-bytes",
       get("/healthz", big + ": v\r\n"),
       {431},
       true,
       "header limit exceeded"},
      {"500 headers within the limit", get("/healthz", many_small), {200}, false, ""},
      {"2000 headers over the limit",
       get("/healthz", too_many),
       {431},
       true,
       "header limit exceeded"},
      {"a 10 KB cookie",
       get("/healthz", "Cookie: a=" + big + "\r\n"),
       {431},
       true,
       "header limit exceeded"},
      {"a body over --max-body-bytes, announced",
       login + "Content-Length: " + std::to_string(max_body_bytes + 1) + "\r\n\r\n" +
           std::string(max_body_bytes + 1, ' '),
       {413},
       true,
       "body limit exceeded"},
      {"a body over --max-body-bytes, announced but not sent",
       login + "Content-Length: 1000000000\r\n\r\n",
       {413},
       true,
       "body limit exceeded"},
      {"a chunked body over --max-body-bytes",
       login + "Transfer-Encoding: chunked\r\n\r\n400\r\n" + std::string(1024, ' ') + "\r\n10\r\n" +
           std::string(16, ' ') + "\r\n0\r\n\r\n",
       {413},
       true,
       "body limit exceeded"},
      {"a body at --max-body-bytes is read",
       login + "Content-Length: " + std::to_string(max_body_bytes) + "\r\n\r\n{}" +
           std::string(max_body_bytes - 2, ' '),
       {400},
       true,
       ""},  // read whole, then refused as JSON without a username
  });
}

TEST_F(HostileHttp, FramingThatLies) {
  const std::string post =
      "POST /v1/login HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n";
  const std::string chunked = post + "Transfer-Encoding: chunked\r\n\r\n";
  run({
      {"a negative Content-Length",
       post + "Content-Length: -1\r\n\r\n{}",
       {400},
       true,
       "bad Content-Length"},
      {"a Content-Length that is not a number",
       post + "Content-Length: ten\r\n\r\n{}",
       {400},
       true,
       "bad Content-Length"},
      {"a Content-Length beyond 64 bits",
       post + "Content-Length: 99999999999999999999999\r\n\r\n{}",
       {400},
       true,
       "bad Content-Length"},
      {"two different Content-Lengths",
       post + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
       {400},
       true,
       "multiple Content-Length"},
      {"a Content-Length list",
       post + "Content-Length: 2, 3\r\n\r\n{} ",
       {400},
       true,
       "multiple Content-Length"},
      {"Content-Length and chunked together (smuggling)",
       post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       {400},
       true,
       "bad Transfer-Encoding"},
      {"a Content-Length shorter than the body: the rest is a bad request",
       get("/healthz", "Content-Length: 3\r\n") + "abc@GARBAGE\r\n\r\n",
       {200, 400},
       true,
       "bad method"},
      {"a chunk size that is not hex", chunked + "zz\r\n{}\r\n0\r\n\r\n", {400}, true, "bad chunk"},
      {"a chunk size beyond 64 bits",
       chunked + "FFFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n",
       {400},
       true,
       "bad chunk"},
      {"a chunk without its CRLF", chunked + "2\r\n{}XX0\r\n\r\n", {400}, true, "bad chunk"},
      {"a chunk extension that is not one",
       chunked + "2;;;\r\n{}\r\n0\r\n\r\n",
       {400},
       true,
       "bad chunk extension"},
      // RFC 9112 §6.3: without chunked last, the length of the body cannot be known.
      {"a transfer coding without chunked",
       post + "Transfer-Encoding: gzip\r\n\r\n{}",
       {400},
       true,
       "bad Transfer-Encoding"},
      {"chunked not the last transfer coding",
       post + "Transfer-Encoding: chunked, gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
       {400},
       true,
       "bad Transfer-Encoding"},
      {"an empty Transfer-Encoding",
       post + "Transfer-Encoding: \r\nContent-Length: 2\r\n\r\n{}",
       {400},
       true,
       "bad Transfer-Encoding"},
  });
}

TEST_F(HostileHttp, GarbageOnTheWire) {
  const std::string nul(1, '\0');
  run({
      {"garbage pipelined after a good request",
       get("/healthz") + "\x16\x03\x01\x02\x00garbage\r\n\r\n",
       {200, 400},
       true,
       "bad method"},
      {"a TLS ClientHello on the plain port",
       "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
       {400},
       true,
       "bad method"},
      {"a NUL in the request line",
       "GET /heal" + nul + "thz HTTP/1.1\r\nHost: h\r\n\r\n",
       {400},
       true,
       "bad target"},
      {"a NUL in a header name",
       get("/healthz", "X-A" + nul + "b: v\r\n"),
       {400},
       true,
       "bad field"},
      {"a NUL in a header value",
       get("/healthz", "X-A: v" + nul + "w\r\n"),
       {400},
       true,
       "bad value"},
      {"a header without a colon", get("/healthz", "NoColonHere\r\n"), {400}, true, "bad field"},
      {"a space before the colon", get("/healthz", "Host : h\r\n"), {400}, true, "bad field"},
      {"an unknown HTTP version",
       "GET /healthz HTTP/2.0\r\nHost: h\r\n\r\n",
       {400},
       true,
       "bad version"},
      {"HTTP/0.9", "GET /healthz\r\n\r\n", {400}, true, "bad"},
      {"an empty request line", "\r\n\r\n", {400}, true, "bad method"},
      // RFC 9112 §5.2 lets a server replace an obs-fold with a space instead of refusing it.
      {"an obsolete folded header", get("/healthz", "X-A: v\r\n folded\r\n"), {200}, false, ""},
      // Methods are case-sensitive: "get" is another method, which /healthz does not allow.
      {"a lower-case method", "get /healthz HTTP/1.1\r\nHost: h\r\n\r\n", {405}, false, ""},
  });
}

TEST_F(HostileHttp, BareLineFeedsAreRefused) {
  run({
      {"bare LF throughout", "GET /healthz HTTP/1.1\nHost: h\n\n", {400}, true, "bad"},
      {"bare LF after the request line",
       "GET /healthz HTTP/1.1\nHost: h\r\n\r\n",
       {400},
       true,
       "bad"},
      {"bare LF in a header", get("/healthz", "X-A: v\nX-B: w\r\n"), {400}, true, "bad"},
      {"bare CR in a header", get("/healthz", "X-A: v\rX-B: w\r\n"), {400}, true, "bad"},
  });
}

TEST_F(HostileHttp, TargetsOfEveryForm) {
  run({
      // RFC 9112 §3.2.2: a server must accept the absolute form, and route on its path.
      {"an absolute-form target",
       "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: h\r\n\r\n",
       {200},
       false,
       ""},
      {"an absolute-form target of another host",
       "GET http://evil.example.test:8443/healthz HTTP/1.1\r\nHost: h\r\n\r\n",
       {200},
       false,
       ""},
      {"an absolute-form target without a path",
       "GET http://127.0.0.1 HTTP/1.1\r\nHost: h\r\n\r\n",
       {404},
       false,
       ""},
      {"the asterisk form on GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", {404}, false, ""},
      {"the authority form on GET",
       "GET 127.0.0.1:80 HTTP/1.1\r\nHost: h\r\n\r\n",
       {404},
       false,
       ""},
      {"CONNECT", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", {404}, false, ""},
      {"a 7 KB path", get("/" + std::string(7000, 'p')), {404}, false, ""},
      {"a 7 KB query", get("/healthz?" + std::string(7000, 'q')), {200}, false, ""},
      {"a path of 3000 segments",
       get([] {
         std::string p;
         for (int i = 0; i < 3000; ++i)
           p += "/a";
         return p;
       }()),
       {404},
       false,
       ""},
  });
}

TEST_F(HostileHttp, TraversalNeverReachesAFile) {
  const std::vector<std::string> targets = {
      "/../../etc/passwd",
      "/..%2f..%2fetc/passwd",
      "/..%2f..%2f..%2f..%2fetc%2fpasswd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/..%252f..%252fetc%252fpasswd",
      "/..%c0%af..%c0%afetc/passwd",
      "/sessionhub.js/../../etc/passwd",
      "/sessionhub.js/..%2f..%2fetc%2fpasswd",
      "/sessionhub.js%00/../../etc/passwd",
      "/dashboard/..%2f..%2f..%2fetc%2fpasswd",
      "/dashboard.js/../../../../etc/passwd",
      "/v1/../../etc/passwd",
      "/.well-known/../../etc/passwd",
      "/.well-known/..%2f..%2fetc%2fpasswd",
      "//etc/passwd",
      "/\\..\\..\\etc\\passwd",
      "/%5c..%5c..%5cetc%5cpasswd",
      "/etc/passwd",
      "/proc/self/environ",
      "/sessionhub.js?../../etc/passwd",
  };
  for (const auto& t : targets) {
    raw_http conn(port());
    conn.send(get(t));
    const auto a = conn.next();
    ASSERT_TRUE(a) << t;
    if (t.rfind("/sessionhub.js?", 0) == 0) {
      EXPECT_EQ(a->status, 200) << t;  // the query is the snippet's, never a path
      EXPECT_NE(a->body.find("SessionHub"), std::string::npos) << t;
    } else {
      EXPECT_TRUE(a->status == 404 || a->status == 400) << t << "\n" << a->head;
    }
    for (const char* leak : {"root:", "/bin/", "PATH=", "HOME="})
      EXPECT_EQ(a->body.find(leak), std::string::npos) << t << " leaked " << leak;
  }
  // The same with an API key, where route parameters are decoded into ids.
  for (const std::string t : {"/v1/sessions/..%2f..%2fetc%2fpasswd", "/v1/sessions/%2e%2e",
                              "/v1/users/..%2f..%2froot/logout"}) {
    const bool logout = t.find("/logout") != std::string::npos;
    const auto r = http_request(port(), logout ? "POST" : "DELETE", t, {api_auth()});
    EXPECT_TRUE(r.status == 404 || r.status == 400 || (logout && r.status == 200)) << t << "\n"
                                                                                   << r.describe();
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << t;
  }
  EXPECT_TRUE(serves());
}

TEST_F(HostileHttp, SlowHeadersAndBodiesAreCutOffAtTheDeadline) {
  // Three slow clients at once, each sending a byte every 200 ms for as long as the hub
  // listens: headers that never end, a body that never ends, a Content-Length never met.
  struct slow {
    const char* name;
    std::string opening;  // sent at once
    std::string trickle;  // then one byte at a time, over and over
    std::unique_ptr<raw_http> conn;
    std::chrono::steady_clock::time_point closed_at{};
  };
  slow clients[] = {
      {"headers trickled", "GET /healthz HTTP/1.1\r\nHost: h\r\n", "X-Slow: aaaa\r\n", nullptr, {}},
      {"a body trickled",
       "POST /v1/login HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
       "Content-Length: 1000\r\n\r\n",
       "x",
       nullptr,
       {}},
      {"a Content-Length never met",
       "POST /v1/login HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n{}",
       "",
       nullptr,
       {}},
  };
  const auto start = std::chrono::steady_clock::now();
  for (auto& c : clients) {
    c.conn = std::make_unique<raw_http>(port());
    c.conn->send(c.opening);
  }
  for (int tick = 0; tick < 40; ++tick) {  // at most 8 s
    bool all_closed = true;
    for (auto& c : clients) {
      if (c.closed_at != std::chrono::steady_clock::time_point{}) continue;
      if (c.conn->closed_by_hub(0ms) ||
          (!c.trickle.empty() && !c.conn->send(c.trickle.substr(tick % c.trickle.size(), 1)))) {
        c.closed_at = std::chrono::steady_clock::now();
        continue;
      }
      all_closed = false;
    }
    if (all_closed) break;
    std::this_thread::sleep_for(200ms);
  }
  for (auto& c : clients) {
    ASSERT_NE(c.closed_at, std::chrono::steady_clock::time_point{}) << c.name << ": never closed";
    const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(c.closed_at - start);
    EXPECT_GE(after.count(), http_timeout_s * 1000 - 300) << c.name << ": closed too early";
    EXPECT_LE(after.count(), http_timeout_s * 1000 + 2000) << c.name << ": closed too late";
    EXPECT_EQ(c.conn->unread(), "") << c.name << ": answered a request it never got whole";
    const auto line = logs_->next("http_timeout");
    EXPECT_TRUE(line) << c.name << ": no http_timeout line";
  }
  EXPECT_TRUE(serves());
}

TEST_F(HostileHttp, OneKeepAliveConnectionServesManyRequests) {
  raw_http conn(port());
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(conn.send(get(i % 2 ? "/healthz" : "/.well-known/jwks.json"))) << "request " << i;
    const auto a = conn.next();
    ASSERT_TRUE(a) << "request " << i;
    ASSERT_EQ(a->status, 200) << "request " << i;
  }
  // And pipelined: 300 requests in one write, 300 answers in order.
  std::string burst;
  for (int i = 0; i < 300; ++i)
    burst += get(i % 2 ? "/healthz" : "/nope");
  ASSERT_TRUE(conn.send(burst));
  for (int i = 0; i < 300; ++i) {
    const auto a = conn.next();
    ASSERT_TRUE(a) << "pipelined answer " << i;
    ASSERT_EQ(a->status, i % 2 ? 200 : 404) << "pipelined answer " << i;
  }
  EXPECT_FALSE(conn.closed_by_hub(100ms));
  EXPECT_TRUE(serves());
}

}  // namespace
}  // namespace shub::itest
