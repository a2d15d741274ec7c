// redis_store's own tests (the shared contract is store_contract_test.cpp), against a real
// redis-server: two stores as two replicas racing on one session, TTLs on every key,
// binary hashes, fail-closed within the timeout when Redis is down or hung and recovery
// without reopening, AUTH, database selection, URL parsing.
#include "auth/redis_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.hpp"
#include "test_sessions.hpp"

namespace shub::auth {
namespace {

using namespace std::chrono_literals;
using namespace shub::auth::test;
using shub::testing::redis_server;

redis_options options_for(const redis_server& redis, int db = 0,
                          std::chrono::milliseconds timeout = 300ms) {
  auto o = redis_options::parse_url(redis.url(db));
  o.timeout = timeout;
  o.pool = 4;
  return o;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A session of now: expiring an hour from now.
session live_session(const std::string& sid) {
  session s = make_session(sid, "alice", wall_ms());
  return s;
}

TEST(RedisStoreUrl, ParsesEveryPart) {
  auto o = redis_options::parse_url("redis://127.0.0.1:6380/4");
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 6380);
  EXPECT_EQ(o.db, 4);
  EXPECT_TRUE(o.password.empty());
  o = redis_options::parse_url("redis://:s3cret@redis.internal:7000");
  EXPECT_EQ(o.host, "redis.internal");
  EXPECT_EQ(o.port, 7000);
  EXPECT_EQ(o.db, 0);
  EXPECT_EQ(o.password, "s3cret");
  EXPECT_TRUE(o.username.empty());
  o = redis_options::parse_url("redis://hub:pw@localhost/2");
  EXPECT_EQ(o.username, "hub");
  EXPECT_EQ(o.password, "pw");
  EXPECT_EQ(o.port, 6379);
  EXPECT_EQ(o.db, 2);
}

TEST(RedisStoreUrl, RefusesMalformedUrls) {
  for (const char* bad :
       {"http://127.0.0.1:6379", "redis://", "redis://:6379", "redis://h:0", "redis://h:70000",
        "redis://h:12x", "redis://h:6379/db", "redis://h/-1"}) {
    EXPECT_THROW((void)redis_options::parse_url(bad), std::invalid_argument) << bad;
  }
}

// Two stores on one Redis are two replicas: each round every thread of both reads the same
// version, then all race to bump it; exactly one wins.
TEST(RedisStore, TwoReplicasRacingOnOneSessionHaveOneWinnerPerRound) {
  redis_server redis;
  redis_store a(options_for(redis)), b(options_for(redis));
  const session s = live_session("s1");
  ASSERT_EQ(a.create(s, record_for(s, "rt0")), store_status::ok);
  constexpr int rounds = 40;
  const auto outcome = race_compare_and_set({&a, &b}, "s1", 6, rounds);
  EXPECT_EQ(outcome.errors, 0);
  for (int r = 0; r < rounds; ++r)
    EXPECT_EQ(outcome.wins[r], 1) << "round " << r;
  EXPECT_EQ(b.get("s1").value.version, 1u + rounds);
  EXPECT_EQ(a.get("s1").value.rt_generation, 1u + rounds);
}

TEST(RedisStore, EveryKeyExpiresByItselfAfterTheSessionEnds) {
  redis_server redis;
  redis_store store(options_for(redis));
  session s = live_session("s1");
  const std::int64_t before = wall_ms();
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  const std::int64_t day = 24LL * 3600 * 1000;
  const auto pttl = [&](const std::string& key) {
    return std::stoll(redis.command({"PTTL", key}));
  };
  const std::int64_t until_expiry = s.expires_at - before;  // an upper bound
  for (const std::string& key :
       {redis_store::session_key("s1"), redis_store::refresh_key(hash_of("rt0")),
        std::string("shub:sub:{alice}"), std::string("shub:did:{dev-alice}"),
        std::string("shub:idp:{idp-alice}")}) {
    const auto ttl = pttl(key);
    EXPECT_GT(ttl, until_expiry + day - 60'000) << key;
    EXPECT_LE(ttl, until_expiry + day) << key;
  }
  // Ended now: the session's key goes a day from now, not a day after its absolute expiry.
  s.version = 2;
  s.state = session_state::revoked;
  s.ended_at = wall_ms();
  ASSERT_EQ(store.update(s, 1, nullptr), store_status::ok);
  // Not sooner than a day after the write, though: clocks of replicas differ a little.
  const auto ttl = pttl(redis_store::session_key("s1"));
  EXPECT_GT(ttl, day - 60'000);
  EXPECT_LE(ttl, day);
  EXPECT_EQ(redis.command({"ZSCORE", "shub:active", "s1"}), "(nil)");
}

TEST(RedisStore, ADownRedisFailsClosedWithinTheTimeoutAndRecoversWithoutReopening) {
  redis_server redis;
  redis_store store(options_for(redis, 0, 200ms));
  const session s = live_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  redis.stop();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(store.get("s1").status, store_status::unavailable);
  EXPECT_EQ(store.find_refresh(hash_of("rt0")).status, store_status::unavailable);
  EXPECT_EQ(store.ping(), store_status::unavailable);
  session next = s;
  next.version = 2;
  EXPECT_EQ(store.update(next, 1, nullptr), store_status::unavailable);
  EXPECT_EQ(store.list_by_sub("alice").status, store_status::unavailable);
  EXPECT_EQ(store.count_active(0).status, store_status::unavailable);
  // Bounded: six calls against a refused port, far below six timeouts each.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 6 * 2 * 200ms);
  EXPECT_NE(store.last_error().find("connect"), std::string::npos) << store.last_error();

  redis.start();  // empty: no persistence in this test server
  EXPECT_EQ(store.ping(), store_status::ok);
  EXPECT_EQ(store.get("s1").status, store_status::not_found);
  EXPECT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  EXPECT_EQ(store.get("s1").status, store_status::ok);
}

TEST(RedisStore, AHungRedisFailsClosedWithinTheTimeout) {
  redis_server redis;
  redis_store store(options_for(redis, 0, 200ms));
  const session s = live_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  redis.pause();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(store.get("s1").status, store_status::unavailable);
  const auto took = std::chrono::steady_clock::now() - start;
  redis.resume();
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 10 * 200ms);  // one attempt and one retry on a fresh connection, at most
  EXPECT_EQ(store.get("s1").status, store_status::ok);
}

TEST(RedisStore, AuthenticatesAndFailsClosedOnAWrongPassword) {
  redis_server redis({"--requirepass", "s3cret"});
  auto good = options_for(redis);
  good.password = "s3cret";
  redis_store store(good);
  const session s = live_session("s1");
  EXPECT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  EXPECT_EQ(store.get("s1").status, store_status::ok);

  auto bad = options_for(redis);
  bad.password = "wrong";
  redis_store intruder(bad);
  EXPECT_EQ(intruder.get("s1").status, store_status::unavailable);
  EXPECT_EQ(intruder.ping(), store_status::unavailable);
  auto none = options_for(redis);
  redis_store anonymous(none);
  EXPECT_EQ(anonymous.get("s1").status, store_status::unavailable);
}

TEST(RedisStore, KeepsToItsDatabase) {
  redis_server redis;
  redis_store store(options_for(redis, 5));
  const session s = live_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  EXPECT_EQ(redis.command({"EXISTS", redis_store::session_key("s1")}, 5), "1");
  EXPECT_EQ(redis.command({"DBSIZE"}, 0), "0");
}

TEST(RedisStore, AMalformedSessionHashIsUnavailableNotASession) {
  redis_server redis;
  redis_store store(options_for(redis));
  redis.command({"HSET", redis_store::session_key("s1"), "sid", "s1", "version", "x"});
  EXPECT_EQ(store.get("s1").status, store_status::unavailable);
  redis.command({"SET", redis_store::refresh_key(hash_of("rt0")), "garbage"});
  EXPECT_EQ(store.find_refresh(hash_of("rt0")).status, store_status::unavailable);
  EXPECT_EQ(store.ping(), store_status::ok);
}

}  // namespace
}  // namespace shub::auth
