// server: start-up, the worker threads and the drain on SIGTERM.
#include "server.hpp"

#include <unistd.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "handlers.hpp"
#include "http_session.hpp"
#include "hub_state.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "signing_keys.hpp"
#include "timed_store.hpp"

namespace shub {

namespace net = boost::asio;

namespace {

// Ended sessions stay this long (for audit and late reuse detection) before purging.
constexpr std::int64_t purge_retention_ms = 24LL * 3600 * 1000;
constexpr auto purge_every = std::chrono::minutes(10);

net::ip::tcp::endpoint parse_listen(const std::string& spec) {
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen must be host:port");
  std::string host = spec.substr(0, colon);
  const std::string port = spec.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  if (host.empty()) host = "0.0.0.0";
  std::size_t used = 0;
  const int p = std::stoi(port, &used);
  if (used != port.size() || p < 0 || p > 65535) throw std::runtime_error("bad port in --listen");
  return {net::ip::make_address(host), static_cast<unsigned short>(p)};
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "sessionhub";
  return buf;
}

class purge_loop {
 public:
  purge_loop(net::io_context& ctx, hub_state& hub) : timer_(ctx), hub_(hub) {}
  void start() {
    timer_.expires_after(purge_every);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      net::post(hub_.pool, [this] {
        const auto r = hub_.store->purge(hub_.clock.now_ms() - purge_retention_ms);
        if (r.ok() && r.value > 0) log::info("sessions_purged").num("count", r.value).emit();
      });
      start();
    });
  }

 private:
  net::steady_timer timer_;
  hub_state& hub_;
};

}  // namespace

int run_server(const config& cfg) {
  log::level lvl{};
  if (log::parse_level(cfg.log_level, lvl)) log::set_min_level(lvl);
  if (!cfg.tls_cert.empty()) {
    log::error("startup_failed")
        .str("error", "TLS (--tls-cert) is not available in this build")
        .emit();
    return 1;
  }

  std::unique_ptr<hub_state> hub;
  net::ip::tcp::endpoint at;
  try {
    at = parse_listen(cfg.listen);
    hub = std::make_unique<hub_state>(cfg, open_store(cfg.store), load_signing_keys(cfg));
  } catch (const std::exception& e) {
    log::error("startup_failed").str("error", e.what()).emit();
    return 1;
  }

  router routes;
  add_ops_routes(routes, *hub);
  add_token_routes(routes, *hub);
  add_server_api_routes(routes, *hub);

  const unsigned n_workers = cfg.threads > 0 ? static_cast<unsigned>(cfg.threads)
                                             : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<net::io_context>> contexts;
  std::vector<net::io_context*> worker_ptrs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (unsigned i = 0; i < n_workers; ++i) {
    contexts.push_back(std::make_unique<net::io_context>(1));
    worker_ptrs.push_back(contexts.back().get());
    guards.push_back(net::make_work_guard(*contexts.back()));
  }
  net::io_context& main_ctx = *contexts.front();

  const bool loopback_plain = at.address().is_loopback() && cfg.tls_cert.empty();
  std::unique_ptr<listener> accept;
  try {
    accept = std::make_unique<listener>(
        main_ctx, worker_ptrs, at, [&hub, &routes, loopback_plain](net::ip::tcp::socket&& s) {
          std::make_shared<http_session>(std::move(s), *hub, routes, loopback_plain)->run();
        });
  } catch (const std::exception& e) {
    log::error("startup_failed").str("error", std::string("listen: ") + e.what()).emit();
    return 1;
  }
  hub->replica_id =
      cfg.replica_id.empty() ? host_name() + ":" + std::to_string(accept->port()) : cfg.replica_id;

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stop_requested = false;
  net::signal_set signals(main_ctx, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    log::info("signal").num("signal", signo).emit();
    std::lock_guard lock(stop_mutex);
    stop_requested = true;
    stop_cv.notify_all();
  });

  purge_loop purge(main_ctx, *hub);
  purge.start();
  accept->start();

  std::vector<std::thread> threads;
  for (auto& ctx : contexts) {
    threads.emplace_back([c = ctx.get()] { c->run(); });
  }
  log::info("listening")
      .str("host", at.address().to_string())
      .num("port", accept->port())
      .str("replica", hub->replica_id)
      .str("store", std::string(hub->store->kind()))
      .str("kid", hub->keys.signer()->kid())
      .num("threads", n_workers)
      .emit();

  {
    std::unique_lock lock(stop_mutex);
    stop_cv.wait(lock, [&] { return stop_requested; });
  }

  // Drain: readiness goes false, no new connections, requests in flight finish.
  hub->draining = true;
  accept->stop();
  log::info("draining").num("in_flight", hub->requests_in_flight.load()).emit();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(cfg.drain_timeout_s);
  while (hub->requests_in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  guards.clear();
  for (auto& ctx : contexts)
    ctx->stop();
  for (auto& t : threads)
    t.join();
  hub->pool.join();
  accept.reset();
  contexts.clear();  // destroys the sessions still parked in the contexts
  const std::int64_t left = hub->requests_in_flight.load();
  hub.reset();  // closes the store (SQLite checkpoints its WAL)
  log::info("stopped").num("abandoned_requests", left).emit();
  return 0;
}

}  // namespace shub
