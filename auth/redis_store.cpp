// redis_store: see redis_store.hpp for the key layout and the failure rules.
#include "redis_store.hpp"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <stdexcept>

#include "crypto.hpp"

namespace shub::auth {

namespace {

using argv_t = std::vector<std::string>;

struct reply_free {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_free>;

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
constexpr const char* create_script = R"(
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
constexpr const char* update_script = R"(
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
constexpr const char* index_script = R"(
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
local want = tonumber(ARGV[2])
if ttl < 0 or ttl < want then redis.call('PEXPIRE', KEYS[1], want) end
return 1)";

constexpr const char* active_key = "shub:active";

std::string sha1_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  return to_hex(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

template <class T>
bool parse_int(std::string_view text, T& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

std::string_view text_of(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
               r->type == REDIS_REPLY_ERROR)
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

// hiredis's argv form of a command: pointers and lengths (binary-safe).
struct argv_view {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  explicit argv_view(const argv_t& args) {
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  [[nodiscard]] int argc() const { return static_cast<int>(argv.size()); }
};

reply_ptr send_command(redisContext* ctx, const argv_t& args) {
  argv_view v(args);
  return reply_ptr(
      static_cast<redisReply*>(redisCommandArgv(ctx, v.argc(), v.argv.data(), v.lens.data())));
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

// The index script for one index key, as a pipeline entry (see lease::load_index_script).
argv_t index_command(const std::string& key, const std::string& sid, std::int64_t ttl_ms) {
  static const std::string sha = sha1_hex(index_script);
  return {"EVALSHA", sha, "1", key, sid, std::to_string(std::max<std::int64_t>(ttl_ms, 1000))};
}

}  // namespace

// --- options ------------------------------------------------------------------------------

redis_options redis_options::parse_url(const std::string& url) {
  constexpr std::string_view scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("not a redis:// URL: " + url);
  std::string rest = url.substr(scheme.size());
  redis_options o;
  const auto at = rest.rfind('@');
  if (at != std::string::npos) {
    const std::string credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = credentials.find(':');
    if (colon == std::string::npos) {
      o.password = credentials;
    } else {
      o.username = credentials.substr(0, colon);
      o.password = credentials.substr(colon + 1);
    }
  }
  const auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) {
    const std::string db = rest.substr(slash + 1);
    if (!db.empty() && (!parse_int(db, o.db) || o.db < 0)) {
      throw std::invalid_argument("redis URL: the database must be a number: " + url);
    }
  }
  const auto colon = hostport.rfind(':');
  if (colon != std::string::npos) {
    if (!parse_int(std::string_view(hostport).substr(colon + 1), o.port) || o.port < 1 ||
        o.port > 65535) {
      throw std::invalid_argument("redis URL: bad port: " + url);
    }
    hostport.resize(colon);
  }
  if (hostport.empty()) throw std::invalid_argument("redis URL without a host: " + url);
  o.host = hostport;
  return o;
}

// --- connections --------------------------------------------------------------------------

struct redis_store::connection {
  redisContext* ctx = nullptr;
  bool index_loaded = false;  // index_script is in this server's script cache
  ~connection() { drop(); }
  void drop() {
    if (ctx != nullptr) redisFree(ctx);
    ctx = nullptr;
    index_loaded = false;
  }
  [[nodiscard]] bool usable() const { return ctx != nullptr && ctx->err == 0; }
  // A connection at rest has nothing to read. Readable (Redis closed it: it restarted, or
  // dropped idle clients) or in error, a command sent on it would fail, and a write is not
  // retried: it is made anew first instead.
  [[nodiscard]] bool stale() const {
    pollfd p{ctx->fd, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }
};

// One connection for the length of a call; back into the pool at the end.
class redis_store::lease {
 public:
  explicit lease(redis_store& store) : store_(store), c_(store.acquire()) {}
  ~lease() {
    if (c_) store_.release(std::move(c_));
  }
  lease(const lease&) = delete;
  lease& operator=(const lease&) = delete;

  // Connected (reconnecting if needed); false when Redis cannot be reached.
  bool ready() {
    if (!c_) {
      store_.note_error("no free connection within the timeout (--redis-pool)");
      return false;
    }
    if (c_->usable() && !c_->stale()) return true;
    c_->drop();
    const auto& o = store_.options_;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(o.timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((o.timeout.count() % 1000) * 1000);
    c_->ctx = redisConnectWithTimeout(o.host.c_str(), o.port, tv);
    if (c_->ctx == nullptr || c_->ctx->err != 0) {
      store_.note_error("connect to " + o.host + ":" + std::to_string(o.port) + ": " +
                        (c_->ctx ? c_->ctx->errstr : "out of memory"));
      c_->drop();
      return false;
    }
    redisSetTimeout(c_->ctx, tv);
    if (!o.password.empty()) {
      argv_t auth{"AUTH"};
      if (!o.username.empty()) auth.push_back(o.username);
      auth.push_back(o.password);
      if (!ok_status(command(auth))) return false;
    }
    if (o.db != 0 && !ok_status(command({"SELECT", std::to_string(o.db)}))) return false;
    return true;
  }

  // One command; null on an I/O error or an error reply (the connection is then dropped).
  reply_ptr command(const argv_t& args) {
    return checked(send_command(c_->ctx, args), args.front());
  }

  // Several commands in one round trip; empty on any failure.
  std::vector<reply_ptr> pipeline(const std::vector<argv_t>& commands) {
    for (const auto& args : commands) {
      argv_view v(args);
      if (redisAppendCommandArgv(c_->ctx, v.argc(), v.argv.data(), v.lens.data()) != REDIS_OK) {
        return fail_pipeline("append");
      }
    }
    std::vector<reply_ptr> out;
    bool all = true;
    for (const auto& args : commands) {
      void* raw = nullptr;
      if (redisGetReply(c_->ctx, &raw) != REDIS_OK) return fail_pipeline(args.front());
      reply_ptr r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_ERROR) {
        store_.note_error(args.front() + ": " + std::string(text_of(r.get())));
        if (text_of(r.get()).rfind("NOSCRIPT", 0) == 0) c_->index_loaded = false;  // flushed
        all = false;  // read the remaining replies so the connection stays in step
      }
      out.push_back(std::move(r));
    }
    if (!all) return {};
    return out;
  }

  // EVALSHA, loading the script with EVAL when Redis does not know it yet.
  reply_ptr script(const char* body, const argv_t& keys_and_args, int numkeys) {
    static const std::string sha_create = sha1_hex(create_script);
    static const std::string sha_update = sha1_hex(update_script);
    static const std::string sha_index = sha1_hex(index_script);
    const std::string& sha = body == create_script   ? sha_create
                             : body == update_script ? sha_update
                                                     : sha_index;
    argv_t args{"EVALSHA", sha, std::to_string(numkeys)};
    args.insert(args.end(), keys_and_args.begin(), keys_and_args.end());
    reply_ptr r = send_command(c_->ctx, args);
    if (r && r->type == REDIS_REPLY_ERROR && text_of(r.get()).rfind("NOSCRIPT", 0) == 0) {
      args[0] = "EVAL";
      args[1] = body;
      r = send_command(c_->ctx, args);
    }
    return checked(std::move(r), "EVAL");
  }

  // Loads the index script (a pipeline of EVALSHA cannot fall back one by one).
  bool load_index_script() {
    if (!c_->index_loaded) c_->index_loaded = ok_status(command({"SCRIPT", "LOAD", index_script}));
    return c_->index_loaded;
  }

 private:
  reply_ptr checked(reply_ptr r, const std::string& what) {
    if (!r) {
      store_.note_error(what + ": " + (c_->ctx->errstr[0] ? c_->ctx->errstr : "no reply"));
      c_->drop();
      return nullptr;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      store_.note_error(what + ": " + std::string(text_of(r.get())));
      return nullptr;
    }
    return r;
  }
  // Set-up commands (AUTH, SELECT, SCRIPT LOAD): a refusal leaves the connection unusable.
  bool ok_status(const reply_ptr& r) {
    if (!r) c_->drop();
    return r != nullptr;
  }
  std::vector<reply_ptr> fail_pipeline(const std::string& what) {
    store_.note_error(what + ": " + (c_->ctx->errstr[0] ? c_->ctx->errstr : "no reply"));
    c_->drop();
    return {};
  }

  redis_store& store_;
  std::unique_ptr<connection> c_;
};

redis_store::redis_store(redis_options options) : options_(std::move(options)) {
  if (options_.pool < 1) options_.pool = 1;
  // hiredis writes with write(2): on a connection Redis has reset that raises SIGPIPE,
  // whose default action ends the process. A broken connection must be an error instead.
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
}

redis_store::~redis_store() = default;

std::unique_ptr<redis_store::connection> redis_store::acquire() {
  std::unique_lock lock(mutex_);
  const bool got = cv_.wait_for(lock, options_.timeout,
                                [&] { return !idle_.empty() || outstanding_ < options_.pool; });
  if (!got) return nullptr;
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return c;
  }
  ++outstanding_;
  return std::make_unique<connection>();
}

void redis_store::release(std::unique_ptr<connection> c) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(c));
  }
  cv_.notify_one();
}

void redis_store::note_error(const std::string& what) {
  std::lock_guard lock(mutex_);
  last_error_ = what;
}

std::string redis_store::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

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

// The index script for each of a session's index keys, for one pipeline.
std::vector<argv_t> index_commands(const session& s, std::int64_t ttl_ms) {
  std::vector<argv_t> out{index_command(tagged("shub:sub:", s.sub), s.sid, ttl_ms)};
  if (!s.device_id.empty())
    out.push_back(index_command(tagged("shub:did:", s.device_id), s.sid, ttl_ms));
  if (!s.idp_sid.empty())
    out.push_back(index_command(tagged("shub:idp:", s.idp_sid), s.sid, ttl_ms));
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
  if (!l.ready() || !l.load_index_script()) return store_status::unavailable;
  const std::int64_t until = expire_at(s, options_.retention_ms);
  const std::int64_t ttl = until - now_ms();
  // The index entries first (a crash after them leaves entries the lists filter out), then
  // the record, the session and its active-set entry in one script.
  if (l.pipeline(index_commands(s, ttl)).empty()) return store_status::unavailable;
  argv_t args{session_key(s.sid),
              active_key,
              refresh_key(rt.hash),
              std::to_string(until),
              s.active() ? active_score(s) : std::string(),
              s.sid,
              record_value(rt),
              record_ttl(ttl)};
  append_fields(args, s);
  const auto r = l.script(create_script, args, 3);
  if (!r || r->type != REDIS_REPLY_INTEGER) return store_status::unavailable;
  // 0: the sid exists; -3: the refresh hash belongs to another session (one owner).
  return r->integer == 1 ? store_status::ok : store_status::conflict;
}

store_result<session> redis_store::get(std::string_view sid) {
  for (int attempt = 0; attempt < 2; ++attempt) {  // a read may retry on a fresh connection
    lease l(*this);
    if (!l.ready()) return {store_status::unavailable, {}};
    const auto r = l.command({"HGETALL", session_key(sid)});
    if (!r) continue;
    if (r->type != REDIS_REPLY_ARRAY) return {store_status::unavailable, {}};
    if (r->elements == 0) return {store_status::not_found, {}};
    auto s = read_fields(r.get());
    if (!s) {
      note_error("session " + std::string(sid) + ": malformed hash");
      return {store_status::unavailable, {}};
    }
    return {store_status::ok, std::move(*s)};
  }
  return {store_status::unavailable, {}};
}

store_result<refresh_record> redis_store::find_refresh(std::string_view hash) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    lease l(*this);
    if (!l.ready()) return {store_status::unavailable, {}};
    const auto r = l.command({"GET", refresh_key(hash)});
    if (!r) continue;
    if (r->type == REDIS_REPLY_NIL) return {store_status::not_found, {}};
    const std::string_view v = text_of(r.get());
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
    if (!l.load_index_script() || l.pipeline(index_commands(s, ttl)).empty()) {
      return store_status::unavailable;
    }
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
    const auto r = l.script(update_script, args, numkeys);
    if (!r || r->type != REDIS_REPLY_INTEGER) return store_status::unavailable;
    switch (r->integer) {
      case 1:
        return store_status::ok;
      case 0:
        return store_status::conflict;
      case -1:
        return store_status::not_found;
      case -2:  // the keys changed: their index entries first, then the write again
        if (attempt > 0 || !l.load_index_script() || l.pipeline(index_commands(s, ttl)).empty()) {
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
