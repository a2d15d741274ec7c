// sqlite_store: the embedded session_store on one SQLite connection.
// Every statement is prepared once at start-up and reused; each use binds in order, steps,
// and on leaving scope is reset with its bindings cleared, so the SQLITE_STATIC pointers we
// bind never outlive the call that owns them. Writes run in BEGIN IMMEDIATE transactions:
// the write lock is taken up front, so a compare-and-set cannot lose a race half-way.
// Anything SQLite refuses at run time (busy, I/O, constraint) is rolled back and answered
// as a status; only the constructor throws. One std::mutex serialises the connection,
// which is opened NOMUTEX so SQLite does not take a second lock of its own.
#include "sqlite_store.hpp"

#include <sqlite3.h>

#include <chrono>
#include <climits>
#include <stdexcept>
#include <thread>
#include <utility>

namespace shub::auth {
namespace {

// seen_jtis came later without a new version: CREATE TABLE IF NOT EXISTS adds it to a
// version-1 file, and an older build opening a file that has it simply never reads it.
constexpr int schema_version = 1;

// Partial indexes: the lists only ever ask for active sessions, and ending a session takes
// it out of them. created_at and sid in the key let the index answer the ORDER BY.
constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS sessions (
  sid TEXT PRIMARY KEY NOT NULL,
  sub TEXT NOT NULL, device_id TEXT NOT NULL, idp_sid TEXT NOT NULL,
  claims TEXT NOT NULL, amr TEXT NOT NULL,
  created_at INTEGER NOT NULL, auth_time INTEGER NOT NULL,
  idle_expires_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  idle_timeout_ms INTEGER NOT NULL, version INTEGER NOT NULL,
  state INTEGER NOT NULL, end_reason TEXT NOT NULL, ended_at INTEGER NOT NULL,
  rt_generation INTEGER NOT NULL, rt_rotated_at INTEGER NOT NULL,
  rt_successor BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_by_sub ON sessions(sub, created_at, sid) WHERE state = 0;
CREATE INDEX IF NOT EXISTS sessions_by_device
  ON sessions(device_id, created_at, sid) WHERE state = 0;
CREATE INDEX IF NOT EXISTS sessions_by_idp_sid
  ON sessions(idp_sid, created_at, sid) WHERE state = 0;
CREATE TABLE IF NOT EXISTS refresh_tokens (
  hash BLOB PRIMARY KEY NOT NULL,
  sid TEXT NOT NULL REFERENCES sessions(sid) ON DELETE CASCADE,
  generation INTEGER NOT NULL
) WITHOUT ROWID, STRICT;
CREATE INDEX IF NOT EXISTS refresh_tokens_by_sid ON refresh_tokens(sid);
CREATE TABLE IF NOT EXISTS seen_jtis (
  id TEXT PRIMARY KEY NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID, STRICT;
)sql";

// Columns in two groups. The keys are what some index holds (the partial indexes' WHERE
// reads state); the payload is the rest. A write that sets only payload columns dirties one
// page instead of four, which is most of a rotation's cost in WAL mode.
constexpr const char* key_columns = "sub, device_id, idp_sid, created_at, state";
constexpr const char* payload_columns =
    "claims, amr, auth_time, idle_expires_at, expires_at, idle_timeout_ms, version, "
    "end_reason, ended_at, rt_generation, rt_rotated_at, rt_successor";
constexpr const char* key_assignments =
    "sub = ?, device_id = ?, idp_sid = ?, created_at = ?, state = ?, ";
constexpr const char* payload_assignments =
    "claims = ?, amr = ?, auth_time = ?, idle_expires_at = ?, expires_at = ?, "
    "idle_timeout_ms = ?, version = ?, end_reason = ?, ended_at = ?, rt_generation = ?, "
    "rt_rotated_at = ?, rt_successor = ?";
constexpr const char* keys_unchanged =
    " AND sub = ? AND device_id = ? AND idp_sid = ? AND created_at = ? AND state = ?";

struct db_closer {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct stmt_finalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using db_ptr = std::unique_ptr<sqlite3, db_closer>;
using stmt_ptr = std::unique_ptr<sqlite3_stmt, stmt_finalizer>;

// One use of a prepared statement. The first bind error is kept and returned by step().
class use {
 public:
  explicit use(const stmt_ptr& s) : s_(s.get()) {}
  ~use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  use(const use&) = delete;
  use& operator=(const use&) = delete;

  // An empty view may have a null data(), which SQLite would bind as NULL, not as "".
  use& text(std::string_view v) {
    if (v.size() > INT_MAX) return keep(SQLITE_TOOBIG);
    return keep(sqlite3_bind_text(s_, ++n_, v.empty() ? "" : v.data(), static_cast<int>(v.size()),
                                  SQLITE_STATIC));
  }
  use& blob(std::string_view v) {
    if (v.size() > INT_MAX) return keep(SQLITE_TOOBIG);
    return keep(sqlite3_bind_blob(s_, ++n_, v.empty() ? "" : v.data(), static_cast<int>(v.size()),
                                  SQLITE_STATIC));
  }
  use& integer(std::int64_t v) { return keep(sqlite3_bind_int64(s_, ++n_, v)); }

  [[nodiscard]] int step() { return rc_ == SQLITE_OK ? sqlite3_step(s_) : rc_; }
  [[nodiscard]] sqlite3_stmt* get() const { return s_; }

 private:
  use& keep(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
    return *this;
  }
  sqlite3_stmt* s_;
  int n_ = 0;
  int rc_ = SQLITE_OK;
};

std::string column_bytes(sqlite3_stmt* s, int i) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
  if (p == nullptr) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i)));
}

// Reads sid, then the keys, then the payload, in the order of the lists above.
session read_session(sqlite3_stmt* st) {
  session s;
  s.sid = column_bytes(st, 0);
  s.sub = column_bytes(st, 1);
  s.device_id = column_bytes(st, 2);
  s.idp_sid = column_bytes(st, 3);
  s.created_at = sqlite3_column_int64(st, 4);
  // Fail closed: a state we do not know is not active.
  s.state = sqlite3_column_int64(st, 5) == 0 ? session_state::active : session_state::revoked;
  s.claims_json = column_bytes(st, 6);
  s.amr_json = column_bytes(st, 7);
  s.auth_time = sqlite3_column_int64(st, 8);
  s.idle_expires_at = sqlite3_column_int64(st, 9);
  s.expires_at = sqlite3_column_int64(st, 10);
  s.idle_timeout_ms = sqlite3_column_int64(st, 11);
  s.version = static_cast<std::uint64_t>(sqlite3_column_int64(st, 12));
  s.end_reason = column_bytes(st, 13);
  s.ended_at = sqlite3_column_int64(st, 14);
  s.rt_generation = static_cast<std::uint64_t>(sqlite3_column_int64(st, 15));
  s.rt_rotated_at = sqlite3_column_int64(st, 16);
  s.rt_successor = column_bytes(st, 17);
  return s;
}

void bind_keys(use& u, const session& s) {
  u.text(s.sub).text(s.device_id).text(s.idp_sid).integer(s.created_at);
  u.integer(static_cast<std::int64_t>(s.state));
}

void bind_payload(use& u, const session& s) {
  u.text(s.claims_json).text(s.amr_json).integer(s.auth_time).integer(s.idle_expires_at);
  u.integer(s.expires_at).integer(s.idle_timeout_ms).integer(static_cast<std::int64_t>(s.version));
  u.text(s.end_reason).integer(s.ended_at).integer(static_cast<std::int64_t>(s.rt_generation));
  u.integer(s.rt_rotated_at).blob(s.rt_successor);
}

// For a statement that reads one row: that row, no row, or an error.
store_status row_status(int rc) {
  if (rc == SQLITE_ROW) return store_status::ok;
  return rc == SQLITE_DONE ? store_status::not_found : store_status::unavailable;
}

bool is_duplicate_key(int rc) {
  return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

}  // namespace

struct sqlite_store::impl {
  std::string path;
  db_ptr db;
  stmt_ptr begin, commit, rollback, ping;
  stmt_ptr insert_session, insert_refresh, update_payload, update_all, exists;
  stmt_ptr get, find_refresh, by_sub, by_device, by_idp_sid, count_active, purge;
  stmt_ptr remember_jti, purge_jtis;

  explicit impl(const std::string& p) : path(p) {
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db.reset(raw);
    if (rc != SQLITE_OK) fail("cannot open");
    sqlite3_extended_result_codes(raw, 1);
    exec("PRAGMA busy_timeout = 5000");
    if (path != ":memory:") {
      // Switching a fresh file to WAL takes an exclusive lock and may answer SQLITE_BUSY
      // without waiting when another process opens the same file at that moment (replicas
      // sharing one file on one machine): retried for up to the busy timeout.
      const stmt_ptr wal = prepare("PRAGMA journal_mode = WAL");
      int rc = SQLITE_BUSY;
      for (int attempt = 0; attempt < 100; ++attempt) {
        use u(wal);
        rc = u.step();
        if (rc == SQLITE_ROW) {
          if (column_bytes(u.get(), 0) != "wal") fail("cannot switch to WAL journal mode");
          break;
        }
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (rc != SQLITE_ROW) fail("cannot switch to WAL journal mode");
    }
    // 32 MiB of page cache instead of 2: the indexes of a busy hub stay in memory.
    exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768");

    const stmt_ptr version = prepare("PRAGMA user_version");
    std::int64_t found = 0;
    {
      use u(version);
      if (u.step() != SQLITE_ROW) fail("cannot read the schema version");
      found = sqlite3_column_int64(u.get(), 0);
    }
    if (found > schema_version) {
      throw std::runtime_error("sqlite_store: '" + path + "' has schema version " +
                               std::to_string(found) + ", newer than this build's " +
                               std::to_string(schema_version));
    }
    exec("BEGIN IMMEDIATE");
    exec(schema_sql);
    exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    exec("COMMIT");

    const std::string cols = std::string("sid, ") + key_columns + ", " + payload_columns;
    const std::string select = "SELECT " + cols + " FROM sessions WHERE ";
    const std::string active_order = " = ? AND state = 0 ORDER BY created_at, sid";
    const std::string set = std::string("UPDATE sessions SET ");
    begin = prepare("BEGIN IMMEDIATE");
    commit = prepare("COMMIT");
    rollback = prepare("ROLLBACK");
    ping = prepare("SELECT 1");
    insert_session = prepare("INSERT INTO sessions (" + cols +
                             ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert_refresh = prepare("INSERT INTO refresh_tokens (hash, sid, generation) VALUES (?, ?, ?)");
    update_payload =
        prepare(set + payload_assignments + " WHERE sid = ? AND version = ?" + keys_unchanged);
    update_all =
        prepare(set + key_assignments + payload_assignments + " WHERE sid = ? AND version = ?");
    exists = prepare("SELECT 1 FROM sessions WHERE sid = ?");
    get = prepare(select + "sid = ?");
    find_refresh = prepare("SELECT hash, sid, generation FROM refresh_tokens WHERE hash = ?");
    by_sub = prepare(select + "sub" + active_order);
    by_device = prepare(select + "device_id" + active_order);
    by_idp_sid = prepare(select + "idp_sid" + active_order);
    count_active = prepare(
        "SELECT count(*) FROM sessions WHERE state = 0 AND expires_at > ?1 AND "
        "idle_expires_at > ?1");
    purge = prepare("DELETE FROM sessions WHERE (state = 1 AND ended_at < ?1) OR expires_at < ?1");
    // A new id inserts; a known one whose record expired is taken over; a live one changes
    // nothing, which sqlite3_changes reports as 0.
    remember_jti = prepare(
        "INSERT INTO seen_jtis (id, expires_at) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET "
        "expires_at = excluded.expires_at WHERE seen_jtis.expires_at <= ?3");
    purge_jtis = prepare("DELETE FROM seen_jtis WHERE expires_at < ?1");
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("sqlite_store: " + what + " '" + path +
                             "': " + sqlite3_errmsg(db.get()));
  }
  void exec(const char* sql) {
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail("cannot set up");
  }
  stmt_ptr prepare(const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v3(db.get(), sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
      fail("cannot prepare \"" + sql + "\" on");
    }
    return stmt_ptr(raw);
  }

  // Runs a statement without parameters or rows: BEGIN, COMMIT, ROLLBACK.
  bool run(const stmt_ptr& s) {
    use u(s);
    return u.step() == SQLITE_DONE;
  }
  // Ends the open transaction, if SQLite has not already rolled it back, and answers `st`.
  store_status abort(store_status st) {
    if (sqlite3_get_autocommit(db.get()) == 0) (void)run(rollback);
    return st;
  }
  store_status finish() {
    return run(commit) ? store_status::ok : abort(store_status::unavailable);
  }

  // One of the two compare-and-set UPDATEs; they differ in whether the keys are set or
  // matched, so in where the key parameters go.
  int write(const session& s, std::uint64_t expected, bool payload_only, sqlite3_int64& changed) {
    use u(payload_only ? update_payload : update_all);
    if (!payload_only) bind_keys(u, s);
    bind_payload(u, s);
    u.text(s.sid).integer(static_cast<std::int64_t>(expected));
    if (payload_only) bind_keys(u, s);
    const int rc = u.step();
    changed = sqlite3_changes64(db.get());
    return rc;
  }

  int insert_rt(const refresh_record& rt) {
    use u(insert_refresh);
    u.blob(rt.hash).text(rt.sid).integer(static_cast<std::int64_t>(rt.generation));
    return u.step();
  }

  store_result<std::vector<session>> list(const stmt_ptr& s, std::string_view key) {
    store_result<std::vector<session>> out;
    use u(s);
    u.text(key);
    int rc = SQLITE_OK;
    while ((rc = u.step()) == SQLITE_ROW)
      out.value.push_back(read_session(u.get()));
    if (rc != SQLITE_DONE) return {store_status::unavailable, {}};
    return out;
  }
};

sqlite_store::sqlite_store(const std::string& path) : impl_(std::make_unique<impl>(path)) {}

sqlite_store::~sqlite_store() = default;

store_status sqlite_store::ping() {
  std::lock_guard lock(mutex_);
  use u(impl_->ping);
  return u.step() == SQLITE_ROW ? store_status::ok : store_status::unavailable;
}

store_status sqlite_store::create(const session& s, const refresh_record& rt) {
  std::lock_guard lock(mutex_);
  impl& d = *impl_;
  if (!d.run(d.begin)) return d.abort(store_status::unavailable);
  int rc = SQLITE_OK;
  {
    use u(d.insert_session);
    u.text(s.sid);
    bind_keys(u, s);
    bind_payload(u, s);
    rc = u.step();
  }
  if (rc == SQLITE_DONE) rc = d.insert_rt(rt);
  if (rc != SQLITE_DONE) {
    return d.abort(is_duplicate_key(rc) ? store_status::conflict : store_status::unavailable);
  }
  return d.finish();
}

store_result<session> sqlite_store::get(std::string_view sid) {
  std::lock_guard lock(mutex_);
  use u(impl_->get);
  u.text(sid);
  store_result<session> out{row_status(u.step()), {}};
  if (out.ok()) out.value = read_session(u.get());
  return out;
}

store_result<refresh_record> sqlite_store::find_refresh(std::string_view hash) {
  std::lock_guard lock(mutex_);
  use u(impl_->find_refresh);
  u.blob(hash);
  store_result<refresh_record> out{row_status(u.step()), {}};
  if (!out.ok()) return out;
  out.value.hash = column_bytes(u.get(), 0);
  out.value.sid = column_bytes(u.get(), 1);
  out.value.generation = static_cast<std::uint64_t>(sqlite3_column_int64(u.get(), 2));
  return out;
}

store_status sqlite_store::update(const session& s, std::uint64_t expected_version,
                                  const refresh_record* new_rt) {
  std::lock_guard lock(mutex_);
  impl& d = *impl_;
  if (!d.run(d.begin)) return d.abort(store_status::unavailable);
  // Most updates (rotation, activity) leave the keys alone: try the one-page write, whose
  // WHERE also checks that, and only if it matches nothing the write of every column.
  sqlite3_int64 changed = 0;
  int rc = d.write(s, expected_version, true, changed);
  if (rc == SQLITE_DONE && changed == 0) rc = d.write(s, expected_version, false, changed);
  if (rc != SQLITE_DONE) return d.abort(store_status::unavailable);
  if (changed == 0) {
    store_status st = store_status::unavailable;
    {
      use u(d.exists);
      u.text(s.sid);
      st = row_status(u.step());
    }
    return d.abort(st == store_status::ok ? store_status::conflict : st);
  }
  if (new_rt != nullptr && d.insert_rt(*new_rt) != SQLITE_DONE) {
    return d.abort(store_status::unavailable);
  }
  return d.finish();
}

store_result<std::vector<session>> sqlite_store::list_by_sub(std::string_view sub) {
  std::lock_guard lock(mutex_);
  return impl_->list(impl_->by_sub, sub);
}

store_result<std::vector<session>> sqlite_store::list_by_device(std::string_view device_id) {
  std::lock_guard lock(mutex_);
  return impl_->list(impl_->by_device, device_id);
}

store_result<std::vector<session>> sqlite_store::list_by_idp_sid(std::string_view idp_sid) {
  std::lock_guard lock(mutex_);
  return impl_->list(impl_->by_idp_sid, idp_sid);
}

store_result<std::int64_t> sqlite_store::count_active(std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  use u(impl_->count_active);
  u.integer(now_ms);
  if (u.step() != SQLITE_ROW) return {store_status::unavailable, 0};
  return {store_status::ok, sqlite3_column_int64(u.get(), 0)};
}

store_result<bool> sqlite_store::remember_jti(std::string_view id, std::int64_t expires_at_ms,
                                              std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  use u(impl_->remember_jti);
  u.text(id).integer(expires_at_ms).integer(now_ms);
  if (u.step() != SQLITE_DONE) return {store_status::unavailable, false};
  return {store_status::ok, sqlite3_changes64(impl_->db.get()) == 1};
}

// The refresh tokens go with their sessions through ON DELETE CASCADE; sqlite3_changes
// counts only the sessions themselves.
store_result<std::int64_t> sqlite_store::purge(std::int64_t before_ms) {
  std::lock_guard lock(mutex_);
  {
    use j(impl_->purge_jtis);
    j.integer(before_ms);
    if (j.step() != SQLITE_DONE) return {store_status::unavailable, 0};
  }
  use u(impl_->purge);
  u.integer(before_ms);
  if (u.step() != SQLITE_DONE) return {store_status::unavailable, 0};
  return {store_status::ok, sqlite3_changes64(impl_->db.get())};
}

}  // namespace shub::auth
