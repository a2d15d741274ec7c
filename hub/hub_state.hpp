// hub_state: what every request handler and connection shares, built once at start-up.
// Owned by the server; handlers hold a reference. Everything here is either immutable
// after start-up or safe to use from any thread (atomics, the store, the rate limiters).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "auth/clock.hpp"
#include "auth/jwks_file.hpp"
#include "auth/keys.hpp"
#include "auth/session_service.hpp"
#include "auth/session_store.hpp"
#include "config.hpp"
#include "cookies.hpp"
#include "event.hpp"
#include "http_util.hpp"
#include "rate_limiter.hpp"
#include "session_timers.hpp"
#include "stats.hpp"
#include "users.hpp"

namespace shub {

class fanout;
class cluster_bridge;

struct hub_state {
  hub_state(const config& c, std::unique_ptr<auth::session_store> store, auth::key_set keys);

  const config& cfg;
  hub_stats stats;
  auth::system_clock clock;
  std::unique_ptr<auth::session_store> store;  // a timed_store around the real one
  auth::key_set keys;
  auth::session_service service;
  std::optional<user_directory> users;
  rate_limiter login_limiter;
  rate_limiter refresh_limiter;
  rate_limiter ws_connect_limiter;
  rate_limiter backchannel_limiter;
  // The identity provider's keys for logout tokens (--backchannel-jwks); null = disabled.
  std::unique_ptr<auth::jwks_file> backchannel_keys;
  session_timers timers;
  fanout* events = nullptr;           // set once the workers exist; publishing is thread-safe
  cluster_bridge* cluster = nullptr;  // set at start-up when --cluster-bind is given
  cookie_policy cookies;
  std::string replica_id;
  std::string jwks_json;  // rendered once: keys do not change while running
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // Blocking work (store calls, signing, scrypt) runs here, off the network threads.
  boost::asio::thread_pool pool;

  std::atomic<bool> draining{false};
  std::atomic<std::int64_t> requests_in_flight{0};

  [[nodiscard]] bool origin_allowed(std::string_view origin) const;
  // --allowed-origin '*' (development): any origin, and none (non-browser clients).
  [[nodiscard]] bool any_origin() const;
  [[nodiscard]] bool api_key_ok(const http_request& req) const;
  [[nodiscard]] std::int64_t uptime_s() const;
  [[nodiscard]] stats_context stats_view();  // queries the store: call off the network threads

  // Publishes an event to every connection on its channels.
  void publish(const event& e);
  // Publishes an event about a session whose state `s` now is; the idle timers learn it
  // first, so a warning or logout never acts on an older state.
  void announce(const auth::session& s, const event& e);
  // An `auth` or `resume` answered without the store: the token was verified before and its
  // session has tabs here, neither expiry due (session_timers::known). nullopt: validate.
  [[nodiscard]] std::optional<auth::session_outcome> recognise(std::string_view access_token);
  // Logout events for sessions one call ended.
  void announce_logouts(const std::vector<auth::session>& ended, std::string_view scope);

  // Compares every session with connections here against the store, and tells this
  // replica's tabs what changed unseen (a cluster message lost, a peer that crashed between
  // its store write and its publish). Runs on the pool; calls while one is queued coalesce.
  void recheck_sessions(std::string_view why);

  // WebSocket connections per client address (--max-connections-per-ip).
  [[nodiscard]] bool acquire_ip(const std::string& ip);
  void release_ip(const std::string& ip);

 private:
  void recheck_now(const std::string& why);

  std::atomic<bool> recheck_queued_{false};
  std::mutex ip_mutex_;
  std::unordered_map<std::string, std::int64_t> connections_by_ip_;
  std::vector<std::string> api_key_hashes_;  // SHA-256 of each configured key
};

}  // namespace shub
