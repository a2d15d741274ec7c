// The hub on the Redis store (--store redis://, and redis+unix:// over its Unix socket), real
// binary and real redis-server: the session lifecycle works; with Redis stopped, refresh, validate
// and extend fail closed with 503 and /readyz says 503 while /healthz stays 200, logged once; with
// Redis back the hub serves again without a restart; without --signing-key it refuses to start.
#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>

#include "harness.hpp"
#include "hub_api.hpp"
#include "redis_server.hpp"

namespace shub::itest {
namespace {

using shub::testing::redis_server;

// A signing key in `dir` from `sessionhub generate-key`.
std::string make_key(const temp_dir& dir) {
  const std::string path = dir.path() + "/signing-key.pem";
  const std::string cmd = std::string(SESSIONHUB_BINARY) + " generate-key > " + path;
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("generate-key failed");
  return path;
}

hub_options on_redis(const redis_server& redis, const std::string& key) {
  return unlimited({"--store", redis.url(1), "--signing-key", key, "--redis-timeout-ms", "300"});
}

TEST(IntegrationRedis, SessionsLiveInRedis) {
  redis_server redis;
  temp_dir dir;
  hub_process hub(on_redis(redis, make_key(dir)));
  const auto s = login_ok(hub.port());
  EXPECT_EQ(redis.command({"EXISTS", "shub:s:{" + s.sid + "}"}, 1), "1");
  const auto next = refresh_ok(hub.port(), *s.refresh_token);
  EXPECT_EQ(next.version, s.version + 1);
  EXPECT_EQ(validate(hub.port(), next.access_token).status, 200);
  EXPECT_EQ(extend(hub.port(), next.access_token).status, 200);
  EXPECT_EQ(list_sessions(hub.port(), "alice")["sessions"].Size(), 1u);
  EXPECT_EQ(json_int(stats(hub.port())["sessions"], "active"), 1);
  ASSERT_EQ(logout(hub.port(), next.access_token).status, 204);
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), next.access_token), "session_revoked"));
  EXPECT_TRUE(is_problem(refresh(hub.port(), *s.refresh_token), 401, "invalid_grant"));
  EXPECT_EQ(json_string(stats(hub.port())["store"], "kind"), "redis");
}

TEST(IntegrationRedis, SessionsLiveInARedisReachedOverItsUnixSocket) {
  temp_dir dir;
  const std::string socket = dir.path() + "/redis.sock";
  redis_server redis({"--unixsocket", socket, "--unixsocketperm", "700"});
  hub_process hub(unlimited({"--store", "redis+unix://" + socket + "?db=2", "--signing-key",
                             make_key(dir), "--redis-timeout-ms", "300"}));
  const auto s = login_ok(hub.port());
  EXPECT_EQ(redis.command({"EXISTS", "shub:s:{" + s.sid + "}"}, 2), "1");
  const auto next = refresh_ok(hub.port(), *s.refresh_token);
  EXPECT_EQ(next.version, s.version + 1);
  EXPECT_EQ(validate(hub.port(), next.access_token).status, 200);
  EXPECT_EQ(json_string(stats(hub.port())["store"], "kind"), "redis");
}

TEST(IntegrationRedis, WithRedisDownTheHubFailsClosedAndRecoversByItself) {
  redis_server redis;
  temp_dir dir;
  hub_process hub(on_redis(redis, make_key(dir)));
  const auto s = create_session_ok(hub.port(), "alice");
  redis.stop();

  EXPECT_TRUE(is_problem(refresh(hub.port(), *s.refresh_token), 503, "store_unavailable"));
  EXPECT_TRUE(is_problem(validate(hub.port(), s.access_token), 503, "store_unavailable"));
  EXPECT_TRUE(is_problem(extend(hub.port(), s.access_token), 503, "store_unavailable"));
  EXPECT_TRUE(is_problem(create_session(hub.port(), "bob"), 503, "store_unavailable"));
  EXPECT_EQ(http_request(hub.port(), "GET", "/readyz").status, 503);
  EXPECT_EQ(http_request(hub.port(), "GET", "/healthz").status, 200);
  const auto down = hub.wait_for_log_msg("store_unavailable", 5s);
  ASSERT_TRUE(down) << hub.output();
  EXPECT_NE(json_string(*down, "error").value_or("").find("connect"), std::string::npos);

  redis.start();  // this test server keeps nothing: the session is gone, the hub is back
  EXPECT_EQ(http_request(hub.port(), "GET", "/readyz").status, 200);
  EXPECT_TRUE(hub.wait_for_log_msg("store_available", 5s)) << hub.output();
  EXPECT_TRUE(is_token_refusal(validate(hub.port(), s.access_token), "session_revoked"));
  const auto again = create_session_ok(hub.port(), "alice");
  EXPECT_EQ(validate(hub.port(), again.access_token).status, 200);
  // One log line per change of state, however many calls failed.
  int lines = 0;
  for (const auto& line : hub.stdout_lines()) {
    if (line.find(R"("msg":"store_unavailable")") != std::string::npos) ++lines;
  }
  EXPECT_EQ(lines, 1) << hub.output();
}

TEST(IntegrationRedis, RefusesToStartWithoutASharedSigningKey) {
  redis_server redis;
  hub_options options;
  options.args = {"--store", redis.url()};
  try {
    hub_process hub(options);
    ADD_FAILURE() << "the hub started on Redis without --signing-key";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("needs --signing-key"), std::string::npos) << e.what();
  }
}

TEST(IntegrationRedis, RefusesAMalformedRedisUrl) {
  temp_dir dir;
  hub_options options;
  options.args = {"--store", "redis://127.0.0.1:notaport", "--signing-key", make_key(dir)};
  try {
    hub_process hub(options);
    ADD_FAILURE() << "the hub started with a malformed --store";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad port"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace shub::itest
