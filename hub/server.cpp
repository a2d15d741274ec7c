// server: start-up, the worker threads, the idle-timer sweep and the drain on SIGTERM.
#include "server.hpp"

#include <sys/resource.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdlib>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "cluster_bridge.hpp"
#include "fanout.hpp"
#include "handlers.hpp"
#include "http_session.hpp"
#include "hub_state.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "signing_keys.hpp"
#include "timed_store.hpp"
#include "tls.hpp"
#include "worker.hpp"
#include "ws_wire.hpp"

namespace shub {

namespace net = boost::asio;

namespace {

// Every connection is a descriptor: the soft limit goes up to the hard one (as nginx's
// worker_rlimit_nofile does), so the limits that count are the hub's own options.
std::uint64_t raise_open_files_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit want = r;
    want.rlim_cur = r.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) r = want;
  }
  return static_cast<std::uint64_t>(r.rlim_cur);
}

// Every thread that meets a locked heap gets one of its own in glibc (up to 8 per core), and
// each keeps the free memory of its busiest moment. Here connections come and go across
// workers and the store pool, so their memory wandered between heaps and the resident size
// crept up over hours. Before any thread starts; MALLOC_ARENA_MAX in the environment wins.
void limit_malloc_arenas(int arenas) {
#if defined(__GLIBC__)
  if (arenas > 0 && std::getenv("MALLOC_ARENA_MAX") == nullptr) ::mallopt(M_ARENA_MAX, arenas);
#else
  (void)arenas;
#endif
}

// Ended sessions stay this long (for audit and late reuse detection) before purging.
constexpr std::int64_t purge_retention_ms = 24LL * 3600 * 1000;
constexpr auto purge_every = std::chrono::minutes(10);
// Idle warnings and logouts are this precise.
constexpr auto timer_sweep_every = std::chrono::milliseconds(250);
// After the 1001 closes, how long to wait for them to be written.
constexpr auto close_flush_wait = std::chrono::seconds(2);

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

// A timer that runs `tick` every `period` on `ctx` until the context stops.
class periodic {
 public:
  template <class Tick>
  periodic(net::io_context& ctx, std::chrono::steady_clock::duration period, Tick tick)
      : timer_(ctx), period_(period), tick_(std::move(tick)) {}
  void start() {
    timer_.expires_after(period_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      tick_();
      start();
    });
  }

 private:
  net::steady_timer timer_;
  std::chrono::steady_clock::duration period_;
  std::function<void()> tick_;
};

// Idle warnings now; due expiries go to the store (a compare-and-set: one logout).
void sweep_session_timers(hub_state& hub) {
  auto due = hub.timers.sweep(hub.clock.now_ms());
  for (const auto& w : due.warn) {
    hub.publish(expiring_event(w.sid, w.idle_expires_at, hub.cfg.warn_before_s, w.version));
  }
  for (auto& sid : due.expire) {
    net::post(hub.pool, [&hub, sid = std::move(sid)] {
      const auto out = hub.service.expire_if_due(sid);
      if (out.ended_now) {
        log::info("logout")
            .str("sid", out.s.sid)
            .str("sub", out.s.sub)
            .str("reason", out.s.end_reason)
            .emit();
        hub.announce(out.s, logout_event(out.s, "session"));
      } else if (out.ok()) {
        hub.timers.update(out.s);  // extended elsewhere, or already ended by someone else
      }
    });
  }
}

}  // namespace

int run_server(const config& cfg) {
  log::level lvl{};
  if (log::parse_level(cfg.log_level, lvl)) log::set_min_level(lvl);
  std::unique_ptr<hub_state> hub;
  net::ip::tcp::endpoint at;
  std::optional<tls_contexts> tls;  // both --tls-cert and --tls-key: HTTPS and WSS only
  limit_malloc_arenas(cfg.malloc_arenas);
  try {
    at = parse_listen(cfg.listen);
    if (!cfg.tls_cert.empty()) tls.emplace(cfg.tls_cert, cfg.tls_key);
    // The store first: it makes the directory a generated key is kept in.
    auto store = open_store(cfg);
    auto keys = load_signing_keys(cfg);
    hub = std::make_unique<hub_state>(cfg, std::move(store), std::move(keys));
  } catch (const std::exception& e) {
    log::error("startup_failed").str("error", e.what()).emit();
    return 1;
  }
  // TLS counts as secure: cookies lose Secure only on plain HTTP over loopback.
  const bool loopback_plain = at.address().is_loopback() && cfg.tls_cert.empty();
  hub->cookies.secure = !loopback_plain;

  router routes;
  add_ops_routes(routes, *hub);
  add_token_routes(routes, *hub);
  add_server_api_routes(routes, *hub);
  add_static_routes(routes, *hub);
  add_dashboard_routes(routes);
  add_backchannel_routes(routes, *hub);

  const std::uint64_t open_files = raise_open_files_limit();
  const unsigned n_workers = cfg.threads > 0 ? static_cast<unsigned>(cfg.threads)
                                             : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<worker>> workers;
  std::vector<net::io_context*> contexts;
  std::vector<worker*> worker_ptrs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  for (unsigned i = 0; i < n_workers; ++i) {
    workers.push_back(std::make_unique<worker>(i, hub->stats));
    contexts.push_back(&workers.back()->context());
    worker_ptrs.push_back(workers.back().get());
    guards.push_back(net::make_work_guard(workers.back()->context()));
  }
  fanout events(worker_ptrs, hub->stats);
  hub->events = &events;
  net::io_context& main_ctx = workers.front()->context();

  std::unique_ptr<listener> accept;
  try {
    accept = std::make_unique<listener>(
        main_ctx, contexts, at,
        [&](net::ip::tcp::socket&& s, std::size_t index, const net::ip::tcp::endpoint& peer) {
          if (tls) {
            // The context of the moment: a reload serves the next connection, not this one.
            std::make_shared<tls_http_session>(std::move(s), tls->current(), *workers[index], *hub,
                                               routes, loopback_plain, peer.address().to_string())
                ->run();
            return;
          }
          std::make_shared<plain_http_session>(std::move(s), nullptr, *workers[index], *hub, routes,
                                               loopback_plain, peer.address().to_string())
              ->run();
        });
  } catch (const std::exception& e) {
    log::error("startup_failed").str("error", std::string("listen: ") + e.what()).emit();
    return 1;
  }
  if (tls) {
    const auto cert = describe_certificate(*tls->current());
    log::info("tls_enabled")
        .str("subject", cert.subject)
        .str("serial", cert.serial)
        .str("not_after", cert.not_after)
        .emit();
  }
  hub->replica_id =
      cfg.replica_id.empty() ? host_name() + ":" + std::to_string(accept->port()) : cfg.replica_id;

  // The cluster: peers' events go to this replica's tabs (their sessions' new state to the
  // idle timers first, as announce() does for local ones); anything possibly missed is
  // answered by a re-check against the store, which also runs every --cluster-recheck-s.
  std::unique_ptr<cluster_bridge> bridge;
  if (!cfg.cluster_bind.empty()) {
    if (cfg.store == "sqlite::memory:") {
      log::warn("cluster_store_not_shared")
          .str("detail", "an in-memory store is this replica's alone; use --store redis://")
          .emit();
    }
    try {
      bridge = std::make_unique<cluster_bridge>(
          cfg, hub->replica_id, hub->stats,
          [&hub, &events](cluster::message&& m) {
            if (m.session) {
              auth::session s;
              s.sid = m.session->sid;
              s.version = m.session->version;
              s.idle_expires_at = m.session->idle_expires_at;
              s.expires_at = m.session->expires_at;
              s.state =
                  m.session->active ? auth::session_state::active : auth::session_state::revoked;
              hub->timers.update(s);
            }
            events.deliver_remote(std::move(m));
          },
          [&hub](std::string_view why) { hub->recheck_sessions(why); });
    } catch (const std::exception& e) {
      log::error("startup_failed").str("error", e.what()).emit();
      return 1;
    }
    events.set_bridge(bridge.get());
    hub->cluster = bridge.get();
  }

  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stop_requested = false;
  // Everything below that is bound to main_ctx lives in optionals, reset before the
  // workers (and their io_contexts) are destroyed.
  std::optional<net::signal_set> signals(std::in_place, main_ctx, SIGTERM, SIGINT);
  signals->async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    log::info("signal").num("signal", signo).emit();
    std::lock_guard lock(stop_mutex);
    stop_requested = true;
    stop_cv.notify_all();
  });
  // SIGHUP re-reads the TLS certificate and key (on the pool: it reads files); it never
  // stops or drains the hub, with or without TLS.
  std::optional<net::signal_set> hangups(std::in_place, main_ctx, SIGHUP);
  std::function<void()> wait_hangup = [&] {
    hangups->async_wait([&](boost::system::error_code ec, int signo) {
      if (ec) return;
      log::info("signal")
          .num("signal", signo)
          .str("action", tls ? "tls_reload" : "none (no TLS to reload)")
          .emit();
      if (tls) net::post(hub->pool, [&tls] { tls->reload(); });
      wait_hangup();
    });
  };
  wait_hangup();

  std::optional<periodic> purge(std::in_place, main_ctx, purge_every, [&hub] {
    net::post(hub->pool, [&hub] {
      const auto r = hub->store->purge(hub->clock.now_ms() - purge_retention_ms);
      if (r.ok() && r.value > 0) log::info("sessions_purged").num("count", r.value).emit();
    });
  });
  std::optional<periodic> timers(std::in_place, main_ctx, timer_sweep_every,
                                 [&hub] { sweep_session_timers(*hub); });
  std::optional<periodic> recheck;
  if (bridge) {
    recheck.emplace(main_ctx, std::chrono::seconds(cfg.cluster_recheck_s),
                    [&hub] { hub->recheck_sessions("periodic"); });
    recheck->start();
    bridge->start();
  }
  purge->start();
  timers->start();
  for (auto& w : workers)
    w->start_sweeping();
  accept->start();

  std::vector<std::thread> threads;
  for (auto* ctx : contexts)
    threads.emplace_back([ctx] { ctx->run(); });
  log::info("listening")
      .str("host", at.address().to_string())
      .num("port", accept->port())
      .str("replica", hub->replica_id)
      .str("store", std::string(hub->store->kind()))
      .str("kid", hub->keys.signer()->kid())
      .num("threads", n_workers)
      .flag("tls", tls.has_value())
      .num("open_files", static_cast<std::int64_t>(open_files))
      .emit();

  {
    std::unique_lock lock(stop_mutex);
    stop_cv.wait(lock, [&] { return stop_requested; });
  }

  // Drain: readiness goes false, no new connections, requests in flight finish, every
  // WebSocket is closed with 1001 so tabs reconnect elsewhere at once.
  hub->draining = true;
  accept->stop();
  log::info("draining")
      .num("in_flight", hub->requests_in_flight.load())
      .num("connections", hub->stats.connections_current.get())
      .emit();
  for (auto& w : workers) {
    w->close_all(ws::code::going_away);
  }
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + std::chrono::seconds(cfg.drain_timeout_s);
  const auto ws_deadline = std::min(deadline, now + close_flush_wait);
  while (std::chrono::steady_clock::now() < deadline &&
         (hub->requests_in_flight.load() > 0 || (hub->stats.connections_current.get() > 0 &&
                                                 std::chrono::steady_clock::now() < ws_deadline))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  if (bridge) bridge->stop();  // no more inbound events; outbound ones are not needed
  guards.clear();
  for (auto& w : workers)
    w->stop_sweeping();
  for (auto* ctx : contexts)
    ctx->stop();
  for (auto& t : threads)
    t.join();
  hub->pool.join();
  hub->events = nullptr;
  hub->cluster = nullptr;
  events.set_bridge(nullptr);
  bridge.reset();
  recheck.reset();
  accept.reset();
  signals.reset();
  hangups.reset();
  purge.reset();
  timers.reset();
  const std::int64_t left = hub->requests_in_flight.load();
  workers.clear();  // destroys the sessions and connections still parked in the contexts
  hub.reset();      // closes the store (SQLite checkpoints its WAL)
  log::info("stopped").num("abandoned_requests", left).emit();
  return 0;
}

}  // namespace shub
