// server_api_test: the API-key half of PROTOCOL §2 (application backends and operators) —
// session creation with custom claims and per-session lifetimes, listing, revoking one
// session or all of a user's, the API key check on every endpoint, and /v1/stats and
// /metrics (PROTOCOL §5): every field present with its type, and the refresh counters
// moving with what the test did.
#include <set>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "harness_ws.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

std::size_t session_count(int port, std::string_view sub) {
  const json list = list_sessions(port, sub);
  if (!list.HasMember("sessions") || !list["sessions"].IsArray())
    throw std::runtime_error("no sessions array: " + to_text(list));
  return list["sessions"].Size();
}

TEST(HttpServerApi, CreateSessionAnswers201WithTokensAndCustomClaims) {
  hub_process hub;
  const auto r = create_session(
      hub.port(), "carol",
      R"("claims":{"role":"admin","tenant":42},"amr":["pwd","otp"],"idp_sid":"idp-1")");
  ASSERT_EQ(r.status, 201) << r.describe();
  EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "application/json"));
  const auto t = parse_token_response(r);
  ASSERT_TRUE(t && t->refresh_token) << r.body;
  EXPECT_EQ(t->sub, "carol");
  EXPECT_EQ(t->token_type, "Bearer");
  EXPECT_EQ(t->expires_in, 900);
  const auto jwt = decode_jwt(t->access_token);
  ASSERT_TRUE(jwt);
  EXPECT_EQ(json_string(jwt->claims, "sub"), "carol");
  EXPECT_EQ(json_string(jwt->claims, "sid"), t->sid);
  EXPECT_EQ(json_string(jwt->claims, "role"), "admin") << to_text(jwt->claims);
  EXPECT_EQ(json_int(jwt->claims, "tenant"), 42) << to_text(jwt->claims);
  EXPECT_EQ(validate(hub.port(), t->access_token).status, 200);
  const auto next = refresh_ok(hub.port(), *t->refresh_token);
  EXPECT_EQ(next.sid, t->sid);
  const auto next_jwt = decode_jwt(next.access_token);
  ASSERT_TRUE(next_jwt);
  EXPECT_EQ(json_string(next_jwt->claims, "role"), "admin") << "custom claims lost on refresh";
}

TEST(HttpServerApi, PerSessionLifetimesAndDevice) {
  hub_process hub;
  const auto before = now_ms();
  const auto t = create_session_ok(hub.port(), "dave",
                                   R"("idle_timeout_s":30,"max_age_s":60,"device_id":"kiosk-1")");
  const auto after = now_ms();
  EXPECT_GE(t.idle_expires_at, before + 30'000 - 1000);
  EXPECT_LE(t.idle_expires_at, after + 30'000 + 1000);
  EXPECT_GE(t.expires_at, before + 60'000 - 1000);
  EXPECT_LE(t.expires_at, after + 60'000 + 1000);
  const json list = list_sessions(hub.port(), "dave");
  ASSERT_TRUE(list.HasMember("sessions") && list["sessions"].IsArray()) << to_text(list);
  ASSERT_EQ(list["sessions"].Size(), 1u);
  const auto& listed = list["sessions"][0];
  EXPECT_EQ(json_string(listed, "device_id"), "kiosk-1");
  const auto created = json_int(listed, "created_at");
  ASSERT_TRUE(created) << to_text(listed);
  EXPECT_EQ(json_int(listed, "idle_expires_at"), *created + 30'000) << to_text(listed);
  EXPECT_EQ(json_int(listed, "expires_at"), *created + 60'000) << to_text(listed);
}

TEST(HttpServerApi, BadCreateBodiesAreInvalidRequest) {
  hub_process hub;
  const std::vector<std::string> bodies = {
      "{}",
      R"({"sub":42})",
      R"({"sub":null})",
      R"({"sub":["alice"]})",
      R"({"sub":"alice","claims":"admin"})",
      R"({"sub":"alice","claims":[1,2]})",
  };
  for (const auto& body : bodies) {
    const auto r =
        http_request(hub.port(), "POST", "/v1/sessions", {api_auth(), json_type()}, body);
    EXPECT_TRUE(is_problem(r, 400, "invalid_request")) << body;
  }
  for (const char* name : {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "auth_time"}) {
    const std::string body =
        std::string(R"({"sub":"alice","claims":{")") + name + R"(":"x","ok":1}})";
    const auto r =
        http_request(hub.port(), "POST", "/v1/sessions", {api_auth(), json_type()}, body);
    EXPECT_TRUE(is_problem(r, 400, "invalid_request")) << body;
  }
  const json list = list_sessions(hub.port(), "alice");
  EXPECT_EQ(list["sessions"].Size(), 0u) << "a refused body created a session: " << to_text(list);
}

struct endpoint {
  const char* method;
  const char* target;
};
const endpoint server_endpoints[] = {
    {"POST", "/v1/sessions"},       {"GET", "/v1/sessions?sub=alice"},
    {"DELETE", "/v1/sessions/abc"}, {"POST", "/v1/users/alice/logout"},
    {"GET", "/v1/stats"},           {"GET", "/metrics"},
};

TEST(HttpServerApi, EveryEndpointRequiresTheApiKey) {
  hub_process hub;
  const auto t = login_ok(hub.port());
  const std::vector<header_list> wrong = {
      {},
      {bearer("wrong-key")},
      {bearer(std::string(test_api_key) + "x")},
      {{"Authorization", "Basic dGVzdC1hcGkta2V5Og=="}},
      {{"Authorization", test_api_key}},
      {bearer(t.access_token)},
  };
  for (const auto& e : server_endpoints)
    for (auto headers : wrong) {
      headers.push_back(json_type());
      const auto r = http_request(hub.port(), e.method, e.target, headers, R"({"sub":"mallory"})");
      EXPECT_TRUE(is_problem(r, 401, "invalid_api_key"))
          << e.method << " " << e.target << " with "
          << (headers.size() > 1 ? headers[0].second : "");
    }
  EXPECT_EQ(session_count(hub.port(), "mallory"), 0u);
}

TEST(HttpServerApi, EveryConfiguredKeyWorksAndOnlyThose) {
  hub_process hub({"--api-key", "first-key", "--api-key", "second-key"});
  for (const char* key : {"first-key", "second-key"}) {
    const auto r = http_request(hub.port(), "GET", "/v1/stats", {bearer(key)});
    EXPECT_EQ(r.status, 200) << key << "\n" << r.describe();
  }
  EXPECT_TRUE(is_problem(http_request(hub.port(), "GET", "/v1/stats", {api_auth()}), 401,
                         "invalid_api_key"));
}

TEST(HttpServerApi, WithoutAnyKeyTheServerApiIsClosed) {
  hub_options options;
  options.omit = {"--api-key"};
  hub_process hub(options);
  for (const auto& e : server_endpoints) {
    const auto r =
        http_request(hub.port(), e.method, e.target, {api_auth(), json_type()}, R"({"sub":"x"})");
    EXPECT_TRUE(is_problem(r, 401, "invalid_api_key")) << e.method << " " << e.target;
  }
}

TEST(HttpServerApi, ListShowsTheActiveSessionsOfOneSub) {
  hub_process hub;
  const auto before = now_ms();
  const auto a1 = login_ok(hub.port());
  const auto a2 = create_session_ok(hub.port(), "alice", R"("device_id":"phone-1")");
  const auto gone = create_session_ok(hub.port(), "alice");
  login_ok(hub.port(), "bob", "builder");
  ASSERT_EQ(delete_session(hub.port(), gone.sid).status, 204);

  const auto r = http_request(hub.port(), "GET", "/v1/sessions?sub=alice", {api_auth()});
  ASSERT_EQ(r.status, 200) << r.describe();
  const json list = r.json_body();
  ASSERT_TRUE(list.IsObject() && list.HasMember("sessions") && list["sessions"].IsArray())
      << r.body;
  ASSERT_EQ(list["sessions"].Size(), 2u) << r.body;
  std::set<std::string> sids;
  for (const auto& s : list["sessions"].GetArray()) {
    const auto sid = json_string(s, "sid");
    ASSERT_TRUE(sid) << to_text(s);
    sids.insert(*sid);
    EXPECT_EQ(json_string(s, "sub"), "alice");
    EXPECT_GE(json_int(s, "created_at").value_or(0), before - 1000) << to_text(s);
    EXPECT_LE(json_int(s, "created_at").value_or(0), now_ms() + 1000) << to_text(s);
    EXPECT_TRUE(json_int(s, "idle_expires_at")) << to_text(s);
    EXPECT_TRUE(json_int(s, "expires_at")) << to_text(s);
    EXPECT_EQ(json_int(s, "connections"), 0) << to_text(s);
    EXPECT_TRUE(s.HasMember("device_id")) << to_text(s);
    if (sid == a2.sid) {
      EXPECT_EQ(json_string(s, "device_id"), "phone-1");
    }
  }
  EXPECT_EQ(sids, (std::set<std::string>{a1.sid, a2.sid}));
  EXPECT_EQ(session_count(hub.port(), "nobody"), 0u);
  for (const char* target : {"/v1/sessions", "/v1/sessions?sub="})
    EXPECT_TRUE(
        is_problem(http_request(hub.port(), "GET", target, {api_auth()}), 400, "invalid_request"))
        << target;
}

TEST(HttpServerApi, ListCountsEachSessionsLiveTabs) {
  hub_process hub;
  const auto with_tab = create_session_ok(hub.port(), "alice");
  const auto without = create_session_ok(hub.port(), "alice");
  auto tab = authed_tab(hub.port(), with_tab.access_token);
  const json list = list_sessions(hub.port(), "alice");
  ASSERT_EQ(list["sessions"].Size(), 2u) << to_text(list);
  for (const auto& s : list["sessions"].GetArray()) {
    const bool tabbed = json_string(s, "sid") == with_tab.sid;
    EXPECT_TRUE(tabbed || json_string(s, "sid") == without.sid) << to_text(s);
    EXPECT_EQ(json_int(s, "connections"), tabbed ? 1 : 0) << to_text(s);
  }
}

TEST(HttpServerApi, DeleteRevokesOneSession) {
  hub_process hub;
  const auto a = login_ok(hub.port());
  const auto b = login_ok(hub.port());
  const auto r = delete_session(hub.port(), a.sid);
  ASSERT_EQ(r.status, 204) << r.describe();
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), a.access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(hub.port(), *a.refresh_token), 401, "invalid_grant"));
  EXPECT_EQ(validate(hub.port(), b.access_token).status, 200);
  EXPECT_EQ(session_count(hub.port(), "alice"), 1u);
  EXPECT_TRUE(is_problem(delete_session(hub.port(), "AAAAAAAAAAAAAAAAAAAAAA"), 404, "not_found"));
}

TEST(HttpServerApi, UserLogoutRevokesEverySessionOfTheUser) {
  hub_process hub;
  const auto a1 = login_ok(hub.port());
  const auto a2 = create_session_ok(hub.port(), "alice");
  const auto b = login_ok(hub.port(), "bob", "builder");
  auto tab = authed_tab(hub.port(), a1.access_token);
  auto r = http_request(hub.port(), "POST", "/v1/users/alice/logout", {api_auth()});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(json_int(r.json_body(), "revoked"), 2) << r.body;
  EXPECT_EQ(tab->close_code(2s), 4010) << "a revoked session's tab stays open";
  for (const auto* t : {&a1, &a2}) {
    EXPECT_TRUE(is_token_refusal(validate(hub.port(), t->access_token), "session_revoked"));
    EXPECT_TRUE(is_problem(refresh(hub.port(), *t->refresh_token), 401, "invalid_grant"));
  }
  EXPECT_EQ(validate(hub.port(), b.access_token).status, 200);
  r = http_request(hub.port(), "POST", "/v1/users/alice/logout", {api_auth()});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(json_int(r.json_body(), "revoked"), 0) << r.body;
  r = http_request(hub.port(), "POST", "/v1/users/nobody/logout", {api_auth()});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_EQ(json_int(r.json_body(), "revoked"), 0) << r.body;
}

// `path` ("a.b.c") names a member of the given JSON kind.
testing::AssertionResult has_field(const json& doc, const std::string& path, rapidjson::Type kind) {
  const rapidjson::Value* v = &doc;
  std::stringstream parts(path);
  for (std::string part; std::getline(parts, part, '.');) {
    if (!v->IsObject() || !v->HasMember(part.c_str()))
      return testing::AssertionFailure() << "no " << path << " in " << to_text(doc);
    v = &(*v)[part.c_str()];
  }
  const bool ok = kind == rapidjson::kNumberType ? v->IsNumber()
                  : kind == rapidjson::kTrueType ? v->IsBool()
                                                 : v->GetType() == kind;
  if (!ok) return testing::AssertionFailure() << path << " has the wrong type: " << to_text(*v);
  return testing::AssertionSuccess();
}

TEST(HttpServerApi, StatsHaveEveryFieldOfTheContract) {
  hub_process hub;
  const json s = stats(hub.port());
  EXPECT_TRUE(has_field(s, "replica", rapidjson::kStringType));
  for (const char* number :
       {"uptime_s", "connections.current", "connections.authenticated", "connections.watching",
        "connections.total", "sessions.active", "events.published", "events.delivered",
        "events.dropped", "fanout_latency_ms.p50", "fanout_latency_ms.p99", "fanout_latency_ms.max",
        "refresh.ok", "refresh.reused", "refresh.failed", "cluster.received", "cluster.gaps",
        "store.latency_ms.p50", "store.latency_ms.p99"})
    EXPECT_TRUE(has_field(s, number, rapidjson::kNumberType));
  EXPECT_TRUE(has_field(s, "cluster.peers", rapidjson::kArrayType));
  EXPECT_EQ(s["cluster"]["peers"].Size(), 0u) << "a single replica has no peers";
  EXPECT_TRUE(has_field(s, "store.kind", rapidjson::kStringType));
  EXPECT_TRUE(has_field(s, "store.up", rapidjson::kTrueType));
  EXPECT_EQ(json_string(s["store"], "kind"), "sqlite");
  EXPECT_EQ(json_bool(s["store"], "up"), true);
}

TEST(HttpServerApi, StatsCountSessionsAndRefreshes) {
  hub_process hub;
  EXPECT_EQ(stat_value(hub.port(), "sessions", "active"), 0);
  const auto a = login_ok(hub.port());
  const auto b = create_session_ok(hub.port(), "bob");
  EXPECT_EQ(stat_value(hub.port(), "sessions", "active"), 2);

  const auto ok0 = stat_value(hub.port(), "refresh", "ok");
  const auto a1 = refresh_ok(hub.port(), *a.refresh_token);
  EXPECT_EQ(stat_value(hub.port(), "refresh", "ok"), ok0 + 1);

  const auto failed0 = stat_value(hub.port(), "refresh", "failed");
  EXPECT_EQ(refresh(hub.port(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").status, 401);
  EXPECT_EQ(stat_value(hub.port(), "refresh", "failed"), failed0 + 1);

  const auto reused0 = stat_value(hub.port(), "refresh", "reused");
  refresh_ok(hub.port(), *a1.refresh_token);
  EXPECT_EQ(refresh(hub.port(), *a.refresh_token).status, 401);  // grandparent: reuse
  EXPECT_EQ(stat_value(hub.port(), "refresh", "reused"), reused0 + 1);
  EXPECT_EQ(stat_value(hub.port(), "sessions", "active"), 1);

  ASSERT_EQ(delete_session(hub.port(), b.sid).status, 204);
  EXPECT_EQ(stat_value(hub.port(), "sessions", "active"), 0);
}

TEST(HttpServerApi, MetricsArePrometheusTextPrefixedSessionhub) {
  hub_process hub;
  login_ok(hub.port());
  const auto r = http_request(hub.port(), "GET", "/metrics", {api_auth()});
  ASSERT_EQ(r.status, 200) << r.describe();
  EXPECT_TRUE(icontains(r.header("Content-Type").value_or(""), "text/plain")) << r.describe();
  std::stringstream lines(r.body);
  int samples = 0, types = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0 || line.rfind("# HELP ", 0) == 0) {
      types += line[2] == 'T';
      EXPECT_EQ(line.substr(7, 11), "sessionhub_") << line;
      continue;
    }
    if (line[0] == '#') continue;
    ++samples;
    EXPECT_EQ(line.rfind("sessionhub_", 0), 0u) << line;
  }
  EXPECT_GT(samples, 0) << r.body;
  EXPECT_GT(types, 0) << r.body;
}

TEST(HttpServerApi, MetricsCarryTheRefreshFanoutAndSlowConsumerSeries) {
  hub_process hub;
  const auto t0 = login_ok(hub.port());
  const auto t1 = refresh_ok(hub.port(), *t0.refresh_token);
  refresh_ok(hub.port(), *t1.refresh_token);
  ASSERT_EQ(refresh(hub.port(), *t0.refresh_token).status, 401);  // grandparent: reuse
  const auto r = http_request(hub.port(), "GET", "/metrics", {api_auth()});
  ASSERT_EQ(r.status, 200) << r.describe();
  for (const char* series :
       {"\nsessionhub_refresh_reused_total 1\n", "\nsessionhub_fanout_latency_seconds_bucket{le=",
        "\nsessionhub_slow_consumer_kicks_total "})
    EXPECT_NE(r.body.find(series), std::string::npos) << series << " not in\n" << r.body;
}

}  // namespace
}  // namespace shub::itest
