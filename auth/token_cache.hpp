// token_cache: access tokens whose signature and claims were verified, or which this hub
// minted itself, so a token that opens several tabs (or is validated again and again by a
// resource server) costs one signature check at most, not one per use.
//
// Keyed by the SHA-256 of the token's exact bytes (a forged token cannot collide with a
// cached one); a hit holds only what the verification established — sid, sub and the
// expiry — and expires with the token, so time is still checked on every use. Nothing about
// the session is kept here: whether it is still active is its caller's question (the
// store's, or what a replica's tabs of it know). Bounded: each of its shards holds at most
// capacity / shards entries and, when full, drops its expired ones or else all of them; an
// insert also drops a shard's expired entries once a minute, so the cache holds about the
// tokens still alive, not its capacity, after a while.
#pragma once

#include <array>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace shub::auth {

struct verified_token {
  std::string sid, sub;
  std::int64_t exp = 0;  // seconds
};

class token_cache {
 public:
  explicit token_cache(std::size_t capacity) : per_shard_(capacity / shards) {}

  [[nodiscard]] bool enabled() const { return per_shard_ > 0; }
  // The cached verification of `token` if it is there and `now_s` is within its expiry
  // plus `leeway_s`.
  [[nodiscard]] std::optional<verified_token> find(std::string_view token, std::int64_t now_s,
                                                   std::int64_t leeway_s);
  void insert(std::string_view token, verified_token v, std::int64_t now_s);
  // Entries held, expired ones not yet dropped included.
  [[nodiscard]] std::size_t size();

 private:
  static constexpr std::size_t shards = 16;
  static constexpr std::int64_t purge_every_s = 60;
  struct shard {
    std::mutex mutex;
    boost::unordered_flat_map<std::string, verified_token> entries;  // key: SHA-256, raw bytes
    std::int64_t next_purge_s = 0;  // the next sweep of expired ones
  };
  std::size_t per_shard_;
  std::array<shard, shards> shards_;
};

}  // namespace shub::auth
