// logs_test: the log contract operators and log shippers rely on — one JSON object per
// stdout line with ts, level and msg; the start-up line carries the bound port; and no
// credential (access token, refresh token, password, API key) ever appears in any output,
// whatever the hub was asked to do.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

// A bit of everything: logins good and bad, refreshes, a reuse, validation, extend, logout.
std::vector<std::string> exercise(int port) {
  std::vector<std::string> secrets;
  const auto a = login_ok(port);
  const auto a1 = refresh_ok(port, *a.refresh_token);
  const auto a2 = refresh_ok(port, *a1.refresh_token);
  (void)refresh(port, *a.refresh_token);  // reuse: revokes and warns
  const auto b = create_session_ok(port, "bob", R"("claims":{"role":"x"})");
  (void)validate(port, b.access_token);
  (void)extend(port, b.access_token);
  (void)login(port, "alice", "not-her-password");
  (void)logout(port, b.access_token, R"({"scope":"user"})");
  (void)http_request(port, "GET", "/v1/stats", {bearer("wrong-api-key-value")});
  for (const auto* t : {&a, &a1, &a2, &b}) {
    secrets.push_back(t->access_token);
    secrets.push_back(*t->refresh_token);
  }
  return secrets;
}

TEST(IntegrationLogs, EveryStdoutLineIsAJsonObjectWithTsLevelMsg) {
  hub_process hub;
  exercise(hub.port());
  ASSERT_EQ(hub.terminate(), 0) << hub.output();
  const auto lines = hub.stdout_lines();
  ASSERT_FALSE(lines.empty());
  bool saw_listening = false;
  for (const auto& line : lines) {
    const json doc = parse_json(line);
    ASSERT_TRUE(doc.IsObject()) << "not a JSON object: " << line;
    EXPECT_TRUE(json_string(doc, "ts")) << line;
    EXPECT_TRUE(json_string(doc, "msg")) << line;
    const auto level = json_string(doc, "level").value_or("");
    EXPECT_TRUE(level == "debug" || level == "info" || level == "warn" || level == "error") << line;
    if (json_string(doc, "msg") == "listening") {
      saw_listening = true;
      EXPECT_EQ(json_int(doc, "port"), hub.port()) << line;
    }
  }
  EXPECT_TRUE(saw_listening);
}

TEST(IntegrationLogs, NoTokenIsEverLogged) {
  hub_process hub;
  const auto tokens = exercise(hub.port());
  ASSERT_EQ(hub.terminate(), 0) << hub.output();
  const std::string output = hub.output();
  for (const auto& token : tokens) {
    EXPECT_EQ(output.find(token), std::string::npos) << "token in the output: " << token;
    // Also a recognisable part of it (a logger might truncate).
    EXPECT_EQ(output.find(token.substr(token.size() - 24)), std::string::npos) << token;
  }
}

TEST(IntegrationLogs, NoPasswordOrApiKeyIsEverLogged) {
  hub_process hub;
  exercise(hub.port());
  ASSERT_EQ(hub.terminate(), 0) << hub.output();
  const std::string output = hub.output();
  for (const char* secret : {"wonderland", "not-her-password", test_api_key, "wrong-api-key-value"})
    EXPECT_EQ(output.find(secret), std::string::npos) << "secret in the output: " << secret;
}

}  // namespace
}  // namespace shub::itest
