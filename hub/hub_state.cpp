// hub_state: start-up wiring of the shared state, origin and API-key checks.
#include "hub_state.hpp"

#include <algorithm>
#include <stdexcept>

#include "auth/crypto.hpp"
#include "cluster_bridge.hpp"
#include "fanout.hpp"
#include "log.hpp"
#include "timed_store.hpp"

namespace shub {

namespace {

auth::session_policy policy_from(const config& c) {
  auth::session_policy p;
  p.access_ttl_s = c.access_ttl_s;
  p.idle_timeout_s = c.idle_timeout_s;
  p.max_age_s = c.max_age_s;
  p.reuse_interval_s = c.reuse_interval_s;
  p.leeway_s = c.clock_leeway_s;
  p.issuer = c.issuer;
  p.audience = c.audience;
  p.token_cache_entries = static_cast<std::size_t>(c.token_cache_entries);
  return p;
}

}  // namespace

hub_state::hub_state(const config& c, std::unique_ptr<auth::session_store> inner, auth::key_set k)
    : cfg(c),
      store(std::make_unique<timed_store>(std::move(inner), stats)),
      keys(std::move(k)),
      service(*store, keys, clock, policy_from(c)),
      login_limiter(c.login_rate_limit),
      refresh_limiter(c.refresh_rate_limit),
      ws_connect_limiter(c.ws_connect_rate_limit),
      backchannel_limiter(c.backchannel_rate_limit),
      timers(c.warn_before_s * 1000, c.activity_coalesce_ms),
      jwks_json(keys.jwks_json()),
      pool(static_cast<std::size_t>(c.store_threads)) {
  if (!c.users_file.empty()) users = user_directory::load(c.users_file);
  if (!c.backchannel_jwks.empty()) {
    std::string skipped;
    try {
      backchannel_keys =
          std::make_unique<auth::jwks_file>(c.backchannel_jwks, std::chrono::seconds(1), skipped);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("--backchannel-jwks: ") + e.what());
    }
    log::info("backchannel_jwks_loaded")
        .str("path", c.backchannel_jwks)
        .num("keys", static_cast<std::int64_t>(backchannel_keys->current()->keys().size()))
        .str("skipped", skipped)
        .emit();
  }
  cookies.same_site = c.cookie_samesite;
  for (const auto& key : c.api_keys)
    api_key_hashes_.push_back(auth::sha256(key));
}

bool hub_state::origin_allowed(std::string_view origin) const {
  if (origin.empty()) return false;
  return std::any_of(cfg.allowed_origins.begin(), cfg.allowed_origins.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
}

bool hub_state::any_origin() const {
  return std::find(cfg.allowed_origins.begin(), cfg.allowed_origins.end(), "*") !=
         cfg.allowed_origins.end();
}

bool hub_state::api_key_ok(const http_request& req) const {
  const std::string_view presented = bearer_token(req);
  if (presented.empty() || api_key_hashes_.empty()) return false;
  // Compare digests, all of them, in constant time: neither the key nor its position leaks.
  const std::string digest = auth::sha256(presented);
  bool ok = false;
  for (const auto& h : api_key_hashes_)
    ok |= auth::constant_time_equal(digest, h);
  return ok;
}

std::int64_t hub_state::uptime_s() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                          started)
      .count();
}

stats_context hub_state::stats_view() {
  stats_context ctx;
  ctx.replica = replica_id;
  ctx.uptime_s = uptime_s();
  ctx.store_kind = std::string(store->kind());
  ctx.draining = draining.load();
  const auto active = store->count_active(clock.now_ms());
  ctx.sessions_active = active.ok() ? active.value : -1;
  if (cluster) ctx.peers = cluster->peers();
  return ctx;
}

void hub_state::publish(const event& e) {
  if (events) events->publish(e);
}

void hub_state::announce(const auth::session& s, const event& e) {
  timers.update(s);
  if (events) events->publish(e, &s);
}

std::optional<auth::session_outcome> hub_state::recognise(std::string_view access_token) {
  // While the store fails, an auth fails closed like every other call (its open tabs keep
  // what they have).
  if (!cfg.ws_auth_known_sessions || !stats.store_up.load(std::memory_order_relaxed)) {
    return std::nullopt;
  }
  auto token = service.recall(access_token);
  if (!token) return std::nullopt;
  auto s = timers.known(token->sid, clock.now_ms());
  if (!s || s->sub != token->sub) return std::nullopt;
  auth::session_outcome out;
  out.s = std::move(*s);
  out.token_exp = token->exp;
  stats.auth_without_store.add();
  return out;
}

void hub_state::announce_logouts(const std::vector<auth::session>& ended, std::string_view scope) {
  for (const auto& s : ended)
    announce(s, logout_event(s, scope));
}

void hub_state::recheck_sessions(std::string_view why) {
  if (recheck_queued_.exchange(true)) return;
  boost::asio::post(pool, [this, why = std::string(why)] {
    recheck_queued_ = false;  // what happens from here on needs a re-check of its own
    recheck_now(why);
  });
}

void hub_state::recheck_now(const std::string& why) {
  stats.cluster_rechecks.add();
  std::int64_t checked = 0, repaired = 0, failed = 0;
  for (const auto& t : timers.snapshot()) {
    ++checked;
    auto r = store->get(t.sid);
    if (r.status == auth::store_status::unavailable) {
      ++failed;
      continue;
    }
    auth::session& s = r.value;
    if (r.status == auth::store_status::not_found) {
      // Gone from the store (purged long after it ended, or deleted by an operator): its
      // tabs must not stay signed in.
      s.sid = t.sid;
      s.version = t.version + 1;
      s.state = auth::session_state::revoked;
      s.end_reason = clock.now_ms() >= t.expires_at ? "absolute_timeout" : "admin";
    } else if (s.version <= t.version) {
      continue;  // nothing happened that this replica has not heard of
    }
    ++repaired;
    timers.update(s);
    if (!events) continue;
    if (!s.active()) {
      log::info("session_repaired")
          .str("sid", s.sid)
          .str("sub", s.sub)
          .str("state", "ended")
          .str("reason", s.end_reason)
          .emit();
      events->publish_local(logout_event(s, "session"));
    } else if (s.idle_expires_at != t.idle_expires_at || s.expires_at != t.expires_at) {
      log::info("session_repaired")
          .str("sid", s.sid)
          .str("sub", s.sub)
          .str("state", "extended")
          .emit();
      events->publish_local(extended_event(s));
    }
  }
  stats.cluster_repaired.add(repaired);
  log::line(repaired > 0 || failed > 0 ? log::level::warn : log::level::debug, "sessions_rechecked")
      .str("why", why)
      .num("checked", checked)
      .num("repaired", repaired)
      .num("failed", failed)
      .emit();
}

bool hub_state::acquire_ip(const std::string& ip) {
  std::lock_guard lock(ip_mutex_);
  auto& n = connections_by_ip_[ip];
  if (n >= cfg.max_connections_per_ip) {
    if (n == 0) connections_by_ip_.erase(ip);
    return false;
  }
  ++n;
  return true;
}

void hub_state::release_ip(const std::string& ip) {
  std::lock_guard lock(ip_mutex_);
  const auto it = connections_by_ip_.find(ip);
  if (it != connections_by_ip_.end() && --it->second <= 0) connections_by_ip_.erase(it);
}

}  // namespace shub
