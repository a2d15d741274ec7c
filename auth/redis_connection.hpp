// The Redis store's connections (internal to redis_store): hiredis's replies and argv form,
// the pooled connection, and the lease that holds one for the length of a call — connecting
// lazily, loading scripts, pipelining, dropping the connection on any error.
// redis_store.cpp makes the calls over it.
#pragma once

#include <hiredis/hiredis.h>

#include <charconv>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis_store.hpp"

namespace shub::auth::redis {

using argv_t = std::vector<std::string>;

struct reply_free {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_free>;

// A string, status or error reply's text; empty for any other reply.
std::string_view text_of(const redisReply* r);

template <class T>
bool parse_int(std::string_view text, T& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// A Lua script and its SHA-1, by which EVALSHA names it.
struct script {
  explicit script(const char* lua);
  const char* body;
  std::string sha;
};

}  // namespace shub::auth::redis

namespace shub::auth {

struct redis_store::connection {
  redisContext* ctx = nullptr;
  std::vector<const redis::script*> loaded;  // known to this server's script cache
  ~connection() { drop(); }
  void drop();
  [[nodiscard]] bool usable() const { return ctx != nullptr && ctx->err == 0; }
  // A connection at rest has nothing to read. Readable (Redis closed it: it restarted, or
  // dropped idle clients) or in error, a command sent on it would fail, and a write is not
  // retried: it is made anew first instead.
  [[nodiscard]] bool stale() const;
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
  bool ready();
  // One command; null on an I/O error or an error reply (the connection is then dropped).
  redis::reply_ptr command(const redis::argv_t& args);
  // Several commands in one round trip; empty on any failure.
  std::vector<redis::reply_ptr> pipeline(const std::vector<redis::argv_t>& commands);
  // EVALSHA, loading the script with EVAL when Redis does not know it yet.
  redis::reply_ptr run(const redis::script& s, const redis::argv_t& keys_and_args, int numkeys);
  // The script once per argument list (keys first, `numkeys` of them), in one pipeline;
  // false on any failure. A pipeline of EVALSHA cannot fall back to EVAL one by one, so the
  // script is loaded first; a script cache flushed under this connection (SCRIPT FLUSH
  // answers NOSCRIPT) has it loaded again and the pipeline sent once more: run_each is for
  // scripts that may run twice.
  bool run_each(const redis::script& s, const std::vector<redis::argv_t>& each, int numkeys);

 private:
  bool preload(const redis::script& s);
  redis::reply_ptr checked(redis::reply_ptr r, const std::string& what);
  // Set-up commands (AUTH, SELECT, SCRIPT LOAD): a refusal leaves the connection unusable.
  bool ok_status(const redis::reply_ptr& r);
  std::vector<redis::reply_ptr> fail_pipeline(const std::string& what);

  redis_store& store_;
  std::unique_ptr<connection> c_;
};

}  // namespace shub::auth
