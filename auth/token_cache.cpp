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
  if (s.entries.size() >= per_shard_) {
    std::erase_if(s.entries, [&](const auto& e) { return e.second.exp < now_s; });
    if (s.entries.size() >= per_shard_) s.entries.clear();
  }
  s.entries.insert_or_assign(std::move(key), std::move(v));
}

}  // namespace shub::auth
