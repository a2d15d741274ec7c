// redis_store's connections: the pool, the lease, and the redis:// URL. See redis_connection.hpp.
#include "redis_connection.hpp"

#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <stdexcept>

#include "crypto.hpp"

namespace shub::auth {

namespace redis {

std::string_view text_of(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
               r->type == REDIS_REPLY_ERROR)
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

script::script(const char* lua) : body(lua) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(lua, std::char_traits<char>::length(lua), md, &len, EVP_sha1(), nullptr);
  sha = to_hex(std::string_view(reinterpret_cast<const char*>(md), len));
}

namespace {

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

bool is_noscript(const redisReply* r) {
  return r && r->type == REDIS_REPLY_ERROR && text_of(r).rfind("NOSCRIPT", 0) == 0;
}

}  // namespace

}  // namespace redis

using redis::argv_t;
using redis::reply_ptr;
using redis::text_of;

// --- options ------------------------------------------------------------------------------

namespace {

constexpr std::string_view tcp_scheme = "redis://";
constexpr std::string_view unix_scheme = "redis+unix://";

bool parse_db(std::string_view text, redis_options& o) {
  return text.empty() || (redis::parse_int(text, o.db) && o.db >= 0);
}

}  // namespace

bool redis_options::is_url(std::string_view spec) {
  return spec.substr(0, tcp_scheme.size()) == tcp_scheme ||
         spec.substr(0, unix_scheme.size()) == unix_scheme;
}

std::string redis_options::address() const {
  return unix_path.empty() ? host + ":" + std::to_string(port) : unix_path;
}

redis_options redis_options::parse_url(const std::string& url) {
  const bool unix_socket = url.rfind(unix_scheme, 0) == 0;
  if (!unix_socket && url.rfind(tcp_scheme, 0) != 0) {
    throw std::invalid_argument("not a redis:// or redis+unix:// URL: " + url);
  }
  std::string rest = url.substr(unix_socket ? unix_scheme.size() : tcp_scheme.size());
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
  if (unix_socket) {
    const auto q = rest.find('?');
    o.unix_path = rest.substr(0, q);
    if (o.unix_path.empty() || o.unix_path.front() != '/') {
      throw std::invalid_argument("redis+unix URL: the socket must be an absolute path: " + url);
    }
    if (q != std::string::npos) {
      const std::string query = rest.substr(q + 1);
      if (query.rfind("db=", 0) != 0 || !parse_db(std::string_view(query).substr(3), o)) {
        throw std::invalid_argument("redis+unix URL: the only parameter is db=<number>: " + url);
      }
    }
    return o;
  }
  const auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  if (slash != std::string::npos) {
    if (!parse_db(std::string_view(rest).substr(slash + 1), o)) {
      throw std::invalid_argument("redis URL: the database must be a number: " + url);
    }
  }
  const auto colon = hostport.rfind(':');
  if (colon != std::string::npos) {
    if (!redis::parse_int(std::string_view(hostport).substr(colon + 1), o.port) || o.port < 1 ||
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

void redis_store::connection::drop() {
  if (ctx != nullptr) redisFree(ctx);
  ctx = nullptr;
  loaded.clear();
}

bool redis_store::connection::stale() const {
  pollfd p{ctx->fd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

bool redis_store::lease::ready() {
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
  c_->ctx = o.unix_path.empty() ? redisConnectWithTimeout(o.host.c_str(), o.port, tv)
                                : redisConnectUnixWithTimeout(o.unix_path.c_str(), tv);
  if (c_->ctx == nullptr || c_->ctx->err != 0) {
    store_.note_error("connect to " + o.address() + ": " +
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

reply_ptr redis_store::lease::command(const argv_t& args) {
  return checked(redis::send_command(c_->ctx, args), args.front());
}

std::vector<reply_ptr> redis_store::lease::pipeline(const std::vector<argv_t>& commands) {
  for (const auto& args : commands) {
    redis::argv_view v(args);
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
      if (redis::is_noscript(r.get())) c_->loaded.clear();  // the script cache was flushed
      all = false;  // read the remaining replies so the connection stays in step
    }
    out.push_back(std::move(r));
  }
  if (!all) return {};
  return out;
}

reply_ptr redis_store::lease::run(const redis::script& s, const argv_t& keys_and_args,
                                  int numkeys) {
  argv_t args{"EVALSHA", s.sha, std::to_string(numkeys)};
  args.insert(args.end(), keys_and_args.begin(), keys_and_args.end());
  reply_ptr r = redis::send_command(c_->ctx, args);
  if (redis::is_noscript(r.get())) {
    args[0] = "EVAL";
    args[1] = s.body;
    r = redis::send_command(c_->ctx, args);
  }
  return checked(std::move(r), "EVAL");
}

bool redis_store::lease::run_each(const redis::script& s, const std::vector<argv_t>& each,
                                  int numkeys) {
  std::vector<argv_t> commands;
  for (const auto& args : each) {
    argv_t c{"EVALSHA", s.sha, std::to_string(numkeys)};
    c.insert(c.end(), args.begin(), args.end());
    commands.push_back(std::move(c));
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!preload(s)) return false;
    if (!pipeline(commands).empty()) return true;
    const bool flushed =
        c_->usable() && std::find(c_->loaded.begin(), c_->loaded.end(), &s) == c_->loaded.end();
    if (!flushed) return false;
  }
  return false;
}

bool redis_store::lease::preload(const redis::script& s) {
  if (std::find(c_->loaded.begin(), c_->loaded.end(), &s) != c_->loaded.end()) return true;
  if (!ok_status(command({"SCRIPT", "LOAD", s.body}))) return false;
  c_->loaded.push_back(&s);
  return true;
}

reply_ptr redis_store::lease::checked(reply_ptr r, const std::string& what) {
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

bool redis_store::lease::ok_status(const reply_ptr& r) {
  if (!r) c_->drop();
  return r != nullptr;
}

std::vector<reply_ptr> redis_store::lease::fail_pipeline(const std::string& what) {
  store_.note_error(what + ": " + (c_->ctx->errstr[0] ? c_->ctx->errstr : "no reply"));
  c_->drop();
  return {};
}

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

}  // namespace shub::auth
