// refresh_test: POST /v1/refresh and the five refresh rotation rules of PROTOCOL §2 over
// real HTTP — rotation by body and by cookie, racing tabs that present the same token and
// must all get the same successor pair, reuse of the previous token after the grace or of
// any older token (the whole session is revoked and a warning is logged), idle and absolute
// expiry, and the idle slide a successful refresh gives.
#include <latch>
#include <thread>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// The hub's warning for a reuse of this session, waited for briefly.
testing::AssertionResult reuse_logged(hub_process& hub, const std::string& sid,
                                      const std::vector<std::string>& tokens) {
  const auto line = hub.wait_for_log(
      [&](std::string_view text) {
        const json doc = parse_json(text);
        return json_string(doc, "msg") == "refresh_token_reuse" && json_string(doc, "sid") == sid;
      },
      3s);
  if (!line) return testing::AssertionFailure() << "no refresh_token_reuse log line for " << sid;
  if (json_string(parse_json(*line), "level") != "warn")
    return testing::AssertionFailure() << "not a warning: " << *line;
  for (const auto& t : tokens)
    if (line->find(t) != std::string::npos)
      return testing::AssertionFailure() << "a token in the log: " << *line;
  return testing::AssertionSuccess();
}

TEST(HttpRefresh, RotatesToANewPairByBody) {
  hub_process hub;
  const auto t0 = login_ok(hub.port());
  const auto r = refresh(hub.port(), *t0.refresh_token);
  const auto t1 = parse_token_response(r);
  ASSERT_TRUE(t1 && t1->refresh_token) << r.describe();
  EXPECT_NE(*t1->refresh_token, *t0.refresh_token);
  EXPECT_NE(t1->access_token, t0.access_token);
  EXPECT_EQ(t1->sid, t0.sid);
  EXPECT_EQ(t1->sub, "alice");
  EXPECT_EQ(t1->token_type, "Bearer");
  EXPECT_EQ(t1->expires_in, 900);
  EXPECT_GE(t1->version, t0.version);
  EXPECT_EQ(t1->expires_at, t0.expires_at) << "a refresh must not move the absolute expiry";
  const auto cookie = find_set_cookie(r, "shub_rt", "/v1/refresh");
  const auto logout_cookie = find_set_cookie(r, "shub_rt", "/v1/logout");
  ASSERT_TRUE(cookie && logout_cookie) << r.describe();
  EXPECT_EQ(cookie->value, *t1->refresh_token);
  EXPECT_EQ(logout_cookie->value, *t1->refresh_token);
  EXPECT_TRUE(find_set_cookie(r, "shub_did", "/")) << "no shub_did though none was sent";
  const auto v = validate(hub.port(), t1->access_token);
  ASSERT_EQ(v.status, 200) << v.describe();
  EXPECT_EQ(json_string(v.json_body(), "sid"), t0.sid);
}

TEST(HttpRefresh, RotatesByCookie) {
  hub_process hub;
  const auto l = login(hub.port(), "alice", "wonderland", false);
  const auto rt0 = find_set_cookie(l, "shub_rt", "/v1/refresh");
  const auto did = find_set_cookie(l, "shub_did", "/");
  ASSERT_TRUE(rt0 && did) << l.describe();

  const auto cookies = [&](const std::string& rt) {
    return header_list{cookie_header({{"shub_rt", rt}, {"shub_did", did->value}})};
  };
  const auto r1 = http_request(hub.port(), "POST", "/v1/refresh", cookies(rt0->value));
  ASSERT_EQ(r1.status, 200) << r1.describe();
  const auto t1 = parse_token_response(r1);
  ASSERT_TRUE(t1) << r1.body;
  EXPECT_FALSE(t1->refresh_token) << "refresh_token in the body without token_delivery";
  const auto rt1 = find_set_cookie(r1, "shub_rt", "/v1/refresh");
  ASSERT_TRUE(rt1 && find_set_cookie(r1, "shub_rt", "/v1/logout")) << r1.describe();
  EXPECT_NE(rt1->value, rt0->value);
  EXPECT_TRUE(find_set_cookies(r1, "shub_did").empty()) << "shub_did re-set though carried";

  const auto r2 = http_request(hub.port(), "POST", "/v1/refresh", cookies(rt1->value));
  ASSERT_EQ(r2.status, 200) << r2.describe();
  EXPECT_EQ(validate(hub.port(), parse_token_response(r2)->access_token).status, 200);
}

TEST(HttpRefresh, BodyTokenWinsOverTheCookie) {
  hub_process hub;
  const auto a = login_ok(hub.port());
  const auto b = login_ok(hub.port());
  const std::string bogus = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

  // Valid body, unknown cookie: the body is used.
  auto r = http_request(hub.port(), "POST", "/v1/refresh",
                        {json_type(), cookie_header({{"shub_rt", bogus}})},
                        "{\"refresh_token\":" + json_quote(*a.refresh_token) + "}");
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(parse_token_response(r)->sid, a.sid);

  // Unknown body, valid cookie: still the body, so refused.
  r = http_request(hub.port(), "POST", "/v1/refresh",
                   {json_type(), cookie_header({{"shub_rt", *b.refresh_token}})},
                   "{\"refresh_token\":" + json_quote(bogus) + "}");
  EXPECT_TRUE(is_problem(r, 401, "invalid_grant"));
}

TEST(HttpRefresh, PreviousTokenWithinTheGraceGetsTheSameSuccessor) {
  hub_process hub;
  const auto t0 = login_ok(hub.port());
  const auto t1 = refresh_ok(hub.port(), *t0.refresh_token);
  const auto again = refresh_ok(hub.port(), *t0.refresh_token);
  EXPECT_EQ(again.refresh_token, t1.refresh_token);
  EXPECT_EQ(again.access_token, t1.access_token);
  EXPECT_EQ(again.sid, t0.sid);
  // One rotation happened, nothing was revoked: the successor carries on.
  EXPECT_EQ(validate(hub.port(), t1.access_token).status, 200);
  const auto t2 = refresh_ok(hub.port(), *t1.refresh_token);
  EXPECT_NE(t2.refresh_token, t1.refresh_token);
  EXPECT_EQ(validate(hub.port(), t2.access_token).status, 200);
}

// `n` requests presenting the same token at once, each on its own warmed-up connection.
std::vector<http_response> race(int port, const std::string& refresh_token, int n) {
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<http_client>(port, true));
    clients.back()->request("GET", "/healthz");
  }
  std::vector<http_response> responses(static_cast<std::size_t>(n));
  std::latch start(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      auto& out = responses[static_cast<std::size_t>(i)];
      start.arrive_and_wait();
      try {
        out = clients[static_cast<std::size_t>(i)]->request(
            "POST", "/v1/refresh", {json_type()},
            "{\"refresh_token\":" + json_quote(refresh_token) + ",\"token_delivery\":\"body\"}");
      } catch (const std::exception& e) {
        out.body = e.what();  // status 0 fails the caller's checks with this message
      }
    });
  for (auto& t : threads)
    t.join();
  return responses;
}

TEST(HttpRefresh, TwoRacingTabsGetTheSamePair) {
  hub_process hub;
  const auto t0 = login_ok(hub.port());
  const auto responses = race(hub.port(), *t0.refresh_token, 2);
  const auto a = parse_token_response(responses[0]);
  const auto b = parse_token_response(responses[1]);
  ASSERT_TRUE(a && responses[0].status == 200) << responses[0].describe();
  ASSERT_TRUE(b && responses[1].status == 200) << responses[1].describe();
  EXPECT_EQ(a->refresh_token, b->refresh_token);
  EXPECT_EQ(a->access_token, b->access_token);
  EXPECT_NE(a->refresh_token, t0.refresh_token);
  EXPECT_EQ(validate(hub.port(), a->access_token).status, 200);
  EXPECT_EQ(refresh(hub.port(), *a->refresh_token).status, 200);
}

TEST(HttpRefresh, ManyRacingTabsGetTheSamePairAndNoReuseIsCounted) {
  hub_process hub(unlimited());
  const auto t0 = login_ok(hub.port());
  const auto responses = race(hub.port(), *t0.refresh_token, 6);
  const auto first = parse_token_response(responses[0]);
  ASSERT_TRUE(first) << responses[0].describe();
  for (const auto& r : responses) {
    const auto t = parse_token_response(r);
    ASSERT_TRUE(t && r.status == 200) << r.describe();
    EXPECT_EQ(t->refresh_token, first->refresh_token);
    EXPECT_EQ(t->access_token, first->access_token);
  }
  const json s = stats(hub.port());
  ASSERT_TRUE(s.HasMember("refresh") && s["refresh"].IsObject()) << to_text(s);
  EXPECT_EQ(json_int(s["refresh"], "reused"), 0) << to_text(s);
  EXPECT_EQ(validate(hub.port(), first->access_token).status, 200);
}

TEST(HttpRefresh, PreviousTokenAfterTheGraceIsReuseAndRevokesTheSession) {
  hub_process hub({"--reuse-interval-s", "1"});
  const auto t0 = login_ok(hub.port());
  const auto t1 = refresh_ok(hub.port(), *t0.refresh_token);
  sleep_ms(1300);
  EXPECT_TRUE(is_problem(refresh(hub.port(), *t0.refresh_token), 401, "invalid_grant"));
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), t1.access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(hub.port(), *t1.refresh_token), 401, "invalid_grant"));
  EXPECT_TRUE(reuse_logged(hub, t0.sid, {*t0.refresh_token, *t1.refresh_token, t1.access_token}));
  const json s = stats(hub.port());
  EXPECT_GE(json_int(s["refresh"], "reused").value_or(0), 1) << to_text(s);
}

TEST(HttpRefresh, GrandparentTokenIsReuseAndRevokesTheSession) {
  hub_process hub;
  const auto t0 = login_ok(hub.port());
  const auto t1 = refresh_ok(hub.port(), *t0.refresh_token);
  const auto t2 = refresh_ok(hub.port(), *t1.refresh_token);
  // Well within the default 10 s grace: the grace covers the previous token only.
  EXPECT_TRUE(is_problem(refresh(hub.port(), *t0.refresh_token), 401, "invalid_grant"));
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), t2.access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(hub.port(), *t2.refresh_token), 401, "invalid_grant"));
  EXPECT_TRUE(reuse_logged(hub, t0.sid, {*t0.refresh_token, *t2.refresh_token}));
}

TEST(HttpRefresh, ReuseRevokesOnlyThatSession) {
  hub_process hub;
  const auto victim = login_ok(hub.port());
  const auto bystander = login_ok(hub.port());
  const auto t1 = refresh_ok(hub.port(), *victim.refresh_token);
  refresh_ok(hub.port(), *t1.refresh_token);
  EXPECT_EQ(refresh(hub.port(), *victim.refresh_token).status, 401);
  EXPECT_EQ(validate(hub.port(), bystander.access_token).status, 200);
  EXPECT_EQ(refresh(hub.port(), *bystander.refresh_token).status, 200);
}

TEST(HttpRefresh, UnknownOrMalformedTokensAreInvalidGrant) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  const std::vector<std::string> bad_tokens = {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x",
                                               "not base64!", t.access_token,
                                               *t.refresh_token + "A"};
  for (const auto& bad : bad_tokens) {
    EXPECT_TRUE(is_problem(refresh(hub.port(), bad), 401, "invalid_grant")) << bad;
    EXPECT_TRUE(is_problem(
        http_request(hub.port(), "POST", "/v1/refresh", {cookie_header({{"shub_rt", bad}})}), 401,
        "invalid_grant"))
        << bad;
  }
  // None of that touched the real session.
  EXPECT_EQ(validate(hub.port(), t.access_token).status, 200);
  EXPECT_EQ(refresh(hub.port(), *t.refresh_token).status, 200);
}

TEST(HttpRefresh, NoTokenAtAllIsRefused) {
  hub_process hub;
  const auto r = http_request(hub.port(), "POST", "/v1/refresh");
  EXPECT_TRUE(is_problem(r, 401, "invalid_grant") || is_problem(r, 400, "invalid_request"))
      << r.describe();
  const auto empty = http_request(hub.port(), "POST", "/v1/refresh", {json_type()}, "{}");
  EXPECT_TRUE(is_problem(empty, 401, "invalid_grant") || is_problem(empty, 400, "invalid_request"))
      << empty.describe();
}

TEST(HttpRefresh, IdleExpiryEndsTheSession) {
  hub_process hub({"--idle-timeout-s", "2"});
  const auto t = login_ok(hub.port());
  sleep_ms(2500);
  EXPECT_TRUE(is_problem(refresh(hub.port(), *t.refresh_token), 401, "invalid_grant"));
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), t.access_token), "session_revoked"));
}

TEST(HttpRefresh, IdleExpiryIsSeenByValidateBeforeAnyRefresh) {
  hub_process hub({"--idle-timeout-s", "2"});
  const auto t = login_ok(hub.port());
  sleep_ms(2500);
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), t.access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(hub.port(), *t.refresh_token), 401, "invalid_grant"));
}

TEST(HttpRefresh, AbsoluteExpiryEndsTheSession) {
  hub_process hub({"--max-age-s", "2"});
  const auto r = login(hub.port(), "alice", "wonderland", true);
  const auto t = parse_token_response(r);
  ASSERT_TRUE(t && t->refresh_token) << r.describe();
  const auto cookie = find_set_cookie(r, "shub_rt", "/v1/refresh");
  ASSERT_TRUE(cookie && cookie->max_age()) << r.describe();
  EXPECT_LE(*cookie->max_age(), 2);
  // Keep the session from going idle meanwhile: only the absolute limit may end it.
  sleep_ms(1000);
  const auto t1 = refresh_ok(hub.port(), *t->refresh_token);
  sleep_ms(1500);
  EXPECT_TRUE(is_problem(refresh(hub.port(), *t1.refresh_token), 401, "invalid_grant"));
  const auto v = validate(hub.port(), t1.access_token);
  EXPECT_TRUE(is_token_refusal(v, "session_revoked") || is_token_refusal(v, "token_expired"))
      << v.describe();
}

TEST(HttpRefresh, RefreshSlidesTheIdleExpiry) {
  hub_process hub({"--idle-timeout-s", "3"});
  const auto t0 = login_ok(hub.port());
  sleep_ms(1500);
  const auto t1 = refresh_ok(hub.port(), *t0.refresh_token);
  EXPECT_GE(t1.idle_expires_at, t0.idle_expires_at + 1400);
  const auto v = validate(hub.port(), t1.access_token);
  ASSERT_EQ(v.status, 200) << v.describe();
  EXPECT_GE(json_int(v.json_body(), "idle_expires_at").value_or(0), t1.idle_expires_at);
  // Past the login's idle expiry, within the slid one: still alive.
  sleep_ms(2000);
  ASSERT_GT(now_ms(), t0.idle_expires_at);
  EXPECT_EQ(validate(hub.port(), t1.access_token).status, 200);
  EXPECT_EQ(refresh(hub.port(), *t1.refresh_token).status, 200);
}

TEST(HttpRefresh, CookieLifetimeIsTheRemainingAbsoluteLifetime) {
  hub_process hub({"--max-age-s", "100"});
  const auto l = login(hub.port(), "alice", "wonderland", true);
  const auto first = find_set_cookie(l, "shub_rt", "/v1/refresh");
  ASSERT_TRUE(first && first->max_age()) << l.describe();
  EXPECT_GE(*first->max_age(), 98);
  EXPECT_LE(*first->max_age(), 100);
  sleep_ms(2100);
  const auto r = refresh(hub.port(), *parse_token_response(l)->refresh_token);
  for (const char* path : {"/v1/refresh", "/v1/logout"}) {
    const auto c = find_set_cookie(r, "shub_rt", path);
    ASSERT_TRUE(c && c->max_age()) << r.describe();
    EXPECT_GE(*c->max_age(), 95) << path;
    EXPECT_LE(*c->max_age(), 98) << path;
  }
}

}  // namespace
}  // namespace shub::itest
