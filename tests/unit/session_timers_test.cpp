// session_timers: one idle timer per session — warnings once per deadline, expiries until
// dealt with, activity coalescing, connection counting, and the session as its tabs know it.
#include "hub/session_timers.hpp"

#include <gtest/gtest.h>

namespace shub {
namespace {

auth::session make(const std::string& sid, std::int64_t idle, std::int64_t abs, std::uint64_t v) {
  auth::session s;
  s.sid = sid;
  s.idle_expires_at = idle;
  s.expires_at = abs;
  s.version = v;
  return s;
}

TEST(SessionTimers, WarnsOncePerDeadlineThenExpires) {
  session_timers t(60'000, 5'000);
  t.attach(make("s1", 100'000, 1'000'000, 1));
  EXPECT_TRUE(t.sweep(39'999).warn.empty());
  auto due = t.sweep(40'000);
  ASSERT_EQ(due.warn.size(), 1u);
  EXPECT_EQ(due.warn[0].sid, "s1");
  EXPECT_EQ(due.warn[0].idle_expires_at, 100'000);
  EXPECT_TRUE(t.sweep(50'000).warn.empty());  // once per deadline
  due = t.sweep(100'000);
  ASSERT_EQ(due.expire.size(), 1u);
  EXPECT_TRUE(t.sweep(100'500).expire.empty());   // asked recently: not again yet
  EXPECT_EQ(t.sweep(101'000).expire.size(), 1u);  // still due: asked again
}

TEST(SessionTimers, ExtensionMovesTheDeadlineAndRearmsTheWarning) {
  session_timers t(60'000, 5'000);
  t.attach(make("s1", 100'000, 1'000'000, 1));
  ASSERT_EQ(t.sweep(45'000).warn.size(), 1u);
  t.update(make("s1", 200'000, 1'000'000, 2));
  EXPECT_TRUE(t.sweep(100'000).expire.empty());
  EXPECT_EQ(t.sweep(140'000).warn.size(), 1u);
  t.update(make("s1", 50'000, 1'000'000, 1));  // an older version never wins
  EXPECT_TRUE(t.sweep(150'000).expire.empty());
}

TEST(SessionTimers, RevokedSessionsAreForgotten) {
  session_timers t(60'000, 5'000);
  t.attach(make("s1", 100'000, 1'000'000, 1));
  auto ended = make("s1", 100'000, 1'000'000, 2);
  ended.state = auth::session_state::revoked;
  t.update(ended);
  EXPECT_EQ(t.connections("s1"), 0);
  EXPECT_TRUE(t.sweep(200'000).expire.empty());
}

TEST(SessionTimers, NoWarningWhenIdleIsCappedByAbsoluteExpiry) {
  session_timers t(60'000, 5'000);
  t.attach(make("s1", 100'000, 100'000, 1));
  EXPECT_TRUE(t.sweep(90'000).warn.empty());
  EXPECT_EQ(t.sweep(100'000).expire.size(), 1u);
}

TEST(SessionTimers, CountsConnectionsPerSession) {
  session_timers t(60'000, 5'000);
  const auto s = make("s1", 100'000, 1'000'000, 1);
  t.attach(s);
  t.attach(s);
  EXPECT_EQ(t.connections("s1"), 2);
  t.detach("s1");
  EXPECT_EQ(t.connections("s1"), 1);
  t.detach("s1");
  EXPECT_EQ(t.connections("s1"), 0);
  EXPECT_TRUE(t.sweep(500'000).expire.empty());  // no connections: not timed here
}

TEST(SessionTimers, ActivityIsCoalescedPerWindow) {
  session_timers t(60'000, 5'000);
  t.attach(make("s1", 100'000, 1'000'000, 1));
  EXPECT_TRUE(t.activity_due("s1", 10'000));
  EXPECT_FALSE(t.activity_due("s1", 12'000));
  EXPECT_FALSE(t.activity_due("s1", 14'999));
  EXPECT_TRUE(t.activity_due("s1", 15'000));
  EXPECT_FALSE(t.activity_due("unknown", 15'000));
}

// known(): only a session with connections here, neither expiry due, as the latest update
// of it says; its sub and device from the first attach.
TEST(SessionTimers, KnowsOnlyLiveSessionsWithConnectionsHereAsLastTold) {
  session_timers t(60'000, 5'000);
  EXPECT_FALSE(t.known("s1", 0));
  auto s = make("s1", 100'000, 200'000, 3);
  s.sub = "alice";
  s.device_id = "dev-1";
  t.attach(s);
  auto k = t.known("s1", 50'000);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->sid, "s1");
  EXPECT_EQ(k->sub, "alice");
  EXPECT_EQ(k->device_id, "dev-1");
  EXPECT_EQ(k->version, 3u);
  EXPECT_EQ(k->idle_expires_at, 100'000);
  EXPECT_EQ(k->expires_at, 200'000);
  EXPECT_TRUE(k->active());

  EXPECT_FALSE(t.known("s1", 100'000));  // idle expiry due: the store decides
  t.update(make("s1", 150'000, 200'000, 4));
  k = t.known("s1", 100'000);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->version, 4u);
  EXPECT_EQ(k->sub, "alice");
  t.update(make("s1", 90'000, 200'000, 2));  // older news changes nothing
  EXPECT_EQ(t.known("s1", 100'000)->version, 4u);
  EXPECT_FALSE(t.known("s1", 200'000));  // absolute expiry due

  auto ended = make("s1", 150'000, 200'000, 5);
  ended.state = auth::session_state::revoked;
  t.update(ended);
  EXPECT_FALSE(t.known("s1", 100'000));

  t.attach(make("s2", 100'000, 200'000, 1));
  t.detach("s2");
  EXPECT_FALSE(t.known("s2", 50'000));  // no connections here any more
}

// A session heard to end is remembered: an auth that read it active before its logout
// arrived attaches to nothing and learns how it ended, with or without other tabs here.
TEST(SessionTimers, RefusesToAttachASessionHeardToEnd) {
  session_timers t(60'000, 5'000, 10'000);
  ASSERT_TRUE(t.sweep(0).expire.empty());  // the remembered ends start their clock
  auto read_before = make("s1", 100'000, 200'000, 3);
  read_before.sub = "alice";
  auto ended = make("s1", 100'000, 200'000, 4);
  ended.sub = "alice";
  ended.device_id = "dev-1";
  ended.state = auth::session_state::revoked;
  ended.end_reason = "user_logout";
  ended.claims_json = R"({"tenant":"acme"})";
  t.update(ended);  // no tab here yet: the first tab's auth is still reading

  auth::session told;
  EXPECT_FALSE(t.attach(read_before, &told));
  EXPECT_EQ(t.connections("s1"), 0);
  EXPECT_FALSE(t.known("s1", 50'000));
  EXPECT_EQ(told.sid, "s1");
  EXPECT_EQ(told.sub, "alice");
  EXPECT_EQ(told.device_id, "dev-1");
  EXPECT_EQ(told.version, 4u);
  EXPECT_FALSE(told.active());
  EXPECT_EQ(told.end_reason, "user_logout");
  EXPECT_TRUE(told.claims_json.empty());  // not kept

  auto s2 = make("s2", 100'000, 200'000, 1);
  ASSERT_TRUE(t.attach(s2));
  auto s2_ended = make("s2", 100'000, 200'000, 2);
  s2_ended.state = auth::session_state::revoked;
  t.update(s2_ended);  // its tabs here are told by the logout itself
  EXPECT_FALSE(t.attach(s2));
  EXPECT_EQ(t.connections("s2"), 0);

  // Kept for at least half of ended_kept_ms, gone after it.
  ASSERT_TRUE(t.sweep(4'999).expire.empty());
  EXPECT_FALSE(t.attach(read_before));
  ASSERT_TRUE(t.sweep(5'000).expire.empty());
  EXPECT_FALSE(t.attach(read_before));
  ASSERT_TRUE(t.sweep(10'000).expire.empty());
  EXPECT_TRUE(t.attach(read_before));
}

// However many sessions end, the remembered ones stay bounded.
TEST(SessionTimers, RemembersABoundedNumberOfEnds) {
  session_timers t(60'000, 5'000);
  constexpr std::size_t n = session_timers::max_ended_kept + 10;
  for (std::size_t i = 0; i < n; ++i) {
    auto s = make("s" + std::to_string(i), 100'000, 200'000, 2);
    s.state = auth::session_state::revoked;
    t.update(s);
  }
  EXPECT_TRUE(t.attach(make("s0", 100'000, 200'000, 1)));  // the oldest let go
  EXPECT_FALSE(t.attach(make("s" + std::to_string(n - 1), 100'000, 200'000, 1)));
  EXPECT_FALSE(t.attach(make("s" + std::to_string(n / 2), 100'000, 200'000, 1)));
}

}  // namespace
}  // namespace shub
