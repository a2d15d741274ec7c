// token_cache: see token_cache.hpp.
#include "token_cache.hpp"

#include "crypto.hpp"

namespace shub::auth {

std::optional<verified_token> token_cache::find(std::string_view token, std::int64_t now_s,
                                                std::int64_t leeway_s) {
  if (!enabled()) return std::nullopt;
  const std::string key = sha256(token);
  shard& s = shards_[static_cast<unsigned char>(key[0]) % shards];
  std::lock_guard lock(s.mutex);
  const auto it = s.entries.find(key);
  if (it == s.entries.end()) return std::nullopt;
  if (now_s - leeway_s >= it->second.exp) {  // as jwt_verify decides "expired"
    s.entries.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void token_cache::insert(std::string_view token, verified_token v, std::int64_t now_s) {
  if (!enabled()) return;
  std::string key = sha256(token);
  shard& s = shards_[static_cast<unsigned char>(key[0]) % shards];
  std::lock_guard lock(s.mutex);
  const auto expired = [&](const auto& e) { return e.second.exp < now_s; };
  if (s.entries.size() >= per_shard_) {
    boost::unordered::erase_if(s.entries, expired);
    if (s.entries.size() >= per_shard_) s.entries.clear();
    s.next_purge_s = now_s + purge_every_s;
  } else if (now_s >= s.next_purge_s) {
    // Tokens of sessions that ended are never looked up again: without this they would
    // stay until the shard fills, and a long-running hub would hold its full capacity.
    boost::unordered::erase_if(s.entries, expired);
    s.next_purge_s = now_s + purge_every_s;
  }
  s.entries.insert_or_assign(std::move(key), std::move(v));
}

std::size_t token_cache::size() {
  std::size_t n = 0;
  for (shard& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.entries.size();
  }
  return n;
}

}  // namespace shub::auth
