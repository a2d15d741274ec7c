// test_sessions: sessions and refresh records for the store tests, and comparisons.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include "auth/session.hpp"
#include "auth/session_store.hpp"

namespace shub::auth::test {

inline session make_session(const std::string& sid, const std::string& sub = "alice",
                            std::int64_t created_at = 1000) {
  session s;
  s.sid = sid;
  s.sub = sub;
  s.device_id = "dev-" + sub;
  s.idp_sid = "idp-" + sub;
  s.claims_json = R"({"role":"admin"})";
  s.amr_json = R"(["pwd","otp"])";
  s.created_at = created_at;
  s.auth_time = created_at - 5;
  s.idle_expires_at = created_at + 60'000;
  s.expires_at = created_at + 3'600'000;
  s.idle_timeout_ms = 60'000;
  s.version = 1;
  s.rt_generation = 1;
  s.rt_rotated_at = created_at;
  return s;
}

// A 32-byte "hash" that starts with and contains NUL bytes.
inline std::string hash_of(const std::string& seed) {
  std::string h(32, '\0');
  for (std::size_t i = 0; i < seed.size() && i + 1 < h.size(); ++i)
    h[i + 1] = seed[i];
  h[31] = '\xff';
  return h;
}

inline refresh_record record_for(const session& s, const std::string& seed) {
  return {hash_of(seed), s.sid, s.rt_generation};
}

inline void expect_same(const session& a, const session& b) {
  EXPECT_EQ(a.sid, b.sid);
  EXPECT_EQ(a.sub, b.sub);
  EXPECT_EQ(a.device_id, b.device_id);
  EXPECT_EQ(a.idp_sid, b.idp_sid);
  EXPECT_EQ(a.claims_json, b.claims_json);
  EXPECT_EQ(a.amr_json, b.amr_json);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.auth_time, b.auth_time);
  EXPECT_EQ(a.idle_expires_at, b.idle_expires_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.idle_timeout_ms, b.idle_timeout_ms);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.end_reason, b.end_reason);
  EXPECT_EQ(a.ended_at, b.ended_at);
  EXPECT_EQ(a.rt_generation, b.rt_generation);
  EXPECT_EQ(a.rt_rotated_at, b.rt_rotated_at);
  EXPECT_EQ(a.rt_successor, b.rt_successor);
}

inline std::vector<std::string> sids_of(const std::vector<session>& v) {
  std::vector<std::string> out;
  for (const auto& s : v)
    out.push_back(s.sid);
  return out;
}

// Each round every thread reads session `sid` (thread t through stores[t % stores.size()],
// so several stores are several replicas), then all race to bump its version with a new
// refresh record. Returns the winners of each round; `errors` counts anything but ok or
// conflict, and a losing write that left its refresh record behind.
struct race_outcome {
  std::vector<int> wins;
  int errors = 0;
};
inline race_outcome race_compare_and_set(const std::vector<session_store*>& stores,
                                         const std::string& sid, int threads, int rounds) {
  std::vector<std::atomic<int>> wins(static_cast<std::size_t>(rounds));
  std::atomic<int> errors{0};
  std::barrier sync(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      session_store& store = *stores[static_cast<std::size_t>(t) % stores.size()];
      for (int r = 0; r < rounds; ++r) {
        const auto got = store.get(sid);
        sync.arrive_and_wait();
        if (!got.ok()) {
          ++errors;
        } else {
          session next = got.value;
          const std::uint64_t read = next.version;
          ++next.version;
          ++next.rt_generation;
          const refresh_record rt = record_for(next, std::to_string(r) + "/" + std::to_string(t));
          const store_status st = store.update(next, read, &rt);
          if (st == store_status::ok) {
            ++wins[static_cast<std::size_t>(r)];
          } else if (st != store_status::conflict ||
                     store.find_refresh(rt.hash).status != store_status::not_found) {
            ++errors;
          }
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& th : pool)
    th.join();
  race_outcome out;
  out.errors = errors.load();
  for (auto& w : wins)
    out.wins.push_back(w.load());
  return out;
}

}  // namespace shub::auth::test
