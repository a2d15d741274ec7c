// Restart durability: sessions, revocations and the signing key survive a clean restart of
// the hub on the same SQLite store (issue 2: "a session and a revocation survive a restart").
#include <gtest/gtest.h>

#include <filesystem>

#include "support.hpp"

namespace shub::it {
namespace {

std::string bearer_of(const std::string& token) {
  return "Bearer " + token;
}

TEST(Restart, SessionsRevocationsAndKeysSurvive) {
  char tmpl[] = "/tmp/shub-restart-XXXXXX";
  ASSERT_TRUE(::mkdtemp(tmpl));
  const std::string dir = tmpl;
  const std::vector<std::string> store = {"--store", "sqlite:" + dir + "/hub.db"};

  session_tokens kept, revoked;
  std::string jwks_before;
  {
    hub_process first(store);
    kept = create_session(first.port(), "alice");
    revoked = create_session(first.port(), "bob");
    ASSERT_EQ(http(first.port(), "DELETE", "/v1/sessions/" + revoked.sid, {},
                   {{"Authorization", std::string("Bearer ") + api_key}})
                  .status,
              204);
    jwks_before = http(first.port(), "GET", "/.well-known/jwks.json").body;
    EXPECT_EQ(first.terminate(), 0);
    EXPECT_TRUE(first.wait_for_log("\"msg\":\"stopped\"", 1s));
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/signing-key.pem"));

  hub_process second(store);
  EXPECT_EQ(http(second.port(), "GET", "/.well-known/jwks.json").body, jwks_before);
  const auto v = http(second.port(), "GET", "/v1/validate", {},
                      {{"Authorization", bearer_of(kept.access_token)}});
  EXPECT_EQ(v.status, 200) << v.body;
  EXPECT_STREQ(v.parse()["sid"].GetString(), kept.sid.c_str());
  const auto r = http(second.port(), "POST", "/v1/refresh",
                      "{\"refresh_token\":\"" + kept.refresh_token + "\"}");
  EXPECT_EQ(r.status, 200) << r.body;
  const auto gone = http(second.port(), "GET", "/v1/validate", {},
                         {{"Authorization", bearer_of(revoked.access_token)}});
  EXPECT_EQ(gone.status, 401);
  EXPECT_NE(gone.body.find("session_revoked"), std::string::npos);
  EXPECT_EQ(http(second.port(), "POST", "/v1/refresh",
                 "{\"refresh_token\":\"" + revoked.refresh_token + "\"}")
                .status,
            401);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace shub::it
