// The session_store contract, run against both backends: every field round-trips (binary
// ones too), compare-and-set is exactly-once under threads, a refresh hash has one owner and
// is found with its session whatever session the caller guessed, the lists and counts see
// only what they should, and a remembered jti is new exactly once until it expires. SQLite in
// memory; Redis a real redis-server of this test (tests/support/redis_server).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/redis_store.hpp"
#include "auth/sqlite_store.hpp"
#include "redis_server.hpp"
#include "test_sessions.hpp"

namespace shub::auth {
namespace {

using namespace std::string_literals;
using namespace shub::auth::test;

std::unique_ptr<session_store> open(const std::string& kind,
                                    std::unique_ptr<shub::testing::redis_server>& redis) {
  if (kind == "sqlite") return std::make_unique<sqlite_store>(":memory:");
  redis = std::make_unique<shub::testing::redis_server>();
  return std::make_unique<redis_store>(redis_options::parse_url(redis->url(3)));
}

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<shub::testing::redis_server> redis_;
  std::unique_ptr<session_store> owned_ = open(GetParam(), redis_);
  session_store& store_ = *owned_;
};

TEST_P(StoreContract, PingsAndNamesItsKind) {
  EXPECT_EQ(store_.ping(), store_status::ok);
  EXPECT_EQ(store_.kind(), GetParam());
}

TEST_P(StoreContract, RoundTripsEveryField) {
  session s = make_session("s1");
  s.version = 7;
  s.state = session_state::revoked;
  s.end_reason = "admin";
  s.ended_at = 4242;
  s.rt_generation = 9;
  s.rt_rotated_at = 3131;
  s.rt_successor = "\0sealed\0bytes\xff\x00"s;
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const auto got = store_.get("s1");
  ASSERT_EQ(got.status, store_status::ok);
  expect_same(got.value, s);
  EXPECT_EQ(got.value.rt_successor.size(), 15u);
}

TEST_P(StoreContract, RoundTripsEmptyFields) {
  session s = make_session("s1");
  s.device_id.clear();
  s.idp_sid.clear();
  s.amr_json.clear();
  s.rt_successor.clear();
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const auto got = store_.get("s1");
  ASSERT_EQ(got.status, store_status::ok);
  expect_same(got.value, s);
}

TEST_P(StoreContract, UnknownSidIsNotFound) {
  EXPECT_EQ(store_.get("nope").status, store_status::not_found);
  EXPECT_EQ(store_.find_refresh(hash_of("nope")).status, store_status::not_found);
}

TEST_P(StoreContract, DuplicateSidIsConflict) {
  const session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  session other = make_session("s1", "bob");
  EXPECT_EQ(store_.create(other, record_for(other, "b")), store_status::conflict);
  EXPECT_EQ(store_.get("s1").value.sub, "alice");
  EXPECT_EQ(store_.find_refresh(hash_of("b")).status, store_status::not_found);
}

TEST_P(StoreContract, DuplicateRefreshHashIsConflictAndWritesNothing) {
  const session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const session other = make_session("s2");
  EXPECT_EQ(store_.create(other, record_for(other, "a")), store_status::conflict);
  EXPECT_EQ(store_.get("s2").status, store_status::not_found);
  EXPECT_EQ(store_.find_refresh(hash_of("a")).value.sid, "s1");
}

TEST_P(StoreContract, FindsRefreshByBinaryHash) {
  const session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const auto got = store_.find_refresh(hash_of("a"));
  ASSERT_EQ(got.status, store_status::ok);
  EXPECT_EQ(got.value.hash, hash_of("a"));
  EXPECT_EQ(got.value.sid, "s1");
  EXPECT_EQ(got.value.generation, 1u);
  // Hashes that agree up to a NUL byte are still different keys.
  EXPECT_EQ(store_.find_refresh(hash_of("ab")).status, store_status::not_found);
}

TEST_P(StoreContract, FindsARefreshRecordWithItsSessionWhateverTheHint) {
  const session s1 = make_session("s1");
  const session s2 = make_session("s2");
  ASSERT_EQ(store_.create(s1, record_for(s1, "a")), store_status::ok);
  ASSERT_EQ(store_.create(s2, record_for(s2, "b")), store_status::ok);
  // The right guess, no guess, another session's sid, a sid that does not exist: the
  // record's own session every time.
  for (const std::string_view hint : {"s1", "", "s2", "nope"}) {
    SCOPED_TRACE("hint " + std::string(hint));
    const auto got = store_.find_refresh_and_session(hash_of("a"), hint);
    ASSERT_EQ(got.status, store_status::ok);
    EXPECT_EQ(got.value.rec.sid, "s1");
    EXPECT_EQ(got.value.rec.generation, 1u);
    EXPECT_EQ(got.value.rec.hash, hash_of("a"));
    expect_same(got.value.s, s1);
  }
  EXPECT_EQ(store_.find_refresh_and_session(hash_of("c"), "s1").status, store_status::not_found);
  EXPECT_EQ(store_.find_refresh_and_session(hash_of("c"), "").status, store_status::not_found);
}

TEST_P(StoreContract, UpdateWithCurrentVersionReplacesTheSession) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  s.version = 2;
  s.idle_expires_at += 1000;
  s.claims_json = "{}";
  s.rt_successor = "x\0y"s;
  ASSERT_EQ(store_.update(s, 1, nullptr), store_status::ok);
  expect_same(store_.get("s1").value, s);
}

TEST_P(StoreContract, UpdateWithStaleVersionIsConflictAndWritesNothing) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  session moved = s;
  moved.version = 2;
  ASSERT_EQ(store_.update(moved, 1, nullptr), store_status::ok);

  // Stale with the indexed columns as stored, and stale with one of them changed.
  session stale = s;
  stale.version = 2;
  stale.rt_generation = 2;
  const refresh_record rt = record_for(stale, "b");
  EXPECT_EQ(store_.update(stale, 1, &rt), store_status::conflict);
  stale.sub = "mallory";
  EXPECT_EQ(store_.update(stale, 1, &rt), store_status::conflict);
  expect_same(store_.get("s1").value, moved);
  EXPECT_EQ(store_.find_refresh(hash_of("b")).status, store_status::not_found);
}

// Changing an indexed column (sub, device, idp sid, state) moves the session in the lists.
TEST_P(StoreContract, UpdateOfIndexedColumnsMovesTheSessionBetweenLists) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  s.version = 2;
  s.sub = "bob";
  s.device_id = "dev-2";
  s.idp_sid = "idp-2";
  s.created_at = 7;
  ASSERT_EQ(store_.update(s, 1, nullptr), store_status::ok);
  expect_same(store_.get("s1").value, s);
  EXPECT_TRUE(store_.list_by_sub("alice").value.empty());
  EXPECT_TRUE(store_.list_by_device("dev-alice").value.empty());
  EXPECT_TRUE(store_.list_by_idp_sid("idp-alice").value.empty());
  EXPECT_EQ(sids_of(store_.list_by_sub("bob").value), std::vector<std::string>{"s1"});
  EXPECT_EQ(sids_of(store_.list_by_device("dev-2").value), std::vector<std::string>{"s1"});
  EXPECT_EQ(sids_of(store_.list_by_idp_sid("idp-2").value), std::vector<std::string>{"s1"});
  s.version = 3;
  s.state = session_state::revoked;
  ASSERT_EQ(store_.update(s, 2, nullptr), store_status::ok);
  EXPECT_TRUE(store_.list_by_sub("bob").value.empty());
  EXPECT_EQ(store_.get("s1").value.state, session_state::revoked);
}

TEST_P(StoreContract, UpdateOfUnknownSidIsNotFound) {
  const session s = make_session("ghost");
  const refresh_record rt = record_for(s, "b");
  EXPECT_EQ(store_.update(s, 1, &rt), store_status::not_found);
  EXPECT_EQ(store_.find_refresh(hash_of("b")).status, store_status::not_found);
}

TEST_P(StoreContract, UpdateRecordsTheNewRefreshToken) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  s.version = 2;
  s.rt_generation = 2;
  const refresh_record rt = record_for(s, "b");
  ASSERT_EQ(store_.update(s, 1, &rt), store_status::ok);
  const auto old_rt = store_.find_refresh(hash_of("a"));
  const auto new_rt = store_.find_refresh(hash_of("b"));
  ASSERT_TRUE(old_rt.ok());
  ASSERT_TRUE(new_rt.ok());
  EXPECT_EQ(old_rt.value.generation, 1u);
  EXPECT_EQ(new_rt.value.generation, 2u);
  EXPECT_EQ(new_rt.value.sid, "s1");
}

// A failure inside the transaction (here a refresh hash already taken) rolls back the
// session write too, and the store goes on working.
TEST_P(StoreContract, FailedUpdateRollsBackAndStoreStaysUsable) {
  session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  session next = s;
  next.version = 2;
  next.sub = "changed";
  const refresh_record dup = record_for(next, "a");
  EXPECT_EQ(store_.update(next, 1, &dup), store_status::unavailable);
  expect_same(store_.get("s1").value, s);

  const refresh_record fresh = record_for(next, "b");
  EXPECT_EQ(store_.update(next, 1, &fresh), store_status::ok);
  EXPECT_EQ(store_.get("s1").value.sub, "changed");
  EXPECT_EQ(store_.ping(), store_status::ok);
}

TEST_P(StoreContract, ListsOnlyActiveSessionsOldestFirst) {
  // Created out of order; s3 and s4 share a created_at, so sid breaks the tie.
  const std::vector<session> all = {
      make_session("s4", "alice", 300), make_session("s1", "alice", 100),
      make_session("s3", "alice", 300), make_session("s2", "alice", 200),
      make_session("b1", "bob", 150)};
  int n = 0;
  for (const auto& s : all) {
    ASSERT_EQ(store_.create(s, record_for(s, std::to_string(n++))), store_status::ok);
  }
  session ended = store_.get("s2").value;
  ended.state = session_state::revoked;
  ended.end_reason = "user_logout";
  ended.ended_at = 500;
  ended.version = 2;
  ASSERT_EQ(store_.update(ended, 1, nullptr), store_status::ok);

  const std::vector<std::string> want = {"s1", "s3", "s4"};
  const auto by_sub = store_.list_by_sub("alice");
  ASSERT_TRUE(by_sub.ok());
  EXPECT_EQ(sids_of(by_sub.value), want);
  expect_same(by_sub.value[0], all[1]);
  EXPECT_EQ(sids_of(store_.list_by_device("dev-alice").value), want);
  EXPECT_EQ(sids_of(store_.list_by_idp_sid("idp-alice").value), want);
  EXPECT_EQ(sids_of(store_.list_by_sub("bob").value), std::vector<std::string>{"b1"});
  const auto none = store_.list_by_sub("carol");
  EXPECT_TRUE(none.ok());
  EXPECT_TRUE(none.value.empty());
}

TEST_P(StoreContract, CountActiveRespectsBothExpiries) {
  session live = make_session("live");
  live.idle_expires_at = 2000;
  live.expires_at = 5000;
  session idle_gone = make_session("idle");
  idle_gone.idle_expires_at = 1000;
  idle_gone.expires_at = 5000;
  session abs_gone = make_session("abs");
  abs_gone.idle_expires_at = 2000;
  abs_gone.expires_at = 1000;
  session revoked = make_session("rev");
  revoked.state = session_state::revoked;
  revoked.idle_expires_at = 2000;
  revoked.expires_at = 5000;
  for (const auto* s : {&live, &idle_gone, &abs_gone, &revoked}) {
    ASSERT_EQ(store_.create(*s, record_for(*s, s->sid)), store_status::ok);
  }
  EXPECT_EQ(store_.count_active(500).value, 3);
  EXPECT_EQ(store_.count_active(1000).value, 1);  // strictly after now
  EXPECT_EQ(store_.count_active(1999).value, 1);
  EXPECT_EQ(store_.count_active(2000).value, 0);
  EXPECT_TRUE(store_.count_active(0).ok());
}

// Each round every thread reads the same version, then all race to bump it: one wins.
TEST_P(StoreContract, ConcurrentCompareAndSetHasOneWinnerPerRound) {
  constexpr int rounds = 50;
  const session s = make_session("s1");
  ASSERT_EQ(store_.create(s, record_for(s, "a")), store_status::ok);
  const auto outcome = race_compare_and_set({&store_}, "s1", 8, rounds);
  EXPECT_EQ(outcome.errors, 0);
  for (int r = 0; r < rounds; ++r)
    EXPECT_EQ(outcome.wins[r], 1) << "round " << r;
  EXPECT_EQ(store_.get("s1").value.version, 1u + rounds);
}

// A logout token's jti: the first sight is new, a second is a replay until the record
// expires. Real time, so that Redis's own expiry is what is tested.
TEST_P(StoreContract, RemembersAJtiUntilItExpires) {
  const auto now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const std::int64_t t = now();
  auto r = store_.remember_jti("jti-a", t + 60'000, t);
  ASSERT_EQ(r.status, store_status::ok);
  EXPECT_TRUE(r.value);
  r = store_.remember_jti("jti-a", t + 60'000, t);
  ASSERT_EQ(r.status, store_status::ok);
  EXPECT_FALSE(r.value);
  EXPECT_TRUE(store_.remember_jti("jti-b", t + 60'000, t).value);
  EXPECT_TRUE(store_.remember_jti("jti-a\0x"s, t + 60'000, t).value);  // any bytes, all count

  const std::int64_t soon = now();
  EXPECT_TRUE(store_.remember_jti("jti-short", soon + 150, soon).value);
  EXPECT_FALSE(store_.remember_jti("jti-short", soon + 150, soon).value);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::int64_t later = now();
  EXPECT_TRUE(store_.remember_jti("jti-short", later + 60'000, later).value);
  EXPECT_FALSE(store_.remember_jti("jti-short", later + 60'000, later).value);
  EXPECT_FALSE(store_.remember_jti("jti-a", later + 60'000, later).value);
}

TEST_P(StoreContract, PurgeForgetsExpiredJtisOnly) {
  const std::int64_t t = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  ASSERT_TRUE(store_.remember_jti("live", t + 60'000, t).value);
  ASSERT_TRUE(store_.purge(t + 1000).ok());
  EXPECT_FALSE(store_.remember_jti("live", t + 60'000, t).value);
}

TEST_P(StoreContract, ConcurrentRememberOfOneJtiHasOneWinner) {
  constexpr int threads = 8;
  constexpr int rounds = 20;
  const std::int64_t t = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::atomic<int> errors{0};
  std::vector<std::atomic<int>> wins(rounds);
  std::barrier sync(threads);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&] {
      for (int r = 0; r < rounds; ++r) {
        sync.arrive_and_wait();
        const auto got = store_.remember_jti("race-" + std::to_string(r), t + 60'000, t);
        if (!got.ok()) ++errors;
        if (got.value) ++wins[r];
      }
    });
  }
  for (auto& th : pool)
    th.join();
  EXPECT_EQ(errors.load(), 0);
  for (int r = 0; r < rounds; ++r)
    EXPECT_EQ(wins[r].load(), 1) << "round " << r;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("sqlite", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace shub::auth
