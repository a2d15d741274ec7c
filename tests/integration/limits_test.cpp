// limits_test: what the hub refuses before doing any work — bodies over --max-body-bytes
// (413 payload_too_large on every endpoint that takes a body), malformed JSON (400
// invalid_request), and the per-address login and refresh rate limits (429 rate_limited
// with a Retry-After in whole seconds; 0 turns a limit off; the default for login is 10).
// After each refusal the hub must still serve the next request.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

testing::AssertionResult is_rate_limited(const http_response& r) {
  if (auto p = is_problem(r, 429, "rate_limited"); !p) return p;
  const auto retry = r.header("Retry-After");
  if (!retry) return testing::AssertionFailure() << "no Retry-After\n" << r.describe();
  if (retry->empty() || retry->find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(*retry) < 1)
    return testing::AssertionFailure() << "Retry-After not whole seconds >= 1: " << *retry;
  return testing::AssertionSuccess();
}

// A JSON object of exactly `size` bytes.
std::string json_of_size(std::size_t size) {
  const std::string head = R"({"username":"alice","password":"wonderland","pad":")";
  return head + std::string(size - head.size() - 2, 'x') + "\"}";
}

TEST(HttpLimits, BodiesOverTheDefaultLimitAre413) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  struct target {
    const char* path;
    header_list headers;
  };
  const target targets[] = {
      {"/v1/login", {json_type()}},
      {"/v1/refresh", {json_type()}},
      {"/v1/logout", {json_type(), bearer(t.access_token)}},
      {"/v1/extend", {json_type(), bearer(t.access_token)}},
      {"/v1/sessions", {json_type(), api_auth()}},
  };
  for (const auto& x : targets) {
    const auto r = http_request(hub.port(), "POST", x.path, x.headers, json_of_size(20000));
    EXPECT_TRUE(is_problem(r, 413, "payload_too_large")) << x.path;
  }
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
  EXPECT_EQ(validate(hub.port(), t.access_token).status, 200) << "the session was touched";
}

TEST(HttpLimits, MaxBodyBytesIsTheLimit) {
  hub_process hub({"--max-body-bytes", "256"});
  const auto under =
      http_request(hub.port(), "POST", "/v1/login", {json_type()}, json_of_size(250));
  EXPECT_EQ(under.status, 200) << under.describe();
  const auto over = http_request(hub.port(), "POST", "/v1/login", {json_type()}, json_of_size(300));
  EXPECT_TRUE(is_problem(over, 413, "payload_too_large"));
  // A large body in chunks, with no Content-Length to refuse up front.
  const auto chunked =
      http_request(hub.port(), "POST", "/v1/login", {json_type(), {"Transfer-Encoding", "chunked"}},
                   json_of_size(500));
  EXPECT_TRUE(is_problem(chunked, 413, "payload_too_large"));
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
}

TEST(HttpLimits, MalformedJsonIs400InvalidRequest) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  struct target {
    const char* path;
    header_list headers;
  };
  const target targets[] = {
      {"/v1/login", {json_type()}},
      {"/v1/refresh", {json_type()}},
      {"/v1/logout", {json_type(), bearer(t.access_token)}},
      {"/v1/sessions", {json_type(), api_auth()}},
  };
  const std::vector<std::string> bodies = {"{",          "{\"username\":", "not json",
                                           "{\"a\":1,}", "{'a':1}",        "{\"a\":\"\xff\xfe\"}",
                                           "{} trailing"};
  for (const auto& body : bodies) {
    for (const auto& x : targets) {
      const auto r = http_request(hub.port(), "POST", x.path, x.headers, body);
      EXPECT_TRUE(is_problem(r, 400, "invalid_request")) << x.path << " " << body;
    }
  }
  EXPECT_EQ(validate(hub.port(), t.access_token).status, 200) << "a bad logout body logged out";
}

TEST(HttpLimits, LoginRateLimitRefusesTheFourthOfThree) {
  hub_process hub({"--login-rate-limit", "3"});
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(login(hub.port(), "alice", "wonderland").status, 200) << "attempt " << i + 1;
  EXPECT_TRUE(is_rate_limited(login(hub.port(), "alice", "wonderland")));
  EXPECT_TRUE(is_rate_limited(login(hub.port(), "bob", "builder")))
      << "the limit is per address, not per user";
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
  const auto t = create_session_ok(hub.port(), "carol");
  EXPECT_EQ(refresh(hub.port(), *t.refresh_token).status, 200) << "refresh has its own limit";
}

TEST(HttpLimits, FailedLoginsCountTowardsTheLimit) {
  hub_process hub({"--login-rate-limit", "3"});
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(is_problem(login(hub.port(), "alice", "guess" + std::to_string(i)), 401,
                           "invalid_credentials"));
  EXPECT_TRUE(is_rate_limited(login(hub.port(), "alice", "wonderland")));
}

TEST(HttpLimits, DefaultLoginLimitIsTenPerMinute) {
  hub_process hub;
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(login(hub.port(), "alice", "wonderland").status, 200) << "attempt " << i + 1;
  EXPECT_TRUE(is_rate_limited(login(hub.port(), "alice", "wonderland")));
}

TEST(HttpLimits, ZeroTurnsTheLoginLimitOff) {
  hub_process hub({"--login-rate-limit", "0"});
  for (int i = 0; i < 15; ++i)
    ASSERT_EQ(login(hub.port(), "alice", "wonderland").status, 200) << "attempt " << i + 1;
}

TEST(HttpLimits, RefreshRateLimitRefusesTheFourthOfThree) {
  hub_process hub({"--refresh-rate-limit", "3"});
  auto t = create_session_ok(hub.port(), "carol");
  for (int i = 0; i < 3; ++i)
    t = refresh_ok(hub.port(), *t.refresh_token);
  EXPECT_TRUE(is_rate_limited(refresh(hub.port(), *t.refresh_token)));
  EXPECT_EQ(validate(hub.port(), t.access_token).status, 200) << "a 429 must not revoke";
}

TEST(HttpLimits, ZeroTurnsTheRefreshLimitOff) {
  hub_process hub({"--refresh-rate-limit", "0"});
  auto t = create_session_ok(hub.port(), "carol");
  for (int i = 0; i < 130; ++i)
    ASSERT_NO_THROW(t = refresh_ok(hub.port(), *t.refresh_token)) << "refresh " << i + 1;
}

}  // namespace
}  // namespace shub::itest
