// cluster_latency: publish → delivery latency of one event to a tab on the replica that
// published it and to a tab on a peer replica, measured in the same run (PROTOCOL §4).
//
// Starts two real hubs linked by --cluster-bind/--cluster-peer on loopback (sharing one
// SQLite file and signing key, as replicas share a store), opens one WebSocket on each,
// authenticated to the same session, then publishes N events on the user's channel
// one at a time with POST /v1/publish on the first hub. For each event it takes the time
// just before the request is written and the time each tab's reader thread got the frame;
// the next event goes out once both tabs have the previous one (so no queueing is
// measured). Prints medians, p90, p99 and the ratio remote/local.
//
//   cluster_latency <path to sessionhub> [events=2000]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr const char* api_key = "bench-key";
constexpr const char* origin = "http://bench.example.test";

int free_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

pid_t spawn(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

struct http_conn {
  net::io_context io;
  beast::tcp_stream stream{io};
  explicit http_conn(int port) {
    stream.connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  }
  http::response<http::string_body> call(http::verb verb, const std::string& target,
                                         const std::string& body = {}) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, std::string("Bearer ") + api_key);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    stream.expires_after(std::chrono::seconds(10));
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    return res;
  }
};

// A watching tab with a reader thread recording when each event frame arrived.
class tab {
 public:
  tab(int port, const std::string& token) {
    beast::get_lowest_layer(ws_).connect(
        tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& r) { r.set(http::field::origin, origin); }));
    ws_.handshake("127.0.0.1", "/v1/ws");
    ws_.write(net::buffer(R"({"type":"auth","token":")" + token + "\"}"));
    beast::flat_buffer buf;
    ws_.read(buf);
    if (beast::buffers_to_string(buf.data()).find(R"("type":"ready")") == std::string::npos)
      throw std::runtime_error("tab not ready: " + beast::buffers_to_string(buf.data()));
    reader_ = std::thread([this] { read_loop(); });
  }
  ~tab() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    reader_.join();
  }
  // Waits for event number `n` (1-based count of events seen); its arrival time.
  std::optional<steady::time_point> wait(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_);
    if (!cv_.wait_for(lock, timeout, [&] { return arrivals_.size() >= n; })) return std::nullopt;
    return arrivals_[n - 1];
  }

 private:
  void read_loop() {
    beast::flat_buffer buf;
    for (;;) {
      beast::error_code ec;
      ws_.read(buf, ec);
      if (ec) return;
      const auto now = steady::now();
      const std::string text = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
      if (text.find(R"("event":"bench")") == std::string::npos) continue;
      std::lock_guard lock(m_);
      arrivals_.push_back(now);
      cv_.notify_all();
    }
  }
  net::io_context io_;
  websocket::stream<beast::tcp_stream> ws_{io_};
  std::thread reader_;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<steady::time_point> arrivals_;
};

bool wait_ready(int port, bool want_peer) {
  for (int i = 0; i < 200; ++i) {
    try {
      http_conn c(port);
      const auto r = c.call(http::verb::get, "/v1/stats");
      if (r.result() == http::status::ok &&
          (!want_peer || r.body().find(R"("up":true)") != std::string::npos))
        return true;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

double quantile_us(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: cluster_latency <sessionhub binary> [events]\n";
    return 2;
  }
  const std::string binary = argv[1];
  const std::size_t events = argc > 2 ? std::stoul(argv[2]) : 2000;
  const int http_a = free_port(), http_b = free_port(), zmq_a = free_port(), zmq_b = free_port();
  char dir_template[] = "/tmp/cluster-latency-XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const pid_t keygen =
      spawn({"/bin/sh", "-c", "'" + binary + "' generate-key > '" + dir + "/key.pem'"});
  waitpid(keygen, nullptr, 0);
  auto hub = [&](int http_port, int bind, int peer, const char* id) {
    return spawn({binary,
                  "--listen",
                  "127.0.0.1:" + std::to_string(http_port),
                  "--api-key",
                  api_key,
                  "--allowed-origin",
                  origin,
                  "--replica-id",
                  id,
                  "--threads",
                  "1",
                  "--log-level",
                  "warn",
                  "--signing-key",
                  dir + "/key.pem",
                  "--store",
                  "sqlite:" + dir + "/hub.db",
                  "--cluster-bind",
                  "tcp://127.0.0.1:" + std::to_string(bind),
                  "--cluster-peer",
                  "tcp://127.0.0.1:" + std::to_string(peer)});
  };
  std::vector<pid_t> hubs;
  int rc = 0;
  try {
    // One after the other: the second opens the SQLite file the first created.
    hubs.push_back(hub(http_a, zmq_a, zmq_b, "bench-a"));
    if (!wait_ready(http_a, false)) throw std::runtime_error("hub A did not start");
    hubs.push_back(hub(http_b, zmq_b, zmq_a, "bench-b"));
    if (!wait_ready(http_a, true) || !wait_ready(http_b, true))
      throw std::runtime_error("the hubs did not come up linked");
    http_conn publisher(http_a);
    const auto session = publisher.call(http::verb::post, "/v1/sessions", R"({"sub":"bench"})");
    const std::string& sbody = session.body();
    const auto at = sbody.find(R"("access_token":")");
    if (session.result() != http::status::created || at == std::string::npos)
      throw std::runtime_error("create session: " + sbody);
    const auto start = at + 16;
    const std::string token = sbody.substr(start, sbody.find('"', start) - start);
    tab local(http_a, token), remote(http_b, token);
    const std::string body = R"({"channel":"user:bench","event":"bench","data":{"n":1}})";
    std::vector<double> local_us, remote_us;
    for (std::size_t i = 1; i <= events; ++i) {
      const auto t0 = steady::now();
      const auto r = publisher.call(http::verb::post, "/v1/publish", body);
      if (r.result() != http::status::accepted) throw std::runtime_error("publish: " + r.body());
      const auto l = local.wait(i, std::chrono::seconds(5));
      const auto m = remote.wait(i, std::chrono::seconds(5));
      if (!l || !m) throw std::runtime_error("event " + std::to_string(i) + " did not arrive");
      local_us.push_back(std::chrono::duration<double, std::micro>(*l - t0).count());
      remote_us.push_back(std::chrono::duration<double, std::micro>(*m - t0).count());
    }
    const double lm = quantile_us(local_us, 0.5), rm = quantile_us(remote_us, 0.5);
    std::printf("events %zu (published one at a time on replica A)\n", events);
    std::printf("%-28s %10s %10s %10s\n", "publish -> tab", "p50 us", "p90 us", "p99 us");
    std::printf("%-28s %10.0f %10.0f %10.0f\n", "same replica (A -> tab on A)", lm,
                quantile_us(local_us, 0.9), quantile_us(local_us, 0.99));
    std::printf("%-28s %10.0f %10.0f %10.0f\n", "peer replica (A -> tab on B)", rm,
                quantile_us(remote_us, 0.9), quantile_us(remote_us, 0.99));
    std::printf("median ratio peer/same: %.2f; the cluster hop adds %.0f us at the median\n",
                rm / lm, rm - lm);
  } catch (const std::exception& e) {
    std::cerr << "cluster_latency: " << e.what() << "\n";
    rc = 1;
  }
  for (pid_t p : hubs) {
    kill(p, SIGTERM);
    waitpid(p, nullptr, 0);
  }
  std::filesystem::remove_all(dir);
  return rc;
}
