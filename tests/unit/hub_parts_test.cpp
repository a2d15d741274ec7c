// Small hub parts: router matching, cookies, form bodies, the rate limiter, latency
// histograms and the options table's precedence (flag > environment > file).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "hub/config.hpp"
#include "hub/cookies.hpp"
#include "hub/http_util.hpp"
#include "hub/rate_limiter.hpp"
#include "hub/router.hpp"
#include "hub/stats.hpp"

namespace shub {
namespace {

http_response ok(request_context&) {
  return json_response(http::status::ok, "{}");
}

TEST(Router, MatchesLiteralsParamsAndMethods) {
  router r;
  r.add(http::verb::get, "/v1/sessions", run_on::pool, ok);
  r.add(http::verb::post, "/v1/sessions", run_on::pool, ok);
  r.add(http::verb::delete_, "/v1/sessions/{sid}", run_on::pool, ok);
  r.add(http::verb::post, "/v1/users/{sub}/logout", run_on::pool, ok);
  EXPECT_TRUE(r.match(http::verb::get, "/v1/sessions").found);
  auto m = r.match(http::verb::delete_, "/v1/sessions/abc%20d");
  ASSERT_TRUE(m.found);
  EXPECT_EQ(m.params.at(0), "abc d");
  m = r.match(http::verb::post, "/v1/users/alice%40example.com/logout");
  ASSERT_TRUE(m.found);
  EXPECT_EQ(m.params.at(0), "alice@example.com");
  m = r.match(http::verb::put, "/v1/sessions");
  EXPECT_FALSE(m.found);
  EXPECT_EQ(m.allow, "GET, POST");
  EXPECT_FALSE(r.match(http::verb::get, "/v1/nope").found);
  EXPECT_TRUE(r.match(http::verb::get, "/v1/nope").allow.empty());
  EXPECT_FALSE(r.match(http::verb::delete_, "/v1/sessions/").found);  // empty param
  EXPECT_TRUE(r.match(http::verb::delete_, "/v1/sessions/%zz").bad_escape);
  EXPECT_TRUE(r.match(http::verb::head, "/v1/sessions").found);  // HEAD follows GET
}

TEST(Cookies, ParsesTheCookieHeader) {
  EXPECT_EQ(cookie_value("a=1; shub_rt=xyz; b=2", "shub_rt").value_or(""), "xyz");
  EXPECT_EQ(cookie_value("shub_rt=\"q\"", "shub_rt").value_or(""), "q");
  EXPECT_FALSE(cookie_value("shub_rtx=1; xshub_rt=2", "shub_rt"));
  EXPECT_FALSE(cookie_value("", "shub_rt"));
}

TEST(Cookies, RefreshCookieIsSetOnBothPathsWithItsAttributes) {
  cookie_policy p;
  p.secure = false;
  p.same_site = "Strict";
  const auto set = refresh_cookies(p, "tok", 100);
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0], "shub_rt=tok; Path=/v1/refresh; Max-Age=100; HttpOnly; SameSite=Strict");
  EXPECT_EQ(set[1], "shub_rt=tok; Path=/v1/logout; Max-Age=100; HttpOnly; SameSite=Strict");
  p.secure = true;
  EXPECT_NE(refresh_cookies(p, "", 100)[0].find("Max-Age=0; HttpOnly; SameSite=Strict; Secure"),
            std::string::npos);
  EXPECT_TRUE(plausible_device_id("abcdefghijklmnopqrstuv"));
  EXPECT_FALSE(plausible_device_id("abc"));
  EXPECT_FALSE(plausible_device_id("abcdefghijklmnopqrst;v"));
}

TEST(RateLimiter, BurstThenSteadyRate) {
  rate_limiter r(60);  // one a second, burst 60
  for (int i = 0; i < 60; ++i)
    EXPECT_EQ(r.acquire("ip", 1'000'000), 0) << i;
  EXPECT_GE(r.acquire("ip", 1'000'000), 1);
  EXPECT_EQ(r.acquire("other", 1'000'000), 0);  // per key
  EXPECT_EQ(r.acquire("ip", 1'001'000), 0);     // a second later: one more
  EXPECT_GE(r.acquire("ip", 1'001'000), 1);
  rate_limiter off(0);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(off.acquire("ip", 0), 0);
}

TEST(RateLimiter, ManyKeysDoNotGrowWithoutBound) {
  rate_limiter r(10, 1600);
  for (int i = 0; i < 100'000; ++i)
    (void)r.acquire("k" + std::to_string(i), i);
  SUCCEED();  // the sweep keeps each shard under its cap (checked by ASan/time, not size)
}

TEST(LatencyHistogram, QuantilesWithinABucket) {
  latency_histogram h;
  for (int i = 1; i <= 1000; ++i)
    h.record_us(i * 10);  // 10 µs .. 10 ms
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_NEAR(h.quantile_ms(0.5), 5.0, 5.0 * 0.26);
  EXPECT_NEAR(h.quantile_ms(0.99), 9.9, 9.9 * 0.26);
  EXPECT_DOUBLE_EQ(h.max_ms(), 10.0);
  EXPECT_LE(h.quantile_ms(1.0), h.max_ms());
  latency_histogram empty;
  EXPECT_EQ(empty.quantile_ms(0.99), 0.0);
}

TEST(HttpUtil, QueryAndJsonParsing) {
  EXPECT_EQ(query_param("a=1&sub=al%20ice&b", "sub").value_or(""), "al ice");
  EXPECT_EQ(query_param("sub=a+b", "sub").value_or(""), "a b");
  EXPECT_FALSE(query_param("a=1", "sub"));
  std::string err;
  EXPECT_TRUE(parse_json_object("{\"a\":1}", err));
  EXPECT_FALSE(parse_json_object("{\"a\":1} x", err));  // trailing bytes
  EXPECT_FALSE(parse_json_object("[1]", err));
  EXPECT_FALSE(parse_json_object("{\"a\":\"\xff\"}", err));                     // not UTF-8
  EXPECT_FALSE(parse_json_object(std::string_view("{\"a\":1}\0{}", 10), err));  // NUL, then more
  EXPECT_FALSE(parse_json_object("\xEF\xBB\xBF{\"a\":1}", err));                // a byte-order mark
  EXPECT_FALSE(parse_json_object("\xBF{\"a\":1}", err));                        // a piece of one
  EXPECT_TRUE(parse_json_object("", err, true));
  EXPECT_FALSE(parse_json_object("", err, false));
}

TEST(HttpUtil, FormBodies) {
  using fields = std::vector<form_field>;
  EXPECT_EQ(parse_form("logout_token=a.b.c"), (fields{{"logout_token", "a.b.c"}}));
  EXPECT_EQ(parse_form("a=1&&b=x+y%2Bz&c&d=&=e"),
            (fields{{"a", "1"}, {"b", "x y+z"}, {"c", ""}, {"d", ""}, {"", "e"}}));
  EXPECT_EQ(parse_form("k%3D=v%3d%26w=x"), (fields{{"k=", "v=&w=x"}}));  // first '=' splits
  EXPECT_EQ(parse_form("n=%00%ff"), (fields{{"n", std::string("\0\xff", 2)}}));
  EXPECT_EQ(parse_form(""), fields{});
  EXPECT_EQ(parse_form("&&"), fields{});
  for (const char* bad : {"a=%", "a=%4", "a=%zz", "%g0=1", "a=1&b=%2"}) {
    EXPECT_FALSE(parse_form(bad)) << bad;
  }
  http_request req{http::verb::post, "/", 11};
  const auto form = "application/x-www-form-urlencoded";
  EXPECT_FALSE(has_media_type(req, form));
  for (const char* ok : {"application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded",
                         "application/x-www-form-urlencoded; charset=UTF-8",
                         " application/x-www-form-urlencoded ;charset=utf-8"}) {
    req.set(http::field::content_type, ok);
    EXPECT_TRUE(has_media_type(req, form)) << ok;
  }
  for (const char* other : {"application/json", "application/x-www-form-urlencodedx",
                            "multipart/form-data; boundary=x", ""}) {
    req.set(http::field::content_type, other);
    EXPECT_FALSE(has_media_type(req, form)) << other;
  }
}

TEST(HttpUtil, HeaderBlockBytesCountsTheRequestLineAndEveryField) {
  http_request req{http::verb::get, "/healthz?x=1", 11};
  EXPECT_EQ(header_block_bytes(req), std::string("GET /healthz?x=1 HTTP/1.1\r\n\r\n").size());
  req.set(http::field::host, "h");
  req.insert("X-Pad", "abc");
  EXPECT_EQ(header_block_bytes(req),
            std::string("GET /healthz?x=1 HTTP/1.1\r\nHost: h\r\nX-Pad: abc\r\n\r\n").size());
}

TEST(HttpUtil, AbsoluteFormTargetsBecomeTheirPath) {
  EXPECT_EQ(origin_form("/healthz?x=1"), "/healthz?x=1");
  EXPECT_EQ(origin_form("http://127.0.0.1:8080/healthz?x=1"), "/healthz?x=1");
  EXPECT_EQ(origin_form("HTTPS://hub.example/v1/ws"), "/v1/ws");
  EXPECT_EQ(origin_form("http://hub.example"), "/");
  EXPECT_EQ(origin_form("http://hub.example?q"), "/");
  EXPECT_EQ(origin_form("*"), "*");
  EXPECT_EQ(origin_form("127.0.0.1:22"), "127.0.0.1:22");
  EXPECT_EQ(origin_form("ftp://host/etc/passwd"), "ftp://host/etc/passwd");  // not routed
  EXPECT_EQ(origin_form(""), "");
}

TEST(Config, FlagBeatsEnvironmentBeatsFile) {
  const std::string path = ::testing::TempDir() + "/shub-config-test.conf";
  {
    std::ofstream f(path);
    f << "access-ttl-s = 111\nidle-timeout-s = 222\nmax-age-s = 333\n";
  }
  ::setenv("SESSIONHUB_IDLE_TIMEOUT_S", "444", 1);
  ::setenv("SESSIONHUB_MAX_AGE_S", "555", 1);
  const std::string config_arg = "--config=" + path;
  const char* argv[] = {"sessionhub", config_arg.c_str(), "--max-age-s", "666"};
  int code = -1;
  const auto c = parse_config(4, argv, code);
  ::unsetenv("SESSIONHUB_IDLE_TIMEOUT_S");
  ::unsetenv("SESSIONHUB_MAX_AGE_S");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_ttl_s, 111);    // file
  EXPECT_EQ(c->idle_timeout_s, 444);  // environment over file
  EXPECT_EQ(c->max_age_s, 666);       // flag over both
  EXPECT_EQ(c->warn_before_s, 60);    // default
}

TEST(Config, RejectsNonsense) {
  int code = 0;
  const char* bad_ttl[] = {"sessionhub", "--access-ttl-s", "0"};
  EXPECT_FALSE(parse_config(3, bad_ttl, code));
  EXPECT_EQ(code, 2);
  const char* unknown[] = {"sessionhub", "--no-such-option"};
  EXPECT_FALSE(parse_config(2, unknown, code));
  EXPECT_EQ(code, 2);
  const char* store[] = {"sessionhub", "--store", "postgres://x"};
  EXPECT_FALSE(parse_config(3, store, code));
  const char* arenas[] = {"sessionhub", "--malloc-arenas", "-1"};
  EXPECT_FALSE(parse_config(3, arenas, code));
}

// A logout token's iss and aud are always checked: a JWKS alone is not a configuration.
TEST(Config, BackchannelNeedsIssuerAndAudienceWithItsJwks) {
  int code = 0;
  const char* jwks_only[] = {"sessionhub", "--backchannel-jwks", "idp.jwks", "--backchannel-issuer",
                             "https://idp"};
  EXPECT_FALSE(parse_config(5, jwks_only, code));
  EXPECT_EQ(code, 2);
  const char* no_jwks[] = {"sessionhub", "--backchannel-issuer", "https://idp",
                           "--backchannel-audience", "hub"};
  EXPECT_FALSE(parse_config(5, no_jwks, code));
  const char* negative[] = {"sessionhub", "--backchannel-max-age-s", "0"};
  EXPECT_FALSE(parse_config(3, negative, code));
  const char* all[] = {
      "sessionhub",  "--backchannel-jwks",     "idp.jwks", "--backchannel-issuer",
      "https://idp", "--backchannel-audience", "hub",      "--backchannel-leeway-s",
      "10"};
  const auto c = parse_config(9, all, code);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->backchannel_leeway_s, 10);
  EXPECT_EQ(c->backchannel_max_age_s, 600);
  EXPECT_EQ(c->backchannel_rate_limit, 1200);
}

}  // namespace
}  // namespace shub
