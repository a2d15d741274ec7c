// rate_limiter: a token bucket per key (client address), for login and refresh.
// `per_minute` tokens refill evenly over a minute and the bucket holds as many, so a
// client may burst up to its minute's allowance and then proceeds at the steady rate.
// Buckets live in shards, each with its own mutex, so threads rarely contend; full
// buckets are dropped from time to time so the map cannot grow without bound.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace shub {

class rate_limiter {
 public:
  // per_minute 0: every request is allowed.
  explicit rate_limiter(std::int64_t per_minute, std::size_t max_keys = 100000)
      : per_minute_(per_minute), max_keys_per_shard_(max_keys / shard_count + 1) {}

  // 0 when allowed (and a token is taken); otherwise the seconds until one is available.
  [[nodiscard]] std::int64_t acquire(std::string_view key, std::int64_t now_ms);
  // How many keys have a bucket now (bounded by max_keys plus one shard's worth).
  [[nodiscard]] std::size_t tracked_keys();

 private:
  static constexpr std::size_t shard_count = 16;
  struct bucket {
    double tokens;
    std::int64_t updated_ms;
  };
  struct shard {
    std::mutex mutex;
    std::unordered_map<std::string, bucket> buckets;
  };
  void sweep(shard& s, std::int64_t now_ms);

  std::int64_t per_minute_;
  std::size_t max_keys_per_shard_;
  std::array<shard, shard_count> shards_;
};

}  // namespace shub
