// session_timers: the registry behind idle warnings, idle/absolute logouts and activity
// coalescing. One mutex: every operation is a hash lookup, and the sweep walks only the
// sessions with connections on this replica.
#include "session_timers.hpp"

namespace shub {

namespace {
// A due expiry whose store call is in flight (or failed) is asked again after this.
constexpr std::int64_t expire_retry_ms = 1000;
}  // namespace

bool session_timers::attach(const auth::session& s, auth::session* ended) {
  std::lock_guard lock(mutex_);
  for (const auto& generation : ended_) {
    const auto gone = generation.find(s.sid);
    if (gone == generation.end()) continue;
    if (ended) *ended = gone->second;
    return false;
  }
  entry& e = sessions_[s.sid];
  if (e.connections++ == 0) {
    e.sub = s.sub;
    e.device_id = s.device_id;
  }
  if (s.version >= e.version) {
    e.idle_expires_at = s.idle_expires_at;
    e.expires_at = s.expires_at;
    e.version = s.version;
  }
  return true;
}

void session_timers::detach(const std::string& sid) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(sid);
  if (it != sessions_.end() && --it->second.connections <= 0) sessions_.erase(it);
}

void session_timers::update(const auth::session& s) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(s.sid);
  if (!s.active()) {  // an end is final, whatever the version
    // Remembered with or without tabs here: the first tab's auth may be on its way.
    remember_ended(s);
    if (it != sessions_.end()) sessions_.erase(it);
    return;
  }
  if (it == sessions_.end() || s.version < it->second.version) return;
  it->second.idle_expires_at = s.idle_expires_at;
  it->second.expires_at = s.expires_at;
  it->second.version = s.version;
  it->second.expire_asked_at = 0;
}

void session_timers::remember_ended(const auth::session& s) {
  if (ended_[0].size() >= max_ended_kept / 2) drop_oldest_ended();
  auth::session& kept = ended_[0][s.sid];
  kept = s;
  // What a refusal names (sid, sub, device, version, end); the rest is not kept.
  kept.idp_sid.clear();
  kept.claims_json.clear();
  kept.amr_json.clear();
  kept.rt_successor.clear();
}

void session_timers::rotate_ended(std::int64_t now_ms) {
  if (now_ms - ended_rotated_at_ < ended_kept_ms_ / 2) return;
  ended_rotated_at_ = now_ms;
  drop_oldest_ended();
}

void session_timers::drop_oldest_ended() {
  ended_[1] = std::move(ended_[0]);
  ended_[0].clear();
}

std::int64_t session_timers::connections(const std::string& sid) const {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(sid);
  return it == sessions_.end() ? 0 : it->second.connections;
}

std::optional<auth::session> session_timers::known(const std::string& sid,
                                                   std::int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(sid);
  if (it == sessions_.end()) return std::nullopt;
  const entry& e = it->second;
  if (now_ms >= e.idle_expires_at || now_ms >= e.expires_at) return std::nullopt;
  auth::session s;
  s.sid = sid;
  s.sub = e.sub;
  s.device_id = e.device_id;
  s.version = e.version;
  s.idle_expires_at = e.idle_expires_at;
  s.expires_at = e.expires_at;
  s.state = auth::session_state::active;
  return s;
}

std::vector<session_timers::tracked> session_timers::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<tracked> out;
  out.reserve(sessions_.size());
  for (const auto& [sid, e] : sessions_)
    out.push_back({sid, e.version, e.idle_expires_at, e.expires_at});
  return out;
}

bool session_timers::activity_due(const std::string& sid, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(sid);
  if (it == sessions_.end()) return false;
  if (now_ms - it->second.last_activity_write < activity_window_ms_) return false;
  it->second.last_activity_write = now_ms;
  return true;
}

session_timers::due session_timers::sweep(std::int64_t now_ms) {
  due out;
  std::lock_guard lock(mutex_);
  rotate_ended(now_ms);
  for (auto& [sid, e] : sessions_) {
    if (now_ms >= e.idle_expires_at || now_ms >= e.expires_at) {
      if (now_ms - e.expire_asked_at >= expire_retry_ms) {
        e.expire_asked_at = now_ms;
        out.expire.push_back(sid);
      }
    } else if (warn_before_ms_ > 0 && now_ms >= e.idle_expires_at - warn_before_ms_ &&
               e.warned_for != e.idle_expires_at && e.idle_expires_at < e.expires_at) {
      e.warned_for = e.idle_expires_at;
      out.warn.push_back({sid, e.idle_expires_at, e.version});
    }
  }
  return out;
}

}  // namespace shub
