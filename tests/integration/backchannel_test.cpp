// POST /v1/backchannel-logout (PROTOCOL §2, OIDC Back-Channel Logout 1.0) against the real
// binary: the test plays the identity provider — its own key in a JWKS file the hub reads,
// logout tokens signed with it — and the tabs are real WebSockets. A token's sid ends the
// sessions created with that idp_sid, its sub every session of the user; the tabs get
// `logout` (reason backchannel) and 4010. Replays, bad tokens and bad form bodies are 400
// invalid_request with no-store and a logged reason; the JWKS file is re-read when it is
// replaced; two replicas on one Redis refuse each other's replays.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "auth/base64url.hpp"
#include "auth/jwt.hpp"
#include "auth/keys.hpp"
#include "harness.hpp"
#include "harness_ws.hpp"
#include "hub_api.hpp"
#include "redis_server.hpp"

namespace shub::itest {
namespace {

constexpr const char* idp_issuer = "https://idp.example.test/realms/demo";
constexpr const char* idp_audience = "sessionhub-client";
constexpr const char* logout_event = R"("http://schemas.openid.net/event/backchannel-logout")";

std::string jti() {
  static std::atomic<int> n{0};
  return "jti-" + std::to_string(now_ms()) + "-" + std::to_string(++n);
}

// The identity provider: its signing key under its own kid, its JWKS file, its tokens.
class identity_provider {
 public:
  explicit identity_provider(auth::jwt_alg alg = auth::jwt_alg::ES256, std::string kid = "idp-1")
      : key_(auth::key::generate(alg)), kid_(std::move(kid)) {
    write_jwks(jwks_path());
  }
  [[nodiscard]] std::string jwks_path() const { return dir_.path() + "/idp.jwks"; }
  [[nodiscard]] std::string jwks() const {
    std::string jwk = key_->public_jwk_json();
    const std::string from = "\"kid\":\"" + key_->kid() + "\"";
    jwk.replace(jwk.find(from), from.size(), "\"kid\":\"" + kid_ + "\"");
    return "{\"keys\":[" + jwk + "]}";
  }
  void write_jwks(const std::string& path) const { std::ofstream(path, std::ios::trunc) << jwks(); }
  // Makes this provider's key the one in `other`'s file, as an operator would: write beside
  // it, then rename over it.
  void install_into(const std::string& path) const {
    write_jwks(path + ".new");
    std::filesystem::rename(path + ".new", path);
  }

  // A logout token; `members` are the claims besides iss, aud, iat, exp, jti and events,
  // e.g. R"("sid":"idp-1")"; `overrides` replace the defaults when they name one.
  [[nodiscard]] std::string token(const std::string& members, const std::string& typ = "logout+jwt",
                                  const std::string& id = jti()) const {
    const std::int64_t now = now_ms() / 1000;
    const std::string claims = std::string(R"({"iss":")") + idp_issuer + R"(","aud":")" +
                               idp_audience + R"(","iat":)" + std::to_string(now) + R"(,"exp":)" +
                               std::to_string(now + 120) + R"(,"jti":)" + json_quote(id) +
                               R"(,"events":{)" + logout_event + ":{}}" +
                               (members.empty() ? "" : "," + members) + "}";
    return sign(claims, typ);
  }
  [[nodiscard]] std::string sign(const std::string& claims, const std::string& typ) const {
    const std::string header = R"({"alg":")" + std::string(auth::alg_name(key_->alg())) +
                               R"(","typ":")" + typ + R"(","kid":")" + kid_ + "\"}";
    std::string t = auth::base64url_encode(header) + "." + auth::base64url_encode(claims);
    return t + "." + auth::base64url_encode(key_->sign(t));
  }

 private:
  temp_dir dir_;
  auth::key_ptr key_;
  std::string kid_;
};

std::vector<std::string> receiver_args(const identity_provider& idp) {
  return {"--backchannel-jwks", idp.jwks_path(),          "--backchannel-issuer",
          idp_issuer,           "--backchannel-audience", idp_audience};
}

std::pair<std::string, std::string> form_type() {
  return {"Content-Type", "application/x-www-form-urlencoded"};
}

http_response post_logout_token(int port, const std::string& token) {
  return http_request(port, "POST", "/v1/backchannel-logout", {form_type()},
                      "logout_token=" + token);
}

// 400 invalid_request of §2.8: problem+json that also carries OAuth's error members, the
// reason as error_description, and no-store.
::testing::AssertionResult is_refusal(const http_response& r, std::string_view reason) {
  if (!is_problem(r, 400, "invalid_request")) return ::testing::AssertionFailure() << r.describe();
  const json body = r.json_body();
  if (json_string(body, "error") != "invalid_request" ||
      json_string(body, "error_description") != reason)
    return ::testing::AssertionFailure() << "want reason " << reason << "\n" << r.describe();
  if (r.header("Cache-Control") != "no-store")
    return ::testing::AssertionFailure() << "no Cache-Control: no-store\n" << r.describe();
  return ::testing::AssertionSuccess();
}

// A refusal logged as such, with this reason.
::testing::AssertionResult refusal_logged(hub_process& hub, std::string_view reason) {
  const std::string want = "\"reason\":\"" + std::string(reason) + "\"";
  const auto line = hub.wait_for_log(
      [&](std::string_view l) {
        return l.find("\"msg\":\"backchannel_logout_refused\"") != std::string_view::npos &&
               l.find(want) != std::string_view::npos;
      },
      2s);
  if (!line) return ::testing::AssertionFailure() << "no refusal logged with " << want;
  return ::testing::AssertionSuccess();
}

std::int64_t revoked_count(const http_response& r) {
  return json_int(r.json_body(), "revoked").value_or(-1);
}

TEST(Backchannel, SidEndsTheSessionsOfThatIdpSessionAndTheirTabs) {
  identity_provider idp;
  hub_process hub(receiver_args(idp));
  const auto crm = create_session_ok(hub.port(), "alice", R"("idp_sid":"idp-sid-1")");
  const auto analytics = create_session_ok(hub.port(), "alice", R"("idp_sid":"idp-sid-1")");
  const auto elsewhere = create_session_ok(hub.port(), "alice", R"("idp_sid":"idp-sid-2")");
  const auto plain = create_session_ok(hub.port(), "alice");  // created without an idp_sid
  auto t1 = authed_tab(hub.port(), crm.access_token);
  auto t2 = authed_tab(hub.port(), analytics.access_token);
  auto t3 = authed_tab(hub.port(), elsewhere.access_token);

  const auto r = post_logout_token(hub.port(), idp.token(R"("sid":"idp-sid-1")"));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
  EXPECT_EQ(revoked_count(r), 2);
  for (auto* tab : {t1.get(), t2.get()}) {
    const auto ev = tab->wait_event("logout", 2s);
    ASSERT_TRUE(ev);
    EXPECT_STREQ((*ev)["data"]["reason"].GetString(), "backchannel");
    EXPECT_STREQ((*ev)["data"]["scope"].GetString(), "session");
    EXPECT_EQ(tab->close_code(2s), 4010);
  }
  EXPECT_FALSE(t3->next(300ms)) << "a tab of another IdP session got a frame";
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), crm.access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(hub.port(), *analytics.refresh_token), 401, "invalid_grant"));
  EXPECT_EQ(validate(hub.port(), elsewhere.access_token).status, 200);
  EXPECT_EQ(validate(hub.port(), plain.access_token).status, 200);
  const auto line = hub.wait_for_log_msg("backchannel_logout", 2s);
  ASSERT_TRUE(line) << hub.output();
  EXPECT_EQ(json_string(*line, "idp_sid"), "idp-sid-1");
  EXPECT_EQ(json_int(*line, "revoked"), 2);

  // Idempotent (§2.8): a new token for the ended IdP session is a success that ends nothing.
  const auto again = post_logout_token(hub.port(), idp.token(R"("sid":"idp-sid-1")"));
  ASSERT_EQ(again.status, 200) << again.describe();
  EXPECT_EQ(revoked_count(again), 0);
}

TEST(Backchannel, SubAloneEndsEverySessionOfTheUser) {
  identity_provider idp(auth::jwt_alg::RS256, "rsa-key");
  hub_process hub(receiver_args(idp));
  const auto a1 = create_session_ok(hub.port(), "alice", R"("idp_sid":"x")");
  const auto a2 = create_session_ok(hub.port(), "alice");
  const auto b = create_session_ok(hub.port(), "bob");
  auto t1 = authed_tab(hub.port(), a1.access_token);
  auto t2 = authed_tab(hub.port(), a2.access_token);
  auto tb = authed_tab(hub.port(), b.access_token);

  // Percent-encoded, as a form encoder may send it.
  std::string token = idp.token(R"("sub":"alice")");
  for (std::size_t i = 0; (i = token.find('.', i)) != std::string::npos;)
    token.replace(i, 1, "%2E");
  const auto r = post_logout_token(hub.port(), token);
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(revoked_count(r), 2);
  for (auto* tab : {t1.get(), t2.get()}) {
    const auto ev = tab->wait_event("logout", 2s);
    ASSERT_TRUE(ev);
    EXPECT_STREQ((*ev)["data"]["reason"].GetString(), "backchannel");
    EXPECT_STREQ((*ev)["data"]["scope"].GetString(), "user");
    EXPECT_EQ(tab->close_code(2s), 4010);
  }
  EXPECT_FALSE(tb->next(300ms));
  EXPECT_EQ(validate(hub.port(), b.access_token).status, 200);
  EXPECT_EQ(list_sessions(hub.port(), "alice")["sessions"].Size(), 0u);
}

TEST(Backchannel, SidAndSubTogetherEndOnlyThatUsersSessionsOfTheIdpSession) {
  identity_provider idp(auth::jwt_alg::EdDSA, "ed-key");
  hub_process hub(receiver_args(idp));
  const auto alice = create_session_ok(hub.port(), "alice", R"("idp_sid":"shared")");
  const auto bob = create_session_ok(hub.port(), "bob", R"("idp_sid":"shared")");
  const auto r = post_logout_token(hub.port(), idp.token(R"("sid":"shared","sub":"alice")"));
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(revoked_count(r), 1);
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), alice.access_token), "session_revoked"));
  EXPECT_EQ(validate(hub.port(), bob.access_token).status, 200);
}

TEST(Backchannel, AReplayedJtiIsRefused) {
  identity_provider idp;
  hub_process hub(receiver_args(idp));
  const std::string token = idp.token(R"("sub":"alice")");
  ASSERT_EQ(post_logout_token(hub.port(), token).status, 200);
  const auto later = create_session_ok(hub.port(), "alice");  // a login after the logout
  const auto replay = post_logout_token(hub.port(), token);
  EXPECT_TRUE(is_refusal(replay, "replayed"));
  EXPECT_TRUE(refusal_logged(hub, "replayed"));
  EXPECT_EQ(validate(hub.port(), later.access_token).status, 200) << "a replay logged out anew";
  // Another token with the same jti, whatever else it says, is the same replay.
  const auto same_jti = idp.token(R"("sub":"bob")", "logout+jwt", "fixed-jti");
  ASSERT_EQ(post_logout_token(hub.port(), same_jti).status, 200);
  EXPECT_TRUE(is_refusal(
      post_logout_token(hub.port(), idp.token(R"("sub":"carol")", "logout+jwt", "fixed-jti")),
      "replayed"));
}

TEST(Backchannel, BadTokensAre400WithTheirReasonLoggedAndTheHubStaysUp) {
  identity_provider idp;
  identity_provider stranger(auth::jwt_alg::ES256, "idp-1");  // same kid, another key
  hub_process hub(receiver_args(idp));
  const auto alice = create_session_ok(hub.port(), "alice", R"("idp_sid":"s1")");
  const std::int64_t now = now_ms() / 1000;
  const std::string base = std::string(R"({"iss":")") + idp_issuer + R"(","aud":")" + idp_audience +
                           R"(","jti":"j-)" + std::to_string(now) + R"(")";
  const std::string events = std::string(R"(,"events":{)") + logout_event + ":{}}";
  const std::string iat = ",\"iat\":" + std::to_string(now);
  const struct {
    std::string token, reason;
  } cases[] = {
      {stranger.token(R"("sid":"s1")"), "bad_signature"},
      {idp.token(R"("sid":"s1")", "at+jwt"), "bad_typ"},
      {create_session_ok(hub.port(), "bob").access_token, "unknown_kid"},
      {idp.sign(base + iat + events + "}", "logout+jwt"), "no_subject"},
      {idp.sign(base + iat + R"(,"sid":"s1"})", "logout+jwt"), "missing_events"},
      {idp.sign(base + iat + R"(,"events":{"x":{}},"sid":"s1"})", "logout+jwt"), "not_a_logout"},
      {idp.sign(base + events + R"(,"sid":"s1"})", "logout+jwt"), "missing_iat"},
      {idp.sign(base + ",\"iat\":" + std::to_string(now - 3600) + events + R"(,"sid":"s1"})",
                "logout+jwt"),
       "too_old"},
      {idp.sign(base + iat + events + R"(,"sid":"s1","nonce":"n"})", "logout+jwt"),
       "nonce_present"},
      {idp.sign(base + iat + events + R"(,"sid":""})", "logout+jwt"), "bad_sid"},
      {idp.sign(std::string(R"({"iss":"https://evil.example.test","aud":")") + idp_audience +
                    R"(","jti":"j")" + iat + events + R"(,"sid":"s1"})",
                "logout+jwt"),
       "bad_issuer"},
      {"eyJhbGciOiJub25lIn0.eyJzaWQiOiJzMSJ9.", "malformed"},
      {"eyJhbGciOiJub25lIiwia2lkIjoiaWRwLTEifQ.eyJzaWQiOiJzMSJ9.AAAA", "unsupported_alg"},
  };
  for (const auto& c : cases) {
    const auto r = post_logout_token(hub.port(), c.token);
    EXPECT_TRUE(is_refusal(r, c.reason)) << c.reason;
    EXPECT_TRUE(refusal_logged(hub, c.reason));
  }
  EXPECT_EQ(validate(hub.port(), alice.access_token).status, 200);
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
  // No token, not even a part of one, reaches the log.
  for (const auto& c : cases) {
    const std::string tail = c.token.substr(c.token.rfind('.') + 1);
    const std::string payload = c.token.substr(c.token.find('.') + 1, 20);
    for (const auto& line : hub.stdout_lines()) {
      if (!tail.empty()) {
        EXPECT_EQ(line.find(tail), std::string::npos) << line;
      }
      EXPECT_EQ(line.find(payload), std::string::npos) << line;
    }
  }
}

TEST(Backchannel, BadFormBodiesAre400AndOversizeBodies413) {
  identity_provider idp;
  hub_process hub(unlimited([&] {
    auto a = receiver_args(idp);
    a.insert(a.end(), {"--backchannel-max-token-bytes", "2048", "--max-body-bytes", "4096"});
    return a;
  }()));
  const int port = hub.port();
  const std::string token = idp.token(R"("sub":"alice")");
  const auto post = [&](const header_list& headers, std::string body) {
    return http_request(port, "POST", "/v1/backchannel-logout", headers, std::move(body));
  };
  EXPECT_TRUE(is_refusal(post({form_type()}, ""), "missing_logout_token"));
  EXPECT_TRUE(is_refusal(post({form_type()}, "token=" + token), "missing_logout_token"));
  EXPECT_TRUE(is_refusal(post({form_type()}, "logout_token="), "missing_logout_token"));
  EXPECT_TRUE(
      is_refusal(post({json_type()}, "{\"logout_token\":\"" + token + "\"}"), "content_type"));
  EXPECT_TRUE(is_refusal(post({}, "logout_token=" + token), "content_type"));
  EXPECT_TRUE(is_refusal(post({form_type()}, "logout_token=%zz"), "bad_form"));
  EXPECT_TRUE(is_refusal(post({form_type()}, "logout_token=" + token + "&logout_token=" + token),
                         "repeated_logout_token"));
  EXPECT_TRUE(
      is_refusal(post({form_type()}, "logout_token=" + std::string(2100, 'a')), "too_large"));
  EXPECT_TRUE(refusal_logged(hub, "content_type"));
  EXPECT_TRUE(refusal_logged(hub, "too_large"));
  const auto huge = post({form_type()}, "logout_token=" + std::string(5000, 'a'));
  EXPECT_TRUE(is_problem(huge, 413, "payload_too_large")) << huge.describe();
  EXPECT_EQ(huge.header("Cache-Control"), "no-store");
  EXPECT_EQ(http_request(port, "GET", "/v1/backchannel-logout").status, 405);
  // None of that spent the token: it still works, with other fields around it.
  const auto ok = post({{"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"}},
                       "state=x&logout_token=" + token + "&");
  EXPECT_EQ(ok.status, 200) << ok.describe();
}

TEST(Backchannel, AReplacedJwksFileIsUsedWithoutARestart) {
  identity_provider idp;
  identity_provider rotated(auth::jwt_alg::RS256, "idp-2");
  hub_process hub(receiver_args(idp));
  const auto alice = create_session_ok(hub.port(), "alice", R"("idp_sid":"s1")");
  EXPECT_TRUE(
      is_refusal(post_logout_token(hub.port(), rotated.token(R"("sub":"bob")")), "unknown_kid"));

  rotated.install_into(idp.jwks_path());
  const auto loaded = [&] {
    // The file is looked at on use, at most once a second: bounded retries.
    for (int i = 0; i < 30; ++i) {
      const auto r = post_logout_token(hub.port(), rotated.token(R"("sid":"s1")"));
      if (r.status == 200) return r;
      std::this_thread::sleep_for(100ms);
    }
    return http_response{};
  }();
  ASSERT_EQ(loaded.status, 200) << hub.output();
  EXPECT_EQ(revoked_count(loaded), 1);
  EXPECT_TRUE(hub.wait_for_log_msg("backchannel_jwks_loaded", 2s));
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), alice.access_token), "session_revoked"));
  // The old key went with the old file.
  EXPECT_TRUE(is_refusal(post_logout_token(hub.port(), idp.token(R"("sub":"x")")), "unknown_kid"));

  // A broken new file: logged, and the keys in use stay.
  {
    std::ofstream(idp.jwks_path() + ".new") << "{\"keys\":[{\"kty\":\"EC\"}]}";
    std::filesystem::rename(idp.jwks_path() + ".new", idp.jwks_path());
  }
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(post_logout_token(hub.port(), rotated.token(R"("sub":"y")")).status, 200);
  const auto refused = hub.wait_for_log_msg("backchannel_jwks_refused", 3s);
  ASSERT_TRUE(refused) << hub.output();
  EXPECT_NE(json_string(*refused, "error").value_or("").find("no usable key"), std::string::npos);
}

TEST(Backchannel, ReplicasSharingRedisRefuseEachOthersReplays) {
  shub::testing::redis_server redis;
  temp_dir dir;
  const std::string key = dir.path() + "/signing-key.pem";
  ASSERT_EQ(std::system((std::string(SESSIONHUB_BINARY) + " generate-key > " + key).c_str()), 0);
  identity_provider idp;
  auto args = receiver_args(idp);
  args.insert(args.end(), {"--store", redis.url(2), "--signing-key", key});
  hub_process a(args);
  hub_process b(args);
  const auto alice = create_session_ok(a.port(), "alice", R"("idp_sid":"s1")");
  const std::string token = idp.token(R"("sid":"s1")");
  const auto first = post_logout_token(a.port(), token);
  ASSERT_EQ(first.status, 200) << first.describe();
  EXPECT_EQ(revoked_count(first), 1);
  EXPECT_TRUE(is_refusal(post_logout_token(b.port(), token), "replayed"));
  EXPECT_TRUE(refusal_logged(b, "replayed"));
  EXPECT_TRUE(is_token_refusal(validate(b.port(), alice.access_token), "session_revoked"));
}

TEST(Backchannel, RateLimitedPerAddress) {
  identity_provider idp;
  auto args = receiver_args(idp);
  args.insert(args.end(), {"--backchannel-rate-limit", "2"});
  hub_process hub(args);
  EXPECT_EQ(post_logout_token(hub.port(), idp.token(R"("sub":"a")")).status, 200);
  EXPECT_EQ(post_logout_token(hub.port(), "x").status, 400);
  const auto r = post_logout_token(hub.port(), idp.token(R"("sub":"b")"));
  EXPECT_TRUE(is_problem(r, 429, "rate_limited")) << r.describe();
  EXPECT_TRUE(r.header("Retry-After"));
}

TEST(Backchannel, WithoutAJwksTheReceiverIsOff) {
  hub_process hub;
  const auto r = http_request(hub.port(), "POST", "/v1/backchannel-logout", {form_type()},
                              "logout_token=a.b.c");
  EXPECT_TRUE(is_problem(r, 404, "not_found")) << r.describe();
  EXPECT_EQ(r.header("Cache-Control"), "no-store");
}

TEST(Backchannel, RefusesToStartHalfConfigured) {
  identity_provider idp;
  const auto refused = [](std::vector<std::string> args, std::string_view why) {
    try {
      hub_process hub(std::move(args));
      return ::testing::AssertionFailure() << "the hub started";
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).find(why) == std::string::npos)
        return ::testing::AssertionFailure() << e.what();
      return ::testing::AssertionSuccess();
    }
  };
  EXPECT_TRUE(refused({"--backchannel-jwks", idp.jwks_path()}, "--backchannel-issuer"));
  EXPECT_TRUE(refused({"--backchannel-jwks", idp.jwks_path() + ".missing", "--backchannel-issuer",
                       idp_issuer, "--backchannel-audience", idp_audience},
                      "--backchannel-jwks"));
}

}  // namespace
}  // namespace shub::itest
