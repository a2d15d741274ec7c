// durability_test: a hub stopped with SIGTERM and started again on the same SQLite file
// (PROTOCOL §7: "flushes the store"; the generated signing key is "kept beside the store")
// carries on where it left off — live sessions still validate and refresh with the tokens
// issued before, revoked ones stay revoked, and the refresh-token family history still
// catches a reuse. The store directory belongs to the test so it outlives the first hub.
#include <filesystem>

#include <gtest/gtest.h>

#include "harness.hpp"
#include "hub_api.hpp"

namespace shub::itest {
namespace {

std::string kid_of(const std::string& access_token) {
  const auto jwt = decode_jwt(access_token);
  return jwt ? json_string(jwt->header, "kid").value_or("") : "";
}

bool jwks_has(int port, const std::string& kid) {
  const json jwks = http_request(port, "GET", "/.well-known/jwks.json").json_body();
  if (!jwks.IsObject() || !jwks.HasMember("keys") || !jwks["keys"].IsArray()) return false;
  for (const auto& k : jwks["keys"].GetArray())
    if (json_string(k, "kid") == kid) return true;
  return false;
}

TEST(IntegrationDurability, SessionsRevocationsAndTheKeySurviveARestart) {
  temp_dir store_dir;
  const std::vector<std::string> args = {"--store", "sqlite:" + store_dir.path() + "/hub.db"};
  token_response kept, revoked;
  std::string jwks_before;
  {
    hub_process first(args);
    kept = login_ok(first.port());
    revoked = create_session_ok(first.port(), "bob");
    ASSERT_EQ(logout(first.port(), revoked.access_token).status, 204);
    jwks_before = http_request(first.port(), "GET", "/.well-known/jwks.json").body;
    ASSERT_EQ(first.terminate(), 0) << first.output();
  }
  EXPECT_TRUE(std::filesystem::exists(store_dir.path() + "/signing-key.pem"))
      << "the generated key is not beside the store";
  hub_process second(args);
  EXPECT_TRUE(jwks_has(second.port(), kid_of(kept.access_token)))
      << "the signing key did not survive the restart";
  EXPECT_EQ(http_request(second.port(), "GET", "/.well-known/jwks.json").body, jwks_before)
      << "the restart published other keys";

  const auto v = validate(second.port(), kept.access_token);
  ASSERT_EQ(v.status, 200) << v.describe();
  EXPECT_EQ(json_string(v.json_body(), "sid"), kept.sid);
  EXPECT_EQ(json_string(v.json_body(), "sub"), "alice");
  EXPECT_EQ(json_int(v.json_body(), "expires_at"), kept.expires_at);

  const auto next = refresh_ok(second.port(), *kept.refresh_token);
  EXPECT_EQ(next.sid, kept.sid);
  EXPECT_EQ(kid_of(next.access_token), kid_of(kept.access_token));
  EXPECT_EQ(validate(second.port(), next.access_token).status, 200);

  EXPECT_TRUE(is_token_refusal(validate(second.port(), revoked.access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(second.port(), *revoked.refresh_token), 401, "invalid_grant"));
  EXPECT_EQ(list_sessions(second.port(), "bob")["sessions"].Size(), 0u);
  EXPECT_EQ(list_sessions(second.port(), "alice")["sessions"].Size(), 1u);
  EXPECT_EQ(second.terminate(), 0) << second.output();
}

TEST(IntegrationDurability, RefreshHistorySurvivesARestart) {
  temp_dir store_dir;
  const std::vector<std::string> args = {"--store", "sqlite:" + store_dir.path() + "/hub.db"};
  token_response t0, t2;
  {
    hub_process first(args);
    t0 = login_ok(first.port());
    const auto t1 = refresh_ok(first.port(), *t0.refresh_token);
    t2 = refresh_ok(first.port(), *t1.refresh_token);
    ASSERT_EQ(first.terminate(), 0) << first.output();
  }
  hub_process second(args);
  EXPECT_EQ(validate(second.port(), t2.access_token).status, 200);
  // The grandparent is still known as one, so presenting it is reuse.
  EXPECT_TRUE(is_problem(refresh(second.port(), *t0.refresh_token), 401, "invalid_grant"));
  EXPECT_TRUE(is_token_refusal(validate(second.port(), t2.access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(second.port(), *t2.refresh_token), 401, "invalid_grant"));
}

TEST(IntegrationDurability, AFreshStoreKnowsNothingOfAnother) {
  token_response t;
  {
    hub_process first;
    t = login_ok(first.port());
    ASSERT_EQ(first.terminate(), 0);
  }
  hub_process other;  // its own temp directory: new store, new key
  EXPECT_TRUE(is_token_refusal(validate(other.port(), t.access_token), "token_invalid"));
  EXPECT_TRUE(is_problem(refresh(other.port(), *t.refresh_token), 401, "invalid_grant"));
}

}  // namespace
}  // namespace shub::itest
