// redis_store's own tests (the shared contract is store_contract_test.cpp), against a real
// redis-server: two stores as two replicas racing on one session, TTLs on every key,
// binary hashes, fail-closed within the timeout when Redis is down or hung and recovery
// without reopening (a write right after a restart included), writes after a SCRIPT FLUSH,
// AUTH, database selection, a Unix socket, URL parsing.
#include "auth/redis_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "auth/clock.hpp"
#include "auth/keys.hpp"
#include "auth/session_service.hpp"
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

TEST(RedisStoreUrl, ParsesAUnixSocket) {
  auto o = redis_options::parse_url("redis+unix:///run/redis/redis.sock");
  EXPECT_EQ(o.unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(o.db, 0);
  EXPECT_EQ(o.address(), "/run/redis/redis.sock");
  o = redis_options::parse_url("redis+unix://hub:pw@/tmp/r.sock?db=3");
  EXPECT_EQ(o.unix_path, "/tmp/r.sock");
  EXPECT_EQ(o.username, "hub");
  EXPECT_EQ(o.password, "pw");
  EXPECT_EQ(o.db, 3);
  EXPECT_TRUE(redis_options::is_url("redis+unix:///tmp/r.sock"));
  EXPECT_TRUE(redis_options::is_url("redis://h:1"));
  EXPECT_FALSE(redis_options::is_url("sqlite:x.db"));
  EXPECT_EQ(redis_options::parse_url("redis://h:7").address(), "h:7");
}

TEST(RedisStoreUrl, RefusesMalformedUrls) {
  for (const char* bad :
       {"http://127.0.0.1:6379", "redis://", "redis://:6379", "redis://h:0", "redis://h:70000",
        "redis://h:12x", "redis://h:6379/db", "redis://h/-1", "redis+unix://",
        "redis+unix://relative.sock", "redis+unix:///tmp/r.sock?db=x",
        "redis+unix:///tmp/r.sock?database=1", "unix:///tmp/r.sock"}) {
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

TEST(RedisStore, AWriteAfterARedisRestartIsNotRefusedOnAConnectionTheOldServerClosed) {
  redis_server redis;
  auto o = options_for(redis);
  o.pool = 1;  // the one pooled connection is the one the restart leaves behind
  redis_store store(o);
  const session s = live_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  // No call while Redis is away: the pooled connection still looks usable afterwards.
  redis.stop();
  redis.start();
  const session t = live_session("s2");
  EXPECT_EQ(store.create(t, record_for(t, "rt1")), store_status::ok) << store.last_error();
  EXPECT_EQ(store.get("s2").status, store_status::ok);
  // And again (the test server keeps nothing: s1 can be created anew).
  redis.stop();
  redis.start();
  EXPECT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok) << store.last_error();
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

TEST(RedisStore, WorksThroughAUnixSocket) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("shub-redis-" + std::to_string(::getpid()) + ".sock"))
                               .string();
  redis_server redis({"--unixsocket", path, "--unixsocketperm", "700"});
  auto o = redis_options::parse_url("redis+unix://" + path + "?db=2");
  o.timeout = 300ms;
  redis_store store(o);
  const session s = live_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  const auto got = store.find_refresh_and_session(hash_of("rt0"), "s1");
  ASSERT_EQ(got.status, store_status::ok);
  EXPECT_EQ(got.value.s.sid, "s1");
  EXPECT_EQ(redis.command({"EXISTS", redis_store::session_key("s1")}, 2), "1");
  // A socket nobody listens on: unavailable within the timeout, naming the path.
  auto gone = o;
  gone.unix_path = path + ".missing";
  redis_store nowhere(gone);
  EXPECT_EQ(nowhere.ping(), store_status::unavailable);
  EXPECT_NE(nowhere.last_error().find(gone.unix_path), std::string::npos) << nowhere.last_error();
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

// How many times Redis ran `command` since the last CONFIG RESETSTAT.
int calls_of(redis_server& redis, const std::string& command) {
  const std::string info = redis.command({"INFO", "commandstats"});
  const std::string tag = "cmdstat_" + command + ":calls=";
  const auto at = info.find(tag);
  return at == std::string::npos ? 0 : std::stoi(info.substr(at + tag.size()));
}

// The commands Redis ran since the last CONFIG RESETSTAT (those a script ran included), but
// INFO and CONFIG themselves.
std::vector<std::string> commands_run(redis_server& redis) {
  const std::string info = redis.command({"INFO", "commandstats"});
  std::vector<std::string> names;
  for (std::size_t at = info.find("cmdstat_"); at != std::string::npos;
       at = info.find("cmdstat_", at + 1)) {
    const std::string name = info.substr(at + 8, info.find(':', at) - at - 8);
    if (name != "info" && name.rfind("config", 0) != 0) names.push_back(name);
  }
  return names;
}

// A rotation's write is one script in one round trip: the session, its new refresh record
// and its active-set entry together; a live session's index entries, written at creation,
// are not written again.
TEST(RedisStore, ARotationIsOneScriptInOneRoundTrip) {
  redis_server redis;
  redis_store store(options_for(redis));
  session s = live_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  // The first update on a server loads the script (EVALSHA answers NOSCRIPT, then EVAL).
  s.version = 2;
  s.rt_generation = 2;
  const refresh_record warm = record_for(s, "warm");
  ASSERT_EQ(store.update(s, 1, &warm), store_status::ok);
  redis.command({"CONFIG", "RESETSTAT"});
  s.version = 3;
  s.rt_generation = 3;
  s.idle_expires_at += 5000;
  const refresh_record rt = record_for(s, "rt1");
  ASSERT_EQ(store.update(s, 2, &rt), store_status::ok);
  // One EVALSHA; everything else Redis ran, the script ran.
  EXPECT_EQ(calls_of(redis, "evalsha"), 1);
  for (const auto& name : commands_run(redis)) {
    EXPECT_TRUE(name == "evalsha" || name == "hget" || name == "hmget" || name == "exists" ||
                name == "set" || name == "hset" || name == "pexpireat" || name == "zadd")
        << name;
  }
  EXPECT_EQ(store.find_refresh(hash_of("rt1")).value.generation, 3u);
  EXPECT_EQ(redis.command({"ZSCORE", "shub:active", "s1"}), std::to_string(s.idle_expires_at));
  const auto pttl = std::stoll(redis.command({"PTTL", redis_store::refresh_key(hash_of("rt1"))}));
  EXPECT_GT(pttl, s.expires_at - wall_ms() + 24LL * 3600 * 1000 - 60'000);
  expect_same(store.get("s1").value, s);
}

// When a live session's indexed keys change, the script refuses until their index entries
// are written, and the write then goes through: the lists follow, and the new index keys
// expire by themselves.
TEST(RedisStore, ALiveSessionWhoseKeysChangeGetsItsIndexEntriesBeforeTheWrite) {
  redis_server redis;
  redis_store store(options_for(redis));
  session s = live_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  s.version = 2;
  s.sub = "bob";
  s.device_id = "dev-2";
  s.idp_sid = "idp-2";
  ASSERT_EQ(store.update(s, 1, nullptr), store_status::ok);
  expect_same(store.get("s1").value, s);
  EXPECT_TRUE(store.list_by_sub("alice").value.empty());
  EXPECT_EQ(sids_of(store.list_by_sub("bob").value), std::vector<std::string>{"s1"});
  EXPECT_EQ(sids_of(store.list_by_device("dev-2").value), std::vector<std::string>{"s1"});
  EXPECT_EQ(sids_of(store.list_by_idp_sid("idp-2").value), std::vector<std::string>{"s1"});
  for (const char* key : {"shub:sub:{bob}", "shub:did:{dev-2}", "shub:idp:{idp-2}"}) {
    EXPECT_GT(std::stoll(redis.command({"PTTL", key})), 0) << key;
  }
  // A longer absolute expiry: the index keys must live as long as the session's key.
  s.version = 3;
  s.expires_at += 48LL * 3600 * 1000;
  ASSERT_EQ(store.update(s, 2, nullptr), store_status::ok);
  const auto session_ttl = std::stoll(redis.command({"PTTL", redis_store::session_key("s1")}));
  EXPECT_GE(std::stoll(redis.command({"PTTL", "shub:sub:{bob}"})), session_ttl - 60'000);
}

// SCRIPT FLUSH under live connections (an operator's, or a tool's): the next writes load the
// scripts again and go through, the index entries written in a pipeline of EVALSHA included.
TEST(RedisStore, WritesGoThroughAfterTheScriptCacheIsFlushed) {
  redis_server redis;
  redis_store store(options_for(redis));
  session s1 = live_session("s1");
  ASSERT_EQ(store.create(s1, record_for(s1, "rt1")), store_status::ok);
  s1.version = 2;
  s1.rt_generation = 2;
  const refresh_record rotated = record_for(s1, "rt1b");
  ASSERT_EQ(store.update(s1, 1, &rotated), store_status::ok);  // both scripts loaded now

  redis.command({"SCRIPT", "FLUSH"});
  session s2 = live_session("s2");
  EXPECT_EQ(store.create(s2, record_for(s2, "rt2")), store_status::ok) << store.last_error();
  EXPECT_EQ(sids_of(store.list_by_sub("alice").value), (std::vector<std::string>{"s1", "s2"}));

  redis.command({"SCRIPT", "FLUSH"});
  s2.version = 2;
  s2.sub = "bob";  // new index keys: written in the pipeline before the update script
  EXPECT_EQ(store.update(s2, 1, nullptr), store_status::ok) << store.last_error();
  EXPECT_EQ(sids_of(store.list_by_sub("bob").value), std::vector<std::string>{"s2"});

  redis.command({"SCRIPT", "FLUSH"});
  s1.version = 3;
  s1.rt_generation = 3;
  const refresh_record again = record_for(s1, "rt1c");
  EXPECT_EQ(store.update(s1, 2, &again), store_status::ok) << store.last_error();
  expect_same(store.get("s1").value, s1);
}

// A write that loses the compare-and-set leaves nothing: no refresh record (nobody got that
// token), no change to the session, and no active-set entry for a session another write ended.
TEST(RedisStore, ALosingRotationLeavesNoRecordAndDoesNotRevive) {
  redis_server redis;
  redis_store store(options_for(redis));
  const session s = live_session("s1");
  ASSERT_EQ(store.create(s, record_for(s, "rt0")), store_status::ok);
  session ended = s;
  ended.version = 2;
  ended.state = session_state::revoked;
  ended.end_reason = "refresh_token_reuse";
  ended.ended_at = wall_ms();
  ASSERT_EQ(store.update(ended, 1, nullptr), store_status::ok);
  EXPECT_EQ(redis.command({"ZSCORE", "shub:active", "s1"}), "(nil)");

  session rotated = s;
  rotated.version = 2;
  rotated.rt_generation = 2;
  const refresh_record rt = record_for(rotated, "rt1");
  EXPECT_EQ(store.update(rotated, 1, &rt), store_status::conflict);
  EXPECT_EQ(store.find_refresh(hash_of("rt1")).status, store_status::not_found);
  EXPECT_EQ(redis.command({"ZSCORE", "shub:active", "s1"}), "(nil)");
  expect_same(store.get("s1").value, ended);
  // Losing with changed keys too (the script asks for index entries first, then loses).
  rotated.sub = "mallory";
  EXPECT_EQ(store.update(rotated, 1, &rt), store_status::conflict);
  EXPECT_EQ(store.find_refresh(hash_of("rt1")).status, store_status::not_found);
  EXPECT_TRUE(store.list_by_sub("mallory").value.empty());
  // A refresh hash already recorded: refused before anything is written.
  session next = ended;
  next.version = 3;
  const refresh_record taken = record_for(next, "rt0");
  EXPECT_EQ(store.update(next, 2, &taken), store_status::unavailable);
  expect_same(store.get("s1").value, ended);
  EXPECT_EQ(store.find_refresh(hash_of("rt0")).value.generation, 1u);
}

// Through the session rules on Redis: a rotation and a reuse of an older token of the same
// session, racing from two replicas, always end with the session revoked for reuse, and a
// token the rotation handed out is dead.
TEST(RedisStore, ARotationRacingAReuseStillRevokes) {
  redis_server redis;
  redis_store a(options_for(redis)), b(options_for(redis));
  fake_clock clock(wall_ms());
  const key_set keys({key::generate(jwt_alg::ES256)});
  session_policy policy;
  policy.reuse_interval_s = 10;
  session_service on_a(a, keys, clock, policy), on_b(b, keys, clock, policy);
  constexpr int rounds = 12;
  int rotations_seen = 0;
  for (int round = 0; round < rounds; ++round) {
    create_request req;
    req.sub = "alice";
    req.device_id = "dev-1";
    const auto first = on_a.create(req);
    ASSERT_TRUE(first.ok());
    const auto second = on_a.refresh(first.tokens.refresh_token);
    ASSERT_TRUE(second.ok());
    const auto current = on_b.refresh(second.tokens.refresh_token);
    ASSERT_TRUE(current.ok());
    // `first` is now two generations old: presenting it is reuse, grace or not.
    session_outcome rotation, reuse;
    std::barrier sync(2);
    std::thread rotate([&] {
      sync.arrive_and_wait();
      rotation = on_a.refresh(current.tokens.refresh_token);
    });
    std::thread reuser([&] {
      sync.arrive_and_wait();
      reuse = on_b.refresh(first.tokens.refresh_token);
    });
    rotate.join();
    reuser.join();
    EXPECT_EQ(reuse.why, denial::reused) << "round " << round;
    EXPECT_TRUE(reuse.ended_now);
    const auto stored = a.get(first.s.sid);
    ASSERT_TRUE(stored.ok());
    EXPECT_FALSE(stored.value.active());
    EXPECT_EQ(stored.value.end_reason, "refresh_token_reuse");
    EXPECT_EQ(redis.command({"ZSCORE", "shub:active", first.s.sid}), "(nil)");
    if (rotation.ok()) {
      ++rotations_seen;
      EXPECT_TRUE(rotation.rotated);
      EXPECT_EQ(on_b.refresh(rotation.tokens.refresh_token).why, denial::revoked);
    } else {
      EXPECT_EQ(rotation.why, denial::revoked) << "round " << round;
    }
    EXPECT_EQ(on_a.refresh(current.tokens.refresh_token).why, denial::revoked);
  }
  // Which one wins is the scheduler's business; both outcomes are covered above.
  EXPECT_LE(rotations_seen, rounds);
}

}  // namespace
}  // namespace shub::auth
