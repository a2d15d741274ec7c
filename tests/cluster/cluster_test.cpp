// The cluster (PROTOCOL §4) end to end: scripts/cluster.sh's Redis, three replicas and
// HAProxy on loopback, real browsers' tabs as WebSocket clients on every replica. One
// cluster serves the whole program; a test that kills, pauses or stops a component brings
// it back before it ends, and every test uses sessions of its own.
//
// The replicas run with a one-hour periodic re-check, so a repair seen here comes from the
// fast paths under test (a gap, a restarted or silent peer), not from the safety net; the
// one test about the safety net runs its own replica with a one-second re-check.
#include <signal.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cluster_driver.hpp"
#include "harness.hpp"
#include "harness_ws.hpp"
#include "hub_api.hpp"

namespace shub::ctest {
namespace {

using namespace shub::itest;
using namespace std::chrono_literals;

constexpr auto peer_timeout = 1500ms;  // --cluster-peer-timeout-ms below

cluster_driver* g_cluster = nullptr;

cluster_driver& cluster() {
  return *g_cluster;
}

// True once `pred` holds, polling every 50 ms up to `timeout`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

std::string unique_sub(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

// A counter of the `cluster` object of /v1/stats.
std::int64_t cluster_counter(int port, const char* name) {
  const json s = stats(port);
  return json_int(s["cluster"], name).value_or(-1);
}

// Whether replica `port` sees peer `replica` (e.g. "hub2") up; nullopt when not listed.
std::optional<bool> peer_up(int port, const std::string& replica) {
  const json s = stats(port);
  if (!s["cluster"].HasMember("peers") || !s["cluster"]["peers"].IsArray()) return std::nullopt;
  for (const auto& p : s["cluster"]["peers"].GetArray()) {
    if (json_string(p, "replica") == replica) return json_bool(p, "up");
  }
  return std::nullopt;
}

// Every replica answers /readyz and sees both others up.
bool mesh_up() {
  for (int n = 1; n <= 3; ++n) {
    try {
      if (http_request(cluster().hub_port(n), "GET", "/readyz").status != 200) return false;
      for (int m = 1; m <= 3; ++m) {
        if (m != n && peer_up(cluster().hub_port(n), "hub" + std::to_string(m)) != true) {
          return false;
        }
      }
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

// `scripts/cluster.sh status` exits 0: every component up, HAProxy counts every replica in.
bool all_up() {
  return cluster().run({"status"}) == 0;
}

class cluster_environment : public ::testing::Environment {
 public:
  void SetUp() override {
    cluster_ = std::make_unique<cluster_driver>(std::vector<std::string>{
        "--login-rate-limit", "0", "--refresh-rate-limit", "0", "--cluster-heartbeat-ms", "250",
        "--cluster-peer-timeout-ms", std::to_string(peer_timeout.count()), "--cluster-recheck-s",
        "3600"});
    g_cluster = cluster_.get();
    ASSERT_TRUE(eventually(mesh_up, 30s)) << "the replicas never all saw each other\n"
                                          << cluster().logs_tail();
  }
  void TearDown() override {
    // Every replica stops (a sanitizer build reports leaks as it exits), then its log is read.
    EXPECT_EQ(cluster().run({"down"}), 0) << cluster().logs_tail();
    EXPECT_EQ(cluster().sanitizer_reports(), "");
    g_cluster = nullptr;
    cluster_.reset();
  }

 private:
  std::unique_ptr<cluster_driver> cluster_;
};

// Brings a component back at the end of a test that stopped it, whatever the test's outcome,
// and waits for the mesh so that the next test starts on a whole cluster.
class restore_on_exit {
 public:
  explicit restore_on_exit(std::string component) : component_(std::move(component)) {}
  ~restore_on_exit() {
    const std::string name = component_ == "redis" ? "redis" : "hub" + component_;
    if (cluster().pid(name) > 0) {
      ::kill(-cluster().pid(name), SIGCONT);  // a paused one
    }
    if (cluster().run({"status"}) != 0) cluster().run({"start", component_});
    EXPECT_TRUE(eventually([] { return all_up() && mesh_up(); }, 60s))
        << "the cluster did not come back whole after the test\n"
        << cluster().logs_tail();
  }
  restore_on_exit(const restore_on_exit&) = delete;
  restore_on_exit& operator=(const restore_on_exit&) = delete;

 private:
  std::string component_;
};

// A tab that authenticated on `port`; also returns the replica and version `ready` named.
struct tab_on {
  std::unique_ptr<ws_tab> tab;
  std::string replica;
  std::uint64_t version = 0;
};

tab_on open_tab(int port, const std::string& token) {
  tab_on t;
  t.tab = std::make_unique<ws_tab>(port);
  t.tab->auth(token);
  const auto ready = t.tab->wait_type("ready", 5s);
  if (!ready) throw std::runtime_error("no ready on port " + std::to_string(port));
  t.replica = json_string(*ready, "replica").value_or("");
  t.version = (*ready)["version"].GetUint64();
  return t;
}

// The tab got a logout event with this reason, then close 4010.
testing::AssertionResult logged_out(ws_tab& tab, const std::string& reason,
                                    std::chrono::milliseconds within) {
  const auto bye = tab.wait_event("logout", within);
  if (!bye)
    return testing::AssertionFailure() << "no logout event within " << within.count() << " ms";
  const auto got = json_string((*bye)["data"], "reason");
  if (got != reason) {
    return testing::AssertionFailure()
           << "logout reason " << got.value_or("(none)") << ", not " << reason;
  }
  const int code = tab.close_code(5s);
  if (code != 4010) return testing::AssertionFailure() << "closed with " << code << ", not 4010";
  return testing::AssertionSuccess();
}

TEST(Cluster, EventsPublishedOnAnyReplicaReachTabsOnEveryReplica) {
  const auto s = create_session_ok(cluster().hub_port(1), unique_sub("events"));
  std::vector<tab_on> tabs;
  for (int n = 1; n <= 3; ++n)
    tabs.push_back(open_tab(cluster().hub_port(n), s.access_token));
  tabs.push_back(open_tab(cluster().front_port(), s.access_token));  // through HAProxy
  for (int n = 1; n <= 3; ++n)
    EXPECT_EQ(tabs[n - 1].replica, "hub" + std::to_string(n));

  for (int n = 1; n <= 3; ++n) {
    const auto r = publish(cluster().hub_port(n), "session:" + s.sid, "note",
                           R"({"from":)" + std::to_string(n) + "}");
    ASSERT_EQ(r.status, 202) << r.describe();
    const auto id = json_string(r.json_body(), "id");
    ASSERT_TRUE(id);
    for (auto& t : tabs) {
      const auto e = t.tab->wait_event("note", 5s);
      ASSERT_TRUE(e) << "tab on " << t.replica << " missed the event published on hub" << n;
      EXPECT_EQ(json_string(*e, "id"), id) << "on " << t.replica;
      EXPECT_EQ(json_int((*e)["data"], "from"), n) << "on " << t.replica;
    }
  }
  // A user channel too, from HAProxy's choice of replica.
  const auto r = publish(cluster().front_port(), "user:" + s.sub, "notice", "{}");
  ASSERT_EQ(r.status, 202) << r.describe();
  for (auto& t : tabs)
    EXPECT_TRUE(t.tab->wait_event("notice", 5s)) << "on " << t.replica;

  // A logout made through HAProxy ends the session on every replica's tabs.
  const auto out = logout(cluster().front_port(), s.access_token);
  ASSERT_EQ(out.status, 204) << out.describe();
  for (auto& t : tabs)
    EXPECT_TRUE(logged_out(*t.tab, "user_logout", 5s)) << "on " << t.replica;
}

TEST(Cluster, RefreshTokenIssuedOnOneReplicaRotatesOnAnotherAndItsGraceWorksOnAThird) {
  const auto s = create_session_ok(cluster().hub_port(1), unique_sub("rotate"));
  ASSERT_TRUE(s.refresh_token);
  const auto rt0 = *s.refresh_token;

  const auto r1 = refresh_ok(cluster().hub_port(2), rt0);
  ASSERT_TRUE(r1.refresh_token);
  EXPECT_NE(*r1.refresh_token, rt0);
  EXPECT_EQ(r1.sid, s.sid);

  // Rule 2 on a third replica: the previous token within reuse_interval → the same pair.
  const auto again = refresh_ok(cluster().hub_port(3), rt0);
  EXPECT_EQ(again.refresh_token, r1.refresh_token);
  EXPECT_EQ(again.access_token, r1.access_token);
  EXPECT_EQ(again.version, r1.version);

  const auto r2 = refresh_ok(cluster().hub_port(1), *r1.refresh_token);
  ASSERT_TRUE(r2.refresh_token);
  auto tab = open_tab(cluster().hub_port(3), r2.access_token);

  // Rule 3 across replicas: the oldest token again, on yet another replica, is reuse.
  const auto reuse = refresh(cluster().hub_port(2), rt0);
  EXPECT_TRUE(is_problem(reuse, 401, "invalid_grant")) << reuse.describe();
  EXPECT_TRUE(logged_out(*tab.tab, "refresh_token_reuse", 5s));
  for (int n = 1; n <= 3; ++n) {
    EXPECT_TRUE(
        is_token_refusal(validate(cluster().hub_port(n), r2.access_token), "session_revoked"))
        << "hub" << n;
  }
}

TEST(Cluster, ConcurrentRefreshesOfOneTokenOnTwoReplicasRotateOnce) {
  constexpr int rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    const auto s = create_session_ok(cluster().hub_port(3), unique_sub("race"));
    const std::string rt = *s.refresh_token;
    std::barrier start(2);
    http_response a, b;
    std::thread other([&] {
      start.arrive_and_wait();
      b = refresh(cluster().hub_port(2), rt);
    });
    start.arrive_and_wait();
    a = refresh(cluster().hub_port(1), rt);
    other.join();

    const auto ta = parse_token_response(a);
    const auto tb = parse_token_response(b);
    ASSERT_TRUE(ta && tb) << "round " << round << "\n" << a.describe() << "\n" << b.describe();
    // One rotation: both racers hold the one successor, one version step.
    EXPECT_EQ(ta->refresh_token, tb->refresh_token) << "round " << round;
    EXPECT_EQ(ta->access_token, tb->access_token) << "round " << round;
    EXPECT_EQ(ta->version, s.version + 1) << "round " << round;
    EXPECT_EQ(tb->version, s.version + 1) << "round " << round;
    // The successor is current: it rotates once more, anywhere.
    const auto next = refresh_ok(cluster().hub_port(3), *ta->refresh_token);
    EXPECT_EQ(next.version, s.version + 2) << "round " << round;
  }
}

TEST(Cluster, KillingAReplicaDuringALogoutLeavesNoTabOnTheRevokedSession) {
  restore_on_exit restore("3");
  const auto s = create_session_ok(cluster().hub_port(1), unique_sub("kill"));
  auto t1 = open_tab(cluster().hub_port(1), s.access_token);
  auto t2 = open_tab(cluster().hub_port(2), s.access_token);
  auto t3 = open_tab(cluster().hub_port(3), s.access_token);

  // The logout goes to hub3, which is killed while it runs it: before, between or after
  // its store write and its publish.
  std::atomic<int> logout_status{0};
  std::thread logout_call([&] {
    try {
      logout_status = logout(cluster().hub_port(3), s.access_token).status;
    } catch (const std::exception&) {
      logout_status = -1;  // the connection died with the replica
    }
  });
  // Somewhere in its work: each run lands elsewhere (before, between or after its writes).
  std::this_thread::sleep_for(std::chrono::microseconds(std::random_device{}() % 3000));
  const int pid3 = cluster().pid("hub3");
  ASSERT_GT(pid3, 0);
  ASSERT_EQ(::kill(-pid3, SIGKILL), 0);
  logout_call.join();

  // Whatever hub3 managed, the store has the truth; a session it did not revoke is logged
  // out again, through HAProxy.
  const auto check = validate(cluster().hub_port(1), s.access_token);
  const bool revoked = check.status == 401;
  if (!revoked) {
    ASSERT_EQ(check.status, 200) << check.describe();
    EXPECT_NE(logout_status.load(), 204) << "hub3 answered 204 but the session is active";
    const auto out = logout(cluster().front_port(), s.access_token);
    ASSERT_EQ(out.status, 204) << out.describe();
  }
  // Tabs on the live replicas learn it: from hub3's message if it got out, otherwise from
  // the re-check their replica runs when hub3 falls silent.
  const auto within = peer_timeout * 4 + 5s;
  EXPECT_TRUE(logged_out(*t1.tab, "user_logout", within)) << "tab on hub1";
  EXPECT_TRUE(logged_out(*t2.tab, "user_logout", within)) << "tab on hub2";

  // The dead replica's tab lost its connection (or, if hub3 finished first, was closed
  // with 4010); it comes back through HAProxy with `resume`, and learns the logout.
  const int closed = t3.tab->close_code(5s);
  EXPECT_TRUE(closed == -1 || closed == 4010) << "closed with " << closed;
  // As the browser snippet does, it retries with a backoff while HAProxy has not yet taken
  // the dead replica out (an upgrade can still be sent there and answered 502).
  std::unique_ptr<ws_tab> back;
  std::string refused;
  for (int attempt = 0; attempt < 6 && !back; ++attempt) {
    try {
      back = std::make_unique<ws_tab>(cluster().front_port());
    } catch (const std::exception& e) {
      refused += std::string(e.what()) + "; ";
      std::this_thread::sleep_for(250ms * (attempt + 1));
    }
  }
  ASSERT_TRUE(back) << "no reconnect through HAProxy: " << refused;
  back->send(R"({"type":"resume","token":)" + json_quote(s.access_token) + R"(,"version":)" +
             std::to_string(t3.version) + "}");
  const auto ready = back->wait_type("ready", 5s);
  ASSERT_TRUE(ready);
  EXPECT_NE(json_string(*ready, "replica"), "hub3");
  EXPECT_EQ(json_string(*ready, "state"), "revoked");
  EXPECT_TRUE(logged_out(*back, "user_logout", 5s));
}

TEST(Cluster, ALogoutLostOnTheWayToAPausedReplicaIsRepairedFromTheStore) {
  restore_on_exit restore("2");
  const auto s = create_session_ok(cluster().hub_port(1), unique_sub("lost"));
  auto t1 = open_tab(cluster().hub_port(1), s.access_token);
  auto t2 = open_tab(cluster().hub_port(2), s.access_token);
  const auto repaired_before = cluster_counter(cluster().hub_port(2), "repaired");

  // hub2 stops answering; hub1 declares it down and its PUB socket drops the link (ZMTP
  // heartbeat timeout), so what hub1 publishes next never reaches hub2.
  cluster().pause("hub2");
  ASSERT_TRUE(eventually([] { return peer_up(cluster().hub_port(1), "hub2") == false; }, 15s));
  std::this_thread::sleep_for(peer_timeout + 500ms);
  const auto out = logout(cluster().hub_port(1), s.access_token);
  ASSERT_EQ(out.status, 204) << out.describe();
  EXPECT_TRUE(logged_out(*t1.tab, "user_logout", 5s));

  // hub2 wakes up: the gap in hub1's sequence (and its own silence) makes it re-check its
  // sessions against the store, which ends the tab's.
  cluster().resume("hub2");
  EXPECT_TRUE(logged_out(*t2.tab, "user_logout", 15s));
  EXPECT_GT(cluster_counter(cluster().hub_port(2), "repaired"), repaired_before);
}

TEST(Cluster, AReplicaThatMissesEveryMessageStillConvergesByThePeriodicRecheck) {
  // hub4 shares the store and the key but no peer knows it: nothing is ever sent to it.
  hub_process hub4(with_args({"--store", cluster().store_url(), "--signing-key",
                              cluster().signing_key(), "--replica-id", "hub4", "--cluster-bind",
                              "tcp://127.0.0.1:0", "--cluster-recheck-s", "1"}));
  const auto s = create_session_ok(cluster().hub_port(1), unique_sub("recheck"));
  auto t4 = open_tab(hub4.port(), s.access_token);
  EXPECT_EQ(t4.replica, "hub4");

  const auto out =
      http_request(cluster().hub_port(2), "POST", "/v1/users/" + s.sub + "/logout", {api_auth()});
  ASSERT_EQ(out.status, 200) << out.describe();
  EXPECT_TRUE(logged_out(*t4.tab, "admin", 5s));
  EXPECT_GE(cluster_counter(hub4.port(), "repaired"), 1);
}

TEST(Cluster, WithRedisStoppedEveryReplicaFailsClosedAndRecoversByItself) {
  restore_on_exit restore("redis");
  const auto s = create_session_ok(cluster().hub_port(1), unique_sub("redis"));
  cluster().must({"stop", "redis"});

  for (int n = 1; n <= 3; ++n) {
    const int port = cluster().hub_port(n);
    EXPECT_TRUE(is_problem(validate(port, s.access_token), 503, "store_unavailable")) << "hub" << n;
    EXPECT_TRUE(is_problem(extend(port, s.access_token), 503, "store_unavailable")) << "hub" << n;
    EXPECT_TRUE(is_problem(refresh(port, *s.refresh_token), 503, "store_unavailable"))
        << "hub" << n;
    EXPECT_EQ(http_request(port, "GET", "/readyz").status, 503) << "hub" << n;
    EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200) << "hub" << n;
  }
  // HAProxy takes every replica out of rotation: the front answers 503 as well.
  EXPECT_TRUE(eventually(
      [] { return http_request(cluster().front_port(), "GET", "/readyz").status == 503; }, 15s));

  cluster().must({"start", "redis"});
  EXPECT_TRUE(eventually(
      [] {
        for (int n = 1; n <= 3; ++n) {
          if (http_request(cluster().hub_port(n), "GET", "/readyz").status != 200) return false;
        }
        return true;
      },
      15s));
  // Redis kept its append-only file: the session is still there, on every replica.
  for (int n = 1; n <= 3; ++n) {
    const auto v = validate(cluster().hub_port(n), s.access_token);
    EXPECT_EQ(v.status, 200) << "hub" << n << ": " << v.describe();
  }
  const auto r = refresh(cluster().hub_port(2), *s.refresh_token);
  EXPECT_EQ(r.status, 200) << r.describe();
}

TEST(Cluster, ARestartedReplicaRejoinsTheMesh) {
  restore_on_exit restore("2");
  cluster().must({"stop", "2"});
  // Meanwhile a session starts elsewhere.
  const auto s = create_session_ok(cluster().hub_port(1), unique_sub("rejoin"));
  cluster().must({"start", "2"});
  ASSERT_TRUE(eventually(mesh_up, 30s)) << cluster().logs_tail();

  auto t2 = open_tab(cluster().hub_port(2), s.access_token);
  const auto r = publish(cluster().hub_port(3), "session:" + s.sid, "hello", "{}");
  ASSERT_EQ(r.status, 202) << r.describe();
  EXPECT_TRUE(t2.tab->wait_event("hello", 5s));
  const auto out = logout(cluster().hub_port(1), s.access_token);
  ASSERT_EQ(out.status, 204) << out.describe();
  EXPECT_TRUE(logged_out(*t2.tab, "user_logout", 5s));
}

}  // namespace
}  // namespace shub::ctest

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new shub::ctest::cluster_environment);
  return RUN_ALL_TESTS();
}
