// session_timers: one idle timer per session, not per tab (PROTOCOL §3, issue "one timer").
// Tracks the sessions that have connections on this replica with their expiries, as the
// events this replica sees report them. A sweep (every 250 ms) finds the sessions due a
// `session.expiring` warning and those past an expiry; the hub warns the first and asks the
// store to end the second — a compare-and-set there, so when several replicas race exactly
// one `logout` is published. It also gates `activity` frames: at most one store write per
// session per coalescing window, however many tabs report activity.
//
// Sessions heard to end are remembered for a while (between ended_kept_ms/2 and
// ended_kept_ms): a tab whose auth read the session from the store just before its logout
// reached this replica would otherwise attach to it as active, after the `logout` it was
// not yet subscribed to hear, and the tabs after it would authenticate from that view.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "auth/session.hpp"

namespace shub {

class session_timers {
 public:
  static constexpr std::int64_t default_ended_kept_ms = 60'000;
  // Ended sessions remembered at most; past it they are forgotten sooner.
  static constexpr std::size_t max_ended_kept = 200'000;

  session_timers(std::int64_t warn_before_ms, std::int64_t activity_window_ms,
                 std::int64_t ended_kept_ms = default_ended_kept_ms)
      : warn_before_ms_(warn_before_ms),
        activity_window_ms_(activity_window_ms),
        ended_kept_ms_(ended_kept_ms) {}

  // A connection of `s` authenticated here. False, and nothing attached, when this replica
  // has heard `s` end since (the read it came from lost a race with its logout); `ended`,
  // when given, then receives the session as it ended.
  bool attach(const auth::session& s, auth::session* ended = nullptr);
  // A connection attached here closed.
  void detach(const std::string& sid);
  // The session's expiries moved (extend, refresh, activity) or it ended.
  void update(const auth::session& s);

  [[nodiscard]] std::int64_t connections(const std::string& sid) const;

  // The session as its tabs here know it — sid, sub, device, version and expiries, active —
  // when it has connections on this replica and neither expiry is due at now_ms. What they
  // know is what every change to it told this replica: announce() for its own, the cluster
  // for its peers' (and a re-check against the store for a message lost). Ended, unknown
  // here or due: nullopt, and the store has to say.
  [[nodiscard]] std::optional<auth::session> known(const std::string& sid,
                                                   std::int64_t now_ms) const;

  // The sessions with connections here, as this replica last heard of them (for a re-check
  // against the store).
  struct tracked {
    std::string sid;
    std::uint64_t version = 0;
    std::int64_t idle_expires_at = 0;
    std::int64_t expires_at = 0;
  };
  [[nodiscard]] std::vector<tracked> snapshot() const;

  // True when an activity report for `sid` at now_ms should slide the idle expiry; the
  // window then starts again.
  [[nodiscard]] bool activity_due(const std::string& sid, std::int64_t now_ms);

  struct warning {
    std::string sid;
    std::int64_t idle_expires_at = 0;
    std::uint64_t version = 0;
  };
  struct due {
    std::vector<warning> warn;
    std::vector<std::string> expire;  // sids past an expiry
  };
  // What is due at now_ms. A warning is reported once per idle deadline; an expiry is
  // reported again on later sweeps until update() says it was dealt with. Also lets go of
  // the ended sessions remembered longest.
  [[nodiscard]] due sweep(std::int64_t now_ms);

 private:
  struct entry {
    std::string sub, device_id;  // fixed for a session's life
    std::int64_t connections = 0;
    std::int64_t idle_expires_at = 0;
    std::int64_t expires_at = 0;
    std::uint64_t version = 0;
    std::int64_t warned_for = 0;  // the idle deadline a warning went out for
    std::int64_t last_activity_write = 0;
    std::int64_t expire_asked_at = 0;  // throttles re-asking the store
  };
  void remember_ended(const auth::session& s);  // under mutex_
  void rotate_ended(std::int64_t now_ms);       // under mutex_
  void drop_oldest_ended();                     // under mutex_: the newer generation ages

  mutable std::mutex mutex_;
  boost::unordered_flat_map<std::string, entry> sessions_;
  // Ended sessions in two generations: the newer takes every end heard, the older is
  // dropped when the newer is half ended_kept_ms old (or max_ended_kept / 2 long).
  boost::unordered_flat_map<std::string, auth::session> ended_[2];
  std::int64_t ended_rotated_at_ = 0;
  std::int64_t warn_before_ms_;
  std::int64_t activity_window_ms_;
  std::int64_t ended_kept_ms_;
};

}  // namespace shub
