// session_store: the seam between the session rules and where sessions live.
// Two real implementations: sqlite_store (embedded, one replica) and redis_store (shared by
// the replicas of a cluster). Every call is blocking and thread-safe; the hub calls it off its
// network threads. Writes are compare-and-set on the session's `version`, which is what makes
// rotation, revocation and expiry exactly-once when several threads or replicas race.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "session.hpp"

namespace shub::auth {

enum class store_status {
  ok,
  not_found,
  conflict,     // create: the sid exists; update: the stored version moved on
  unavailable,  // the store did not answer: callers fail closed
};

[[nodiscard]] std::string_view to_string(store_status s);

template <class T>
struct store_result {
  store_status status = store_status::ok;
  T value{};
  [[nodiscard]] bool ok() const { return status == store_status::ok; }
};

// A refresh record and the session it names.
struct refresh_lookup {
  refresh_record rec;
  session s;
};

class session_store {
 public:
  virtual ~session_store() = default;

  // "sqlite" or "redis", for stats.
  [[nodiscard]] virtual std::string_view kind() const = 0;
  // ok when the store answers a trivial query.
  [[nodiscard]] virtual store_status ping() = 0;

  // Inserts a new session and its first refresh token; conflict if the sid exists.
  [[nodiscard]] virtual store_status create(const session& s, const refresh_record& rt) = 0;
  [[nodiscard]] virtual store_result<session> get(std::string_view sid) = 0;
  [[nodiscard]] virtual store_result<refresh_record> find_refresh(std::string_view hash) = 0;
  // The refresh record and then the session its sid names; not_found when either is
  // missing. `sid_hint` (may be empty) is the session the caller expects the record to name:
  // a store with round trips to save reads both at once on that guess, and reads again by
  // the record's own sid if the guess was wrong. By default the two calls above.
  [[nodiscard]] virtual store_result<refresh_lookup> find_refresh_and_session(
      std::string_view hash, std::string_view sid_hint);

  // Atomically: if the stored session `s.sid` has version `expected_version`, replace it
  // with `s` and, when `new_rt` is given, record that refresh token too. Otherwise conflict
  // (or not_found), and nothing is written.
  [[nodiscard]] virtual store_status update(const session& s, std::uint64_t expected_version,
                                            const refresh_record* new_rt) = 0;

  // Sessions in state active with that sub / device / identity-provider sid (expiry is the
  // caller's business), oldest first.
  [[nodiscard]] virtual store_result<std::vector<session>> list_by_sub(std::string_view sub) = 0;
  [[nodiscard]] virtual store_result<std::vector<session>> list_by_device(
      std::string_view device_id) = 0;
  [[nodiscard]] virtual store_result<std::vector<session>> list_by_idp_sid(
      std::string_view idp_sid) = 0;

  // Sessions in state active whose absolute and idle expiries are both after now_ms.
  [[nodiscard]] virtual store_result<std::int64_t> count_active(std::int64_t now_ms) = 0;

  // Records a one-time token id (a logout token's jti, as an opaque key) until
  // `expires_at_ms`. true when it was not recorded yet, or only by a record that had expired
  // at `now_ms`; false when it is a replay. Atomic: of several calls racing with one id,
  // exactly one gets true, on every replica sharing the store.
  [[nodiscard]] virtual store_result<bool> remember_jti(std::string_view id,
                                                        std::int64_t expires_at_ms,
                                                        std::int64_t now_ms) = 0;

  // Deletes sessions (with their refresh tokens) that ended, or whose absolute expiry
  // passed, before `before_ms`, and remembered token ids that expired before it. Returns how
  // many sessions were removed.
  [[nodiscard]] virtual store_result<std::int64_t> purge(std::int64_t before_ms) = 0;

  // What went wrong last, for the log line when the store turns unavailable ("" if unknown).
  [[nodiscard]] virtual std::string last_error() const { return {}; }
};

}  // namespace shub::auth
