// rate_limiter: token buckets in hashed shards.
#include "rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace shub {

std::int64_t rate_limiter::acquire(std::string_view key, std::int64_t now_ms) {
  if (per_minute_ <= 0) return 0;
  const double capacity = static_cast<double>(per_minute_);
  const double per_ms = capacity / 60000.0;
  shard& s = shards_[std::hash<std::string_view>{}(key) % shard_count];
  std::lock_guard lock(s.mutex);
  auto it = s.buckets.find(std::string(key));
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= max_keys_per_shard_) sweep(s, now_ms);
    it = s.buckets.emplace(std::string(key), bucket{capacity, now_ms}).first;
  }
  bucket& b = it->second;
  b.tokens = std::min(capacity, b.tokens + static_cast<double>(now_ms - b.updated_ms) * per_ms);
  b.updated_ms = now_ms;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil((1.0 - b.tokens) / per_ms / 1000.0)));
}

std::size_t rate_limiter::tracked_keys() {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.buckets.size();
  }
  return n;
}

void rate_limiter::sweep(shard& s, std::int64_t now_ms) {
  // A bucket that has refilled completely carries no information: forget it.
  const double capacity = static_cast<double>(per_minute_);
  const double per_ms = capacity / 60000.0;
  std::erase_if(s.buckets, [&](const auto& kv) {
    return kv.second.tokens + static_cast<double>(now_ms - kv.second.updated_ms) * per_ms >=
           capacity;
  });
  // Under a flood of distinct keys nothing has refilled; start over rather than grow.
  if (s.buckets.size() >= max_keys_per_shard_) s.buckets.clear();
}

}  // namespace shub
