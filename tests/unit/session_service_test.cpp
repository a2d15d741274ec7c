// session_service: the rotation rules of PROTOCOL §2 and the session lifecycle, driven by a
// fake clock over a real (in-memory) SQLite store.
#include "auth/session_service.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "auth/base64url.hpp"
#include "auth/crypto.hpp"
#include "auth/sqlite_store.hpp"

namespace shub::auth {
namespace {

class SessionService : public ::testing::Test {
 protected:
  SessionService() : store_(":memory:"), keys_({key::generate(jwt_alg::ES256)}) {
    policy_.access_ttl_s = 900;
    policy_.idle_timeout_s = 1800;
    policy_.max_age_s = 7 * 86400;
    policy_.reuse_interval_s = 10;
  }

  session_service& svc() {
    if (!svc_) svc_ = std::make_unique<session_service>(store_, keys_, clock_, policy_);
    return *svc_;
  }

  session_outcome login(const std::string& sub = "alice") {
    create_request req;
    req.sub = sub;
    req.device_id = "device-1";
    auto out = svc().create(req);
    EXPECT_TRUE(out.ok());
    return out;
  }

  fake_clock clock_;
  sqlite_store store_;
  key_set keys_;
  session_policy policy_;
  std::unique_ptr<session_service> svc_;
};

TEST_F(SessionService, CreateIssuesTokensAndSession) {
  const auto out = login();
  EXPECT_EQ(out.s.sub, "alice");
  EXPECT_EQ(out.s.version, 1u);
  // The sid's 16 bytes and 256 random bits, base64url.
  ASSERT_EQ(out.tokens.refresh_token.size(), 64u);
  const auto raw = base64url_decode(out.tokens.refresh_token);
  ASSERT_TRUE(raw);
  EXPECT_EQ(base64url_encode(raw->substr(0, 16)), out.s.sid);
  EXPECT_EQ(out.tokens.expires_in, 900);
  EXPECT_EQ(out.s.idle_expires_at, clock_.now_ms() + 1800 * 1000);
  EXPECT_EQ(out.s.expires_at, clock_.now_ms() + 7LL * 86400 * 1000);
  const auto v = svc().validate(out.tokens.access_token);
  ASSERT_TRUE(v.ok()) << to_string(v.why);
  EXPECT_EQ(v.s.sid, out.s.sid);
  EXPECT_EQ(v.token_exp, clock_.now_s() + 900);
}

TEST_F(SessionService, Rule1RotationReturnsNewPairAndSlidesIdle) {
  const auto first = login();
  clock_.advance_ms(60'000);
  const auto r = svc().refresh(first.tokens.refresh_token);
  ASSERT_TRUE(r.ok()) << to_string(r.why);
  EXPECT_TRUE(r.rotated);
  EXPECT_NE(r.tokens.refresh_token, first.tokens.refresh_token);
  EXPECT_NE(r.tokens.access_token, first.tokens.access_token);
  EXPECT_EQ(r.s.version, first.s.version + 1);
  // Rule 5: the idle expiry slid forward.
  EXPECT_EQ(r.s.idle_expires_at, clock_.now_ms() + 1800 * 1000);
  EXPECT_TRUE(svc().validate(r.tokens.access_token).ok());
  // The new token rotates in its turn.
  clock_.advance_ms(20'000);
  EXPECT_TRUE(svc().refresh(r.tokens.refresh_token).ok());
}

TEST_F(SessionService, Rule2RaceWithinGraceReturnsTheSamePair) {
  const auto first = login();
  const auto a = svc().refresh(first.tokens.refresh_token);
  clock_.advance_ms(9'000);
  const auto b = svc().refresh(first.tokens.refresh_token);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok()) << to_string(b.why);
  EXPECT_FALSE(b.rotated);
  EXPECT_EQ(a.tokens.refresh_token, b.tokens.refresh_token);
  EXPECT_EQ(a.tokens.access_token, b.tokens.access_token);
  EXPECT_EQ(b.tokens.expires_in, a.tokens.expires_in - 9);
  EXPECT_EQ(b.s.version, a.s.version);  // one rotation happened, not two
  EXPECT_TRUE(svc().refresh(a.tokens.refresh_token).ok());
}

TEST_F(SessionService, Rule2ConcurrentRacersAllSucceedWithOneRotation) {
  const auto first = login();
  constexpr int tabs = 8;
  std::vector<session_outcome> results(tabs);
  std::vector<std::thread> threads;
  for (int i = 0; i < tabs; ++i) {
    threads.emplace_back([&, i] { results[i] = svc().refresh(first.tokens.refresh_token); });
  }
  for (auto& t : threads)
    t.join();
  std::set<std::string> refresh_tokens;
  int rotations = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << to_string(r.why);
    refresh_tokens.insert(r.tokens.refresh_token);
    rotations += r.rotated ? 1 : 0;
  }
  EXPECT_EQ(rotations, 1);
  EXPECT_EQ(refresh_tokens.size(), 1u);
  EXPECT_EQ(store_.get(first.s.sid).value.rt_generation, 2u);
}

TEST_F(SessionService, Rule3PreviousTokenAfterGraceRevokesSession) {
  const auto first = login();
  const auto a = svc().refresh(first.tokens.refresh_token);
  ASSERT_TRUE(a.ok());
  clock_.advance_ms(10'001);
  const auto reuse = svc().refresh(first.tokens.refresh_token);
  EXPECT_EQ(reuse.why, denial::reused);
  EXPECT_TRUE(reuse.ended_now);
  EXPECT_EQ(reuse.s.end_reason, "refresh_token_reuse");
  // The whole family is dead, the newest token included, and so is its access token.
  EXPECT_EQ(svc().refresh(a.tokens.refresh_token).why, denial::revoked);
  EXPECT_EQ(svc().validate(a.tokens.access_token).why, denial::revoked);
}

TEST_F(SessionService, Rule3GrandparentReuseRevokesEvenWithinGrace) {
  const auto first = login();
  const auto a = svc().refresh(first.tokens.refresh_token);
  clock_.advance_ms(1'000);
  const auto b = svc().refresh(a.tokens.refresh_token);
  ASSERT_TRUE(b.ok());
  clock_.advance_ms(1'000);
  const auto reuse = svc().refresh(first.tokens.refresh_token);
  EXPECT_EQ(reuse.why, denial::reused);
  EXPECT_TRUE(reuse.ended_now);
  EXPECT_EQ(svc().refresh(b.tokens.refresh_token).why, denial::revoked);
}

TEST_F(SessionService, Rule3ReuseIsAnnouncedOnce) {
  const auto first = login();
  ASSERT_TRUE(svc().refresh(first.tokens.refresh_token).ok());
  clock_.advance_ms(20'000);
  EXPECT_TRUE(svc().refresh(first.tokens.refresh_token).ended_now);
  const auto again = svc().refresh(first.tokens.refresh_token);
  EXPECT_EQ(again.why, denial::revoked);
  EXPECT_FALSE(again.ended_now);
}

TEST_F(SessionService, Rule4IdleExpiryEndsTheSession) {
  const auto first = login();
  clock_.advance_ms(1800 * 1000);
  const auto r = svc().refresh(first.tokens.refresh_token);
  EXPECT_EQ(r.why, denial::idle_expired);
  EXPECT_TRUE(r.ended_now);
  EXPECT_EQ(r.s.end_reason, "idle_timeout");
  EXPECT_EQ(svc().refresh(first.tokens.refresh_token).why, denial::revoked);
}

TEST_F(SessionService, Rule4AbsoluteExpiryWinsOverActivity) {
  policy_.max_age_s = 3600;
  const auto first = login();
  auto token = first.tokens.refresh_token;
  for (int i = 0; i < 5; ++i) {  // keep it busy: every 15 min a refresh
    clock_.advance_ms(15 * 60 * 1000);
    const auto r = svc().refresh(token);
    if (i < 3) {
      ASSERT_TRUE(r.ok()) << i;
      token = r.tokens.refresh_token;
      EXPECT_LE(r.s.idle_expires_at, r.s.expires_at);  // idle never beyond absolute
    } else if (i == 3) {
      EXPECT_EQ(r.why, denial::absolute_expired);
      EXPECT_EQ(r.s.end_reason, "absolute_timeout");
    }
  }
}

TEST_F(SessionService, AccessTokenNeverOutlivesTheSession) {
  policy_.max_age_s = 600;  // shorter than the access TTL
  const auto out = login();
  EXPECT_EQ(out.tokens.expires_in, 600);
}

TEST_F(SessionService, ValidateRefusesForgedExpiredAndRevoked) {
  const auto out = login();
  EXPECT_EQ(svc().validate("not.a.jwt").why, denial::token_invalid);
  std::string tampered = out.tokens.access_token;
  tampered[tampered.size() - 3] ^= 1;
  EXPECT_EQ(svc().validate(tampered).why, denial::token_invalid);
  clock_.advance_ms((900 + 6) * 1000);  // past exp + leeway
  EXPECT_EQ(svc().validate(out.tokens.access_token).why, denial::token_expired);
  const auto fresh = login("bob");
  ASSERT_TRUE(svc().revoke(fresh.s.sid, "admin").ended_now);
  EXPECT_EQ(svc().validate(fresh.tokens.access_token).why, denial::revoked);
}

TEST_F(SessionService, ExtendSlidesIdleAndBumpsVersion) {
  const auto out = login();
  clock_.advance_ms(600'000);
  const auto e = svc().extend(out.s.sid);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.s.idle_expires_at, clock_.now_ms() + 1800 * 1000);
  EXPECT_EQ(e.s.version, out.s.version + 1);
}

TEST_F(SessionService, ExpireIfDueEndsOnceAcrossConcurrentTimers) {
  const auto out = login();
  clock_.advance_ms(1800 * 1000 + 1);
  std::atomic<int> ended{0};
  std::vector<std::thread> timers;
  for (int i = 0; i < 6; ++i) {
    timers.emplace_back([&] {
      if (svc().expire_if_due(out.s.sid).ended_now) ++ended;
    });
  }
  for (auto& t : timers)
    t.join();
  EXPECT_EQ(ended.load(), 1);
  EXPECT_EQ(store_.get(out.s.sid).value.end_reason, "idle_timeout");
}

TEST_F(SessionService, RevokeUserAndDevice) {
  const auto a = login("alice");
  const auto b = login("alice");
  const auto c = login("carol");
  const auto user = svc().revoke_user("alice", "admin");
  EXPECT_EQ(user.ended.size(), 2u);
  EXPECT_TRUE(svc().validate(c.tokens.access_token).ok());
  const auto dev = svc().revoke_device("device-1", "user_logout");
  EXPECT_EQ(dev.ended.size(), 1u);  // only carol's remained on device-1
  EXPECT_EQ(svc().revoke(a.s.sid, "admin").ended_now, false);
  EXPECT_EQ(svc().revoke("no-such-sid", "admin").why, denial::unknown);
  (void)b;
}

TEST_F(SessionService, IdentifyRefreshDoesNotRotate) {
  const auto out = login();
  const auto who = svc().identify_refresh(out.tokens.refresh_token);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who.s.sid, out.s.sid);
  EXPECT_TRUE(svc().refresh(out.tokens.refresh_token).rotated);
}

TEST_F(SessionService, CustomClaimsReachTheTokenButNeverOverrideRegisteredOnes) {
  create_request req;
  req.sub = "alice";
  req.claims_json = R"({"tenant":"acme","sub":"mallory","roles":["admin"]})";
  const auto out = svc().create(req);
  ASSERT_TRUE(out.ok());
  jwt_expectations e;
  e.typ = "at+jwt";
  e.now_s = clock_.now_s();
  const auto r = jwt_verify(out.tokens.access_token, keys_, e);
  ASSERT_TRUE(r.ok());
  EXPECT_STREQ(r.jwt->claims["sub"].GetString(), "alice");
  EXPECT_STREQ(r.jwt->claims["tenant"].GetString(), "acme");
  EXPECT_TRUE(r.jwt->claims["roles"].IsArray());
}

TEST_F(SessionService, MalformedRefreshTokensAreUnknown) {
  for (const std::string& bad :
       {std::string(), std::string("short"), std::string(43, '!'), std::string(43, 'A'),
        std::string(64, 'A'), std::string(63, 'A') + "!", std::string(65, 'A')}) {
    EXPECT_EQ(svc().refresh(bad).why, denial::unknown) << bad;
  }
}

TEST_F(SessionService, AnotherSessionsSidInARefreshTokenFindsNothingAndChangesNothing) {
  const auto a = login("alice");
  const auto b = login("bob");
  // A's 256 random bits behind B's sid: the record is found by the hash of the whole token,
  // so this is no token at all, whichever session the store was told to expect.
  auto raw = *base64url_decode(a.tokens.refresh_token);
  raw.replace(0, 16, *base64url_decode(b.s.sid));
  const std::string forged = base64url_encode(raw);
  EXPECT_EQ(svc().refresh(forged).why, denial::unknown);
  EXPECT_EQ(svc().identify_refresh(forged).why, denial::unknown);
  EXPECT_EQ(store_.get(a.s.sid).value.version, a.s.version);
  EXPECT_EQ(store_.get(b.s.sid).value.version, b.s.version);
  EXPECT_TRUE(svc().refresh(a.tokens.refresh_token).rotated);
  EXPECT_TRUE(svc().refresh(b.tokens.refresh_token).rotated);
}

TEST_F(SessionService, ARefreshTokenWithoutItsSidStillRotates) {
  // Refresh tokens were once the 256 random bits alone (43 characters); the session
  // holding one, as current, rotates to a token that carries its sid.
  const auto out = login();
  const std::string sidless = base64url_encode(std::string(32, '\x5a'));
  session s = store_.get(out.s.sid).value;
  const refresh_record rec{sha256(sidless), s.sid, s.rt_generation};
  ASSERT_EQ(store_.update(s, s.version, &rec), store_status::ok);
  const auto r = svc().refresh(sidless);
  ASSERT_TRUE(r.ok()) << to_string(r.why);
  EXPECT_TRUE(r.rotated);
  EXPECT_EQ(r.s.sid, out.s.sid);
  EXPECT_EQ(r.tokens.refresh_token.size(), 64u);
  EXPECT_TRUE(svc().refresh(r.tokens.refresh_token).rotated);
}

// Verified tokens are remembered (tabs sharing one skip the signature check), but never what
// the store says: a revoked session is refused on the next use, an expired token at the
// same second jwt_verify would refuse it, and a token differing in one byte is verified
// afresh (and refused).
class SessionServiceTokenCache : public SessionService {};

TEST_F(SessionServiceTokenCache, RemembersTheSignatureNotTheSession) {
  const auto a = login();
  ASSERT_TRUE(svc().validate(a.tokens.access_token).ok());
  ASSERT_TRUE(svc().validate(a.tokens.access_token).ok());  // from the cache
  std::string forged = a.tokens.access_token;
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(svc().validate(forged).why, denial::token_invalid);
  ASSERT_TRUE(svc().revoke(a.s.sid, "admin").ended_now);
  EXPECT_EQ(svc().validate(a.tokens.access_token).why, denial::revoked);
}

TEST_F(SessionServiceTokenCache, ACachedTokenExpiresWhenItsSignatureCheckWouldSaySo) {
  policy_.leeway_s = 5;
  const auto a = login();
  ASSERT_TRUE(svc().validate(a.tokens.access_token).ok());
  // exp = now + 900 s; "expired" from exp + leeway on, as jwt_verify decides.
  clock_.advance_ms((900 + 5 - 1) * 1000LL);
  ASSERT_TRUE(svc().extend(a.s.sid).ok());  // keep the session itself alive
  EXPECT_TRUE(svc().validate(a.tokens.access_token).ok());
  clock_.advance_ms(1000);
  EXPECT_EQ(svc().validate(a.tokens.access_token).why, denial::token_expired);
}

// A token the service minted is remembered as it leaves (the first tab's auth needs no
// signature check), with the sid, sub and expiry it carries; a rotation's successor too, and
// a second service on the same store and key, which minted neither, knows neither until it
// verifies them.
TEST_F(SessionServiceTokenCache, RemembersTheTokensItMints) {
  const auto a = login();
  const auto known = svc().recall(a.tokens.access_token);
  ASSERT_TRUE(known);
  EXPECT_EQ(known->sid, a.s.sid);
  EXPECT_EQ(known->sub, "alice");
  EXPECT_EQ(known->exp, clock_.now_s() + 900);

  clock_.advance_ms(5000);
  const auto r = svc().refresh(a.tokens.refresh_token);
  ASSERT_TRUE(r.ok() && r.rotated);
  const auto next = svc().recall(r.tokens.access_token);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->sid, a.s.sid);
  EXPECT_EQ(next->exp, clock_.now_s() + 900);

  session_service elsewhere(store_, keys_, clock_, policy_);
  EXPECT_FALSE(elsewhere.recall(a.tokens.access_token));
  EXPECT_FALSE(elsewhere.recall(r.tokens.access_token));
  EXPECT_TRUE(elsewhere.validate(r.tokens.access_token).ok());  // verified, then remembered
  EXPECT_TRUE(elsewhere.recall(r.tokens.access_token));
}

TEST(TokenCache, IsBoundedAndCanBeOff) {
  token_cache off(0);
  off.insert("t", {"sid", "sub", 100}, 0);
  EXPECT_FALSE(off.find("t", 0, 0));
  token_cache small(16);  // one entry per shard
  for (int i = 0; i < 1000; ++i)
    small.insert("token-" + std::to_string(i), {"s", "u", 100}, 0);
  int kept = 0;
  for (int i = 0; i < 1000; ++i)
    kept += small.find("token-" + std::to_string(i), 0, 0) ? 1 : 0;
  EXPECT_LE(kept, 16);
  EXPECT_GE(kept, 1);
}

TEST(TokenCache, ExpiredEntriesAreDroppedWithoutWaitingForTheCacheToFill) {
  token_cache cache(50000);
  for (int i = 0; i < 1000; ++i)
    cache.insert("old-" + std::to_string(i), {"s", "u", 100}, 0);
  EXPECT_EQ(cache.size(), 1000u);
  // Within the minute nothing is swept; later, each insert sweeps its shard of expired ones.
  cache.insert("young", {"s", "u", 1000}, 30);
  EXPECT_EQ(cache.size(), 1001u);
  for (int i = 0; i < 200; ++i)
    cache.insert("new-" + std::to_string(i), {"s", "u", 1000}, 200);
  EXPECT_EQ(cache.size(), 201u);
  EXPECT_TRUE(cache.find("young", 200, 0));
  EXPECT_FALSE(cache.find("old-1", 200, 0));
}

}  // namespace
}  // namespace shub::auth
