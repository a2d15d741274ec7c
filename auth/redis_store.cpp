// redis_store: see redis_store.hpp for the key layout and the failure rules.
// The connections and the pool are in redis_connection.cpp.
#include "redis_store.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include "crypto.hpp"
#include "redis_connection.hpp"

namespace shub::auth {

namespace {

using redis::argv_t;
using redis::parse_int;
using redis::reply_ptr;
using redis::text_of;

// The writes of a session, each one atomic Lua script. KEYS: the session's hash, the active
// set, and (when given) the refresh record to record. Every key is declared in KEYS, but they
// are in different hash slots: under Redis Cluster these scripts would be refused
// (CROSSSLOT). That is accepted because the hub talks to one server (a primary) and does not
// follow cluster redirects (README "Several replicas"); one script is one round trip and
// makes the refresh record, the session and the active-set entry change together, where
// separate commands would take three round trips and leave windows between them.
//
// create — ARGV: expire-at (ms), active score ("" when not active), sid, record value,
// record TTL (ms), then the session's field/value pairs. 1 created; 0 the sid exists;
// -3 the refresh hash is recorded already (SET NX: a hash has one owner). Nothing is
// written unless it answers 1.
constexpr const char* create_lua = R"(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if not redis.call('SET', KEYS[3], ARGV[4], 'NX', 'PX', ARGV[5]) then return -3 end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3]) end
return 1)";
// update — the compare-and-set. ARGV: expected version, expire-at (ms), active score (""
// when the session is no longer active), sid, index check, record value and record TTL (ms)
// (both "" without a record), the session's sub, device id, idp sid and absolute expiry,
// then the field/value pairs. Index check "1": the session is active and its index entries
// must be those of the stored session (active, same keys, same absolute expiry, so the
// entries written for it stand and live long enough), else the script answers -2 and
// writes nothing, and the caller writes them first; "0": no index entries are needed, or
// they were written. 1 written; 0 the version moved on; -1 no such session; -2 index
// entries first; -3 the refresh hash is recorded already. Nothing is written unless it
// answers 1, so a losing write leaves no refresh record behind. Few calls inside: a script's
// cost in Redis is mostly per call.
constexpr const char* update_lua = R"(
local cur = redis.call('HMGET', KEYS[1], 'version', 'state', 'sub', 'did', 'idp', 'exp')
if not cur[1] then return -1 end
if cur[1] ~= ARGV[1] then return 0 end
if ARGV[5] == '1' and (cur[2] ~= '0' or cur[3] ~= ARGV[8] or cur[4] ~= ARGV[9] or
                       cur[5] ~= ARGV[10] or cur[6] ~= ARGV[11]) then
  return -2
end
if #KEYS == 3 and not redis.call('SET', KEYS[3], ARGV[6], 'NX', 'PX', ARGV[7]) then
  return -3
end
redis.call('HSET', KEYS[1], unpack(ARGV, 12))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[4])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
end
return 1)";
// An index SET: add the sid and make the set live at least until ARGV[2] ms from now.
constexpr const char* index_lua = R"(
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[2])
if ttl < 0 or ttl < want then redis.call('PEXPIRE', KEYS[1], want) end
return 1)";

// Hashed once, on first use.
const redis::script& create_script() {
  static const redis::script s(create_lua);
  return s;
}
const redis::script& update_script() {
  static const redis::script s(update_lua);
  return s;
}
const redis::script& index_script() {
  static const redis::script s(index_lua);
  return s;
}

constexpr const char* active_key = "shub:active";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The session as HSET field/value pairs.
void append_fields(argv_t& a, const session& s) {
  const auto put = [&](const char* k, std::string v) {
    a.emplace_back(k);
    a.push_back(std::move(v));
  };
  put("sid", s.sid);
  put("sub", s.sub);
  put("did", s.device_id);
  put("idp", s.idp_sid);
  put("claims", s.claims_json);
  put("amr", s.amr_json);
  put("created", std::to_string(s.created_at));
  put("auth", std::to_string(s.auth_time));
  put("idle", std::to_string(s.idle_expires_at));
  put("exp", std::to_string(s.expires_at));
  put("idle_ms", std::to_string(s.idle_timeout_ms));
  put("version", std::to_string(s.version));
  put("state", s.active() ? "0" : "1");
  put("reason", s.end_reason);
  put("ended", std::to_string(s.ended_at));
  put("gen", std::to_string(s.rt_generation));
  put("rotated", std::to_string(s.rt_rotated_at));
  put("succ", s.rt_successor);
}

// HGETALL's answer → session; nullopt when a field is missing or malformed.
std::optional<session> read_fields(const redisReply* r) {
  std::map<std::string_view, std::string_view> f;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    f[text_of(r->element[i])] = text_of(r->element[i + 1]);
  }
  session s;
  const auto str = [&](const char* k, std::string& out) {
    const auto it = f.find(k);
    if (it == f.end()) return false;
    out.assign(it->second);
    return true;
  };
  const auto num = [&](const char* k, auto& out) {
    const auto it = f.find(k);
    return it != f.end() && parse_int(it->second, out);
  };
  int state = 0;
  const bool ok =
      str("sid", s.sid) && str("sub", s.sub) && str("did", s.device_id) && str("idp", s.idp_sid) &&
      str("claims", s.claims_json) && str("amr", s.amr_json) && num("created", s.created_at) &&
      num("auth", s.auth_time) && num("idle", s.idle_expires_at) && num("exp", s.expires_at) &&
      num("idle_ms", s.idle_timeout_ms) && num("version", s.version) && num("state", state) &&
      str("reason", s.end_reason) && num("ended", s.ended_at) && num("gen", s.rt_generation) &&
      num("rotated", s.rt_rotated_at) && str("succ", s.rt_successor);
  if (!ok || (state != 0 && state != 1)) return std::nullopt;
  s.state = state == 0 ? session_state::active : session_state::revoked;
  return s;
}

std::string tagged(const char* prefix, std::string_view value) {
  std::string k = prefix;
  k += '{';
  k.append(value);
  k += '}';
  return k;
}

// The index script's keys and arguments for one index key.
argv_t index_entry(const std::string& key, const std::string& sid, std::int64_t ttl_ms) {
  return {key, sid, std::to_string(std::max<std::int64_t>(ttl_ms, 1000))};
}

}  // namespace

std::string redis_store::session_key(std::string_view sid) {
  return tagged("shub:s:", sid);
}
std::string redis_store::refresh_key(std::string_view hash) {
  return "shub:rt:" + to_hex(hash);
}

namespace {

// When the session's keys may go: the retention after its end (or absolute expiry), and
// never sooner than the retention after this write (clocks of replicas differ a little).
std::int64_t expire_at(const session& s, std::int64_t retention_ms) {
  const std::int64_t end =
      s.active() || s.ended_at <= 0 ? s.expires_at : std::min(s.expires_at, s.ended_at);
  return std::max(end, now_ms()) + retention_ms;
}

// shub:active's score: the first expiry of an active session.
std::string active_score(const session& s) {
  return std::to_string(std::min(s.idle_expires_at, s.expires_at));
}

std::string record_value(const refresh_record& rt) {
  return rt.sid + " " + std::to_string(rt.generation);
}

std::string record_ttl(std::int64_t ttl_ms) {
  return std::to_string(std::max<std::int64_t>(ttl_ms, 1000));
}

// The index script's keys and arguments for each of a session's index keys.
std::vector<argv_t> index_args(const session& s, std::int64_t ttl_ms) {
  std::vector<argv_t> out{index_entry(tagged("shub:sub:", s.sub), s.sid, ttl_ms)};
  if (!s.device_id.empty())
    out.push_back(index_entry(tagged("shub:did:", s.device_id), s.sid, ttl_ms));
  if (!s.idp_sid.empty()) out.push_back(index_entry(tagged("shub:idp:", s.idp_sid), s.sid, ttl_ms));
  return out;
}

}  // namespace

// --- calls --------------------------------------------------------------------------------

store_status redis_store::ping() {
  lease l(*this);
  if (!l.ready()) return store_status::unavailable;
  const auto r = l.command({"PING"});
  return r && text_of(r.get()) == "PONG" ? store_status::ok : store_status::unavailable;
}

store_status redis_store::create(const session& s, const refresh_record& rt) {
  lease l(*this);
  if (!l.ready()) return store_status::unavailable;
  const std::int64_t until = expire_at(s, options_.retention_ms);
  const std::int64_t ttl = until - now_ms();
  // The index entries first (a crash after them leaves entries the lists filter out), then
  // the record, the session and its active-set entry in one script.
  if (!l.run_each(index_script(), index_args(s, ttl), 1)) return store_status::unavailable;
  argv_t args{session_key(s.sid),
              active_key,
              refresh_key(rt.hash),
              std::to_string(until),
              s.active() ? active_score(s) : std::string(),
              s.sid,
              record_value(rt),
              record_ttl(ttl)};
  append_fields(args, s);
  const auto r = l.run(create_script(), args, 3);
  if (!r || r->type != REDIS_REPLY_INTEGER) return store_status::unavailable;
  // 0: the sid exists; -3: the refresh hash belongs to another session (one owner).
  return r->integer == 1 ? store_status::ok : store_status::conflict;
}

// A session's HGETALL reply: not_found when the hash is empty (no such key).
store_result<session> redis_store::session_of(const redisReply* r, std::string_view sid) {
  if (r->type != REDIS_REPLY_ARRAY) return {store_status::unavailable, {}};
  if (r->elements == 0) return {store_status::not_found, {}};
  auto s = read_fields(r);
  if (!s) {
    note_error("session " + std::string(sid) + ": malformed hash");
    return {store_status::unavailable, {}};
  }
  return {store_status::ok, std::move(*s)};
}

// A refresh record's GET reply, "<sid> <generation>".
store_result<refresh_record> redis_store::refresh_of(const redisReply* r, std::string_view hash) {
  if (r->type == REDIS_REPLY_NIL) return {store_status::not_found, {}};
  const std::string_view v = text_of(r);
  const auto space = v.rfind(' ');
  refresh_record rec;
  if (space == std::string_view::npos || !parse_int(v.substr(space + 1), rec.generation)) {
    note_error("refresh record: malformed");
    return {store_status::unavailable, {}};
  }
  rec.hash.assign(hash);
  rec.sid.assign(v.substr(0, space));
  return {store_status::ok, std::move(rec)};
}

store_result<session> redis_store::get(std::string_view sid) {
  for (int attempt = 0; attempt < 2; ++attempt) {  // a read may retry on a fresh connection
    lease l(*this);
    if (!l.ready()) return {store_status::unavailable, {}};
    const auto r = l.command({"HGETALL", session_key(sid)});
    if (!r) continue;
    return session_of(r.get(), sid);
  }
  return {store_status::unavailable, {}};
}

store_result<refresh_record> redis_store::find_refresh(std::string_view hash) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    lease l(*this);
    if (!l.ready()) return {store_status::unavailable, {}};
    const auto r = l.command({"GET", refresh_key(hash)});
    if (!r) continue;
    return refresh_of(r.get(), hash);
  }
  return {store_status::unavailable, {}};
}

store_result<refresh_lookup> redis_store::find_refresh_and_session(std::string_view hash,
                                                                   std::string_view sid_hint) {
  if (sid_hint.empty()) return session_store::find_refresh_and_session(hash, sid_hint);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<redis::reply_ptr> replies;
    {
      lease l(*this);
      if (!l.ready()) return {store_status::unavailable, {}};
      replies = l.pipeline({{"GET", refresh_key(hash)}, {"HGETALL", session_key(sid_hint)}});
    }
    if (replies.size() != 2) continue;
    auto rec = refresh_of(replies[0].get(), hash);
    if (!rec.ok()) return {rec.status, {}};
    // The hint is only a guess: the record's own sid decides which session is read.
    auto s =
        rec.value.sid == sid_hint ? session_of(replies[1].get(), sid_hint) : get(rec.value.sid);
    if (!s.ok()) return {s.status, {}};
    return {store_status::ok, {std::move(rec.value), std::move(s.value)}};
  }
  return {store_status::unavailable, {}};
}

store_status redis_store::update(const session& s, std::uint64_t expected_version,
                                 const refresh_record* new_rt) {
  lease l(*this);
  if (!l.ready()) return store_status::unavailable;
  const std::int64_t until = expire_at(s, options_.retention_ms);
  const std::int64_t ttl = until - now_ms();
  // An active session's index entries must exist before the write that makes it reachable
  // under those keys. When its keys and its absolute expiry are what the stored session has
  // (every rotation and extend: they are set at creation), the entries written then still
  // stand and live long enough; the script checks that and otherwise answers -2, and the
  // entries are written here before the script is run again. Past its absolute expiry
  // (`until` then moves with the clock) they are written every time.
  const bool check_index = s.active() && s.expires_at > now_ms();
  bool index_written = !s.active();
  if (!check_index && !index_written) {
    if (!l.run_each(index_script(), index_args(s, ttl), 1)) return store_status::unavailable;
    index_written = true;
  }
  argv_t args{session_key(s.sid), active_key};
  if (new_rt != nullptr) args.push_back(refresh_key(new_rt->hash));
  const int numkeys = static_cast<int>(args.size());
  args.insert(args.end(),
              {std::to_string(expected_version), std::to_string(until),
               s.active() ? active_score(s) : std::string(), s.sid, index_written ? "0" : "1",
               new_rt != nullptr ? record_value(*new_rt) : std::string(),
               new_rt != nullptr ? record_ttl(ttl) : std::string(), s.sub, s.device_id, s.idp_sid,
               std::to_string(s.expires_at)});
  const std::size_t index_flag = static_cast<std::size_t>(numkeys) + 4;
  append_fields(args, s);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto r = l.run(update_script(), args, numkeys);
    if (!r || r->type != REDIS_REPLY_INTEGER) return store_status::unavailable;
    switch (r->integer) {
      case 1:
        return store_status::ok;
      case 0:
        return store_status::conflict;
      case -1:
        return store_status::not_found;
      case -2:  // the keys changed: their index entries first, then the write again
        if (attempt > 0 || !l.run_each(index_script(), index_args(s, ttl), 1)) {
          return store_status::unavailable;
        }
        args[index_flag] = "0";
        continue;
      case -3:
        note_error("refresh token hash already recorded");  // SET NX: never two owners
        return store_status::unavailable;
      default:
        break;
    }
    break;
  }
  note_error("update script: unexpected answer");
  return store_status::unavailable;
}

store_result<std::vector<session>> redis_store::list(const std::string& index_key,
                                                     std::string_view session_field,
                                                     std::string_view value) {
  lease l(*this);
  if (!l.ready()) return {store_status::unavailable, {}};
  const auto members = l.command({"SMEMBERS", index_key});
  if (!members || members->type != REDIS_REPLY_ARRAY) return {store_status::unavailable, {}};
  std::vector<std::string> sids;
  std::vector<argv_t> reads;
  for (std::size_t i = 0; i < members->elements; ++i) {
    sids.emplace_back(text_of(members->element[i]));
    reads.push_back({"HGETALL", session_key(sids.back())});
  }
  store_result<std::vector<session>> out;
  if (sids.empty()) return out;
  const auto replies = l.pipeline(reads);
  if (replies.size() != sids.size()) return {store_status::unavailable, {}};
  argv_t stale{"SREM", index_key};
  for (std::size_t i = 0; i < sids.size(); ++i) {
    const redisReply* r = replies[i].get();
    if (r->type != REDIS_REPLY_ARRAY) return {store_status::unavailable, {}};
    auto s = r->elements == 0 ? std::nullopt : read_fields(r);
    const bool matches = s && s->active() &&
                         (session_field == "sub"   ? s->sub == value
                          : session_field == "did" ? s->device_id == value
                                                   : s->idp_sid == value);
    if (matches) {
      out.value.push_back(std::move(*s));
    } else {
      stale.push_back(sids[i]);
    }
  }
  if (stale.size() > 2) (void)l.command(stale);  // tidying only
  std::sort(out.value.begin(), out.value.end(), [](const session& a, const session& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.sid < b.sid;
  });
  return out;
}

store_result<std::vector<session>> redis_store::list_by_sub(std::string_view sub) {
  return list(tagged("shub:sub:", sub), "sub", sub);
}

store_result<std::vector<session>> redis_store::list_by_device(std::string_view device_id) {
  return list(tagged("shub:did:", device_id), "did", device_id);
}

store_result<std::vector<session>> redis_store::list_by_idp_sid(std::string_view idp_sid) {
  return list(tagged("shub:idp:", idp_sid), "idp", idp_sid);
}

store_result<std::int64_t> redis_store::count_active(std::int64_t now_ms_value) {
  lease l(*this);
  if (!l.ready()) return {store_status::unavailable, 0};
  const auto r = l.command({"ZCOUNT", active_key, "(" + std::to_string(now_ms_value), "+inf"});
  if (!r || r->type != REDIS_REPLY_INTEGER) return {store_status::unavailable, 0};
  return {store_status::ok, r->integer};
}

// One SET NX, never retried: had a first attempt reached Redis and its answer been lost, a
// second would see the id and call a first sight a replay.
store_result<bool> redis_store::remember_jti(std::string_view id, std::int64_t expires_at_ms,
                                             std::int64_t now_ms_value) {
  lease l(*this);
  if (!l.ready()) return {store_status::unavailable, false};
  const std::int64_t ttl = std::max<std::int64_t>(expires_at_ms - now_ms_value, 1);
  const auto r =
      l.command({"SET", "shub:jti:" + std::string(id), "1", "NX", "PX", std::to_string(ttl)});
  if (!r) return {store_status::unavailable, false};
  if (r->type == REDIS_REPLY_NIL) return {store_status::ok, false};
  if (text_of(r.get()) == "OK") return {store_status::ok, true};
  note_error("SET NX: unexpected answer");
  return {store_status::unavailable, false};
}

store_result<std::int64_t> redis_store::purge(std::int64_t before_ms) {
  lease l(*this);
  if (!l.ready()) return {store_status::unavailable, 0};
  const auto r =
      l.command({"ZREMRANGEBYSCORE", active_key, "-inf", "(" + std::to_string(before_ms)});
  if (!r) return {store_status::unavailable, 0};
  return {store_status::ok, 0};
}

}  // namespace shub::auth
