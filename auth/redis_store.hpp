// redis_store: the session_store replicas share, on Redis through hiredis (synchronous API).
//
// Keys:
//   shub:s:{<sid>}         HASH, every field of the session; its compare-and-set writes are
//                          Lua scripts (atomic, exactly one winner)
//   shub:rt:<hex sha256>   "<sid> <generation>": one refresh token ever issued
//   shub:sub:{<sub>}, shub:did:{<device>}, shub:idp:{<idp sid>}
//                          SETs of sids for the lists; supersets — members whose session is
//                          gone, ended or re-keyed are filtered out and dropped when listed
//   shub:active            ZSET of active sids scored by min(idle, absolute) expiry
//   shub:jti:<id>          a remembered one-time token id (SET NX PX: one first sight)
// A session's write is one script over its hash, the refresh record it adds (SET only if
// absent: one owner per hash) and its shub:active entry, so a rotation's write is one round
// trip and a losing write leaves nothing. Those keys lie in different hash slots: the hub talks
// to one Redis server (a primary), not to a Redis Cluster (see the scripts in the .cpp).
// Every key expires by itself (PEXPIREAT) `retention_ms` after the session's absolute expiry
// or its end (and never sooner than that after its last write), so nothing needs purging. The
// index entries are written before the script that makes the session reachable under them (a
// crash in between leaves a stale entry, filtered), and a script that finds a live session's
// keys unchanged does not need them written again.
//
// A pool of connections, each used by one call at a time, connected lazily and dropped on
// any error; every command is bounded by the timeout. Constructing one sets SIGPIPE to be
// ignored (unless the program chose a disposition): hiredis writes with write(2). Any failure
// answers `unavailable`: callers fail closed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "session_store.hpp"

struct redisReply;  // hiredis

namespace shub::auth {

struct redis_options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_path;  // a Unix socket instead of host and port when set
  int db = 0;
  std::string username;  // ACL user (Redis 6+); empty: the default user
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds timeout{500};
  int pool = 8;
  std::int64_t retention_ms = 24LL * 3600 * 1000;  // kept after a session's end

  // redis://[[user]:password@]host:port[/db], or for a Redis on this machine
  // redis+unix://[[user]:password@]/path/to/redis.sock[?db=N]. Throws std::invalid_argument
  // with the reason.
  static redis_options parse_url(const std::string& url);
  // Whether `spec` names a Redis store (either scheme).
  static bool is_url(std::string_view spec);
  // Where it connects, for logs: host:port or the socket's path.
  [[nodiscard]] std::string address() const;
};

class redis_store final : public session_store {
 public:
  // Connects nothing yet (the first call does): a hub may start while Redis is down.
  explicit redis_store(redis_options options);
  ~redis_store() override;

  [[nodiscard]] std::string_view kind() const override { return "redis"; }
  [[nodiscard]] store_status ping() override;
  [[nodiscard]] store_status create(const session& s, const refresh_record& rt) override;
  [[nodiscard]] store_result<session> get(std::string_view sid) override;
  [[nodiscard]] store_result<refresh_record> find_refresh(std::string_view hash) override;
  // GET of the record and HGETALL of the hinted session in one round trip.
  [[nodiscard]] store_result<refresh_lookup> find_refresh_and_session(
      std::string_view hash, std::string_view sid_hint) override;
  [[nodiscard]] store_status update(const session& s, std::uint64_t expected_version,
                                    const refresh_record* new_rt) override;
  [[nodiscard]] store_result<std::vector<session>> list_by_sub(std::string_view sub) override;
  [[nodiscard]] store_result<std::vector<session>> list_by_device(
      std::string_view device_id) override;
  [[nodiscard]] store_result<std::vector<session>> list_by_idp_sid(
      std::string_view idp_sid) override;
  [[nodiscard]] store_result<std::int64_t> count_active(std::int64_t now_ms) override;
  [[nodiscard]] store_result<bool> remember_jti(std::string_view id, std::int64_t expires_at_ms,
                                                std::int64_t now_ms) override;
  // Drops expired entries from shub:active; sessions expire by their TTL. Returns 0.
  [[nodiscard]] store_result<std::int64_t> purge(std::int64_t before_ms) override;
  [[nodiscard]] std::string last_error() const override;

  // Key names, for tests and operators.
  [[nodiscard]] static std::string session_key(std::string_view sid);
  [[nodiscard]] static std::string refresh_key(std::string_view hash);

 private:
  struct connection;
  class lease;
  friend class lease;
  std::unique_ptr<connection> acquire();
  void release(std::unique_ptr<connection> c);
  void note_error(const std::string& what);
  // A reply read as a session (HGETALL) or a refresh record (GET).
  store_result<session> session_of(const redisReply* r, std::string_view sid);
  store_result<refresh_record> refresh_of(const redisReply* r, std::string_view hash);
  store_result<std::vector<session>> list(const std::string& index_key,
                                          std::string_view session_field, std::string_view value);

  redis_options options_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<connection>> idle_;
  int outstanding_ = 0;  // connections handed out or idle
  std::string last_error_;
};

}  // namespace shub::auth
