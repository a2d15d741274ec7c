// tls_test: HTTPS and WSS (PROTOCOL §7 --tls-cert/--tls-key) against the real binary, with a
// CA and server certificates made at test time and real OpenSSL clients that verify the hub
// against that CA: every route and the whole login → WSS → event → logout flow over TLS; what
// is refused (old protocol versions, non-AEAD suites, plain HTTP, a ClientHello that never
// comes) and logged while the hub stays up; SIGHUP serving a new certificate to new
// connections only and keeping the old one when the new pair is broken.
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "harness.hpp"
#include "harness_ws.hpp"
#include "hub_api.hpp"
#include "raw_ws.hpp"
#include "tls_client.hpp"

namespace shub::itest {
namespace {

using testing::HasSubstr;

// A test CA and the hub's certificate (serial `serial`), in a directory of their own.
struct tls_files {
  explicit tls_files(long serial = 1001)
      : pki(dir.path()), cert(dir.path() + "/server.pem"), key(dir.path() + "/server.key") {
    pki.issue(serial, cert, key);
  }
  [[nodiscard]] tls_client_options client() const {
    tls_client_options o;
    o.ca_file = pki.ca_file();
    return o;
  }
  [[nodiscard]] hub_options hub(std::vector<std::string> extra = {}) const {
    hub_options options = unlimited({"--tls-cert", cert, "--tls-key", key});
    options.args.insert(options.args.end(), extra.begin(), extra.end());
    return options;
  }

  temp_dir dir;
  test_pki pki;
  std::string cert, key;
};

// A JSON log line `msg` whose string field `field` contains `text`, within `timeout`.
std::optional<json> wait_for_log_with(hub_process& hub, std::string_view msg,
                                      std::string_view field, std::string_view text,
                                      std::chrono::milliseconds timeout = 5s) {
  const auto line = hub.wait_for_log(
      [&](std::string_view l) {
        const json d = parse_json(l);
        if (!d.IsObject() || json_string(d, "msg") != msg) return false;
        const auto value = json_string(d, std::string(field).c_str());
        return value && value->find(text) != std::string::npos;
      },
      timeout);
  if (!line) return std::nullopt;
  return parse_json(*line);
}

// The `n`-th (1-based) log line with this msg, within `timeout`.
bool wait_for_nth_log(hub_process& hub, std::string_view msg, int n,
                      std::chrono::milliseconds timeout = 5s) {
  int seen = 0;
  return hub
      .wait_for_log(
          [&](std::string_view l) {
            const json d = parse_json(l);
            return d.IsObject() && json_string(d, "msg") == msg && ++seen == n;
          },
          timeout)
      .has_value();
}

// A bare TCP connection to the hub, for clients that never speak TLS.
class tcp_peer {
 public:
  explicit tcp_peer(int port) : fd_(connect_loopback(port)) {}
  ~tcp_peer() { ::close(fd_); }
  tcp_peer(const tcp_peer&) = delete;
  tcp_peer& operator=(const tcp_peer&) = delete;

  void send(std::string_view bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Reads until the hub closes the connection (true) or `timeout` passes (false); what
  // arrived meanwhile goes to `received`.
  bool closed_within(std::chrono::milliseconds timeout, std::string* received = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string in;
    bool ended = false;
    while (recv_before(fd_, deadline, in, ended)) {
    }
    if (received) received->append(in);
    return ended;  // FIN or reset: closed either way
  }

 private:
  int fd_ = -1;
};

http_response post_json(https_client& client, std::string_view target, header_list headers,
                        std::string body) {
  headers.push_back(json_type());
  return client.request("POST", target, headers, std::move(body));
}

http_response publish_tls(https_client& client, std::string_view channel, std::string_view event,
                          std::string_view data_json = "{}") {
  return post_json(client, "/v1/publish", {api_auth()},
                   "{\"channel\":" + json_quote(channel) + ",\"event\":" + json_quote(event) +
                       ",\"data\":" + std::string(data_json) + "}");
}

// One integer of /v1/stats over TLS.
std::int64_t tls_stat(https_client& client, const char* group, const char* name) {
  const auto r = client.request("GET", "/v1/stats", {api_auth()});
  const json doc = r.json_body();
  if (r.status != 200 || !doc.IsObject() || !doc.HasMember(group))
    throw std::runtime_error("GET /v1/stats: " + r.describe());
  const auto v = json_int(doc[group], name);
  if (!v) throw std::runtime_error(std::string("no ") + group + "." + name);
  return *v;
}

// POST /v1/sessions over TLS.
token_response create_session_tls(https_client& client, std::string_view sub) {
  const auto r =
      post_json(client, "/v1/sessions", {api_auth()}, "{\"sub\":" + json_quote(sub) + "}");
  auto tokens = parse_token_response(r);
  if (r.status != 201 || !tokens) throw std::runtime_error("POST /v1/sessions: " + r.describe());
  return *tokens;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 3s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

TEST(Tls, EveryRouteOverHttpsVerifiedAgainstTheCa) {
  tls_files files;
  hub_process hub(files.hub());
  https_client client(hub.port(), files.client(), true);
  const auto health = client.request("GET", "/healthz");
  ASSERT_EQ(health.status, 200) << health.describe();
  EXPECT_EQ(json_string(health.json_body(), "status"), "ok");
  EXPECT_GE(client.session().protocol, TLS1_2_VERSION) << client.session().version;
  EXPECT_EQ(client.session().alpn, "http/1.1");
  EXPECT_EQ(client.session().serial, 1001);
  EXPECT_EQ(client.request("GET", "/readyz").status, 200);
  EXPECT_EQ(client.request("GET", "/.well-known/jwks.json").status, 200);
  EXPECT_EQ(client.request("GET", "/sessionhub.js").status, 200);
  const auto stats = client.request("GET", "/v1/stats", {api_auth()});
  ASSERT_EQ(stats.status, 200);
  EXPECT_TRUE(stats.json_body().IsObject());
  EXPECT_EQ(client.request("GET", "/metrics", {api_auth()}).status, 200);
  EXPECT_EQ(client.request("GET", "/nowhere").status, 404);
  EXPECT_EQ(client.handshakes(), 1) << "keep-alive over TLS: one handshake for every request";

  // The name check is real: "localhost" is in the certificate too, and a client that trusts
  // another CA refuses the hub.
  auto by_name = files.client();
  by_name.host = "localhost";
  EXPECT_EQ(https_client(hub.port(), by_name).request("GET", "/healthz").status, 200);
  temp_dir other_dir;
  test_pki other(other_dir.path(), "another CA");
  auto stranger = files.client();
  stranger.ca_file = other.ca_file();
  const auto refused = tls_handshake(hub.port(), stranger);
  EXPECT_FALSE(refused.ok);
  EXPECT_THAT(refused.error, HasSubstr("certificate verify failed"));

  const auto listening = hub.wait_for_log_msg("listening", 1s);
  ASSERT_TRUE(listening);
  EXPECT_EQ(json_bool(*listening, "tls"), true);
  const auto enabled = hub.wait_for_log_msg("tls_enabled", 1s);
  ASSERT_TRUE(enabled);
  EXPECT_EQ(json_string(*enabled, "serial"), "03E9");  // 1001
}

TEST(Tls, Tls12OffersOnlyEcdheWithAead) {
  tls_files files;
  hub_process hub(files.hub());
  auto tls12 = files.client();
  tls12.max_version = TLS1_2_VERSION;
  const auto ok = tls_handshake(hub.port(), tls12);
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.session.protocol, TLS1_2_VERSION);
  EXPECT_THAT(ok.session.cipher, HasSubstr("ECDHE"));
  EXPECT_TRUE(ok.session.cipher.find("GCM") != std::string::npos ||
              ok.session.cipher.find("CHACHA20") != std::string::npos)
      << ok.session.cipher;
  for (const char* weak :
       {"ECDHE-ECDSA-AES128-SHA", "AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256"}) {
    auto offer = tls12;
    offer.ciphers = weak;
    const auto r = tls_handshake(hub.port(), offer);
    EXPECT_FALSE(r.ok) << weak << " was accepted";
  }
  EXPECT_TRUE(wait_for_log_with(hub, "tls_handshake_failed", "reason", "no shared cipher"));
}

TEST(Tls, LoginWssAuthEventLogoutOverTls) {
  tls_files files;
  hub_process hub(files.hub());
  https_client client(hub.port(), files.client(), true);
  const auto login = post_json(client, "/v1/login", {},
                               R"({"username":"alice","password":"wonderland",)"
                               R"("token_delivery":"body"})");
  ASSERT_EQ(login.status, 200) << login.describe();
  const auto tokens = parse_token_response(login);
  ASSERT_TRUE(tokens) << login.describe();
  // TLS counts as secure: the refresh cookie keeps Secure on a loopback listener.
  const auto rt = find_set_cookie(login, "shub_rt", "/v1/refresh");
  ASSERT_TRUE(rt) << login.describe();
  EXPECT_TRUE(rt->has("Secure"));

  ws_tab tab(hub.port(), files.client());
  ASSERT_TRUE(tab.tls_session());
  EXPECT_GE(tab.tls_session()->protocol, TLS1_2_VERSION);
  tab.auth(tokens->access_token);
  const auto ready = tab.wait_type("ready", 5s);
  ASSERT_TRUE(ready);
  EXPECT_EQ(json_string(*ready, "sid"), tokens->sid);

  ASSERT_EQ(publish_tls(client, "session:" + tokens->sid, "note", R"({"n":0})").status, 202);
  const auto note = tab.wait_event("note", 3s);
  ASSERT_TRUE(note);
  EXPECT_EQ((*note)["data"]["n"].GetInt(), 0);

  // A burst: frames queued together go out in gathered writes, all of them, in order.
  constexpr int burst = 60;
  for (int i = 1; i <= burst; ++i)
    ASSERT_EQ(
        publish_tls(client, "user:alice", "burst", "{\"n\":" + std::to_string(i) + "}").status,
        202);
  for (int i = 1; i <= burst; ++i) {
    const auto ev = tab.wait_event("burst", 3s);
    ASSERT_TRUE(ev) << "event " << i << " of " << burst;
    EXPECT_EQ((*ev)["data"]["n"].GetInt(), i);
  }

  tab.send(R"({"type":"extend"})");
  EXPECT_TRUE(tab.wait_event("session.extended", 3s));

  const auto out = client.request("POST", "/v1/logout", {bearer(tokens->access_token)});
  EXPECT_EQ(out.status, 204) << out.describe();
  const auto logout = tab.wait_event("logout", 3s);
  ASSERT_TRUE(logout);
  EXPECT_STREQ((*logout)["data"]["reason"].GetString(), "user_logout");
  EXPECT_EQ(tab.close_code(3s), 4010);
  // The connection is gone from the hub's books once the close handshake is done.
  EXPECT_TRUE(eventually([&] { return tls_stat(client, "connections", "current") == 0; }));
  EXPECT_EQ(tls_stat(client, "events", "dropped"), 0);
}

TEST(Tls, OldProtocolVersionsAreRefusedAndLogged) {
  tls_files files;
  hub_process hub(files.hub());
  auto old = files.client();
  old.legacy = true;  // a client able to offer TLS 1.0 and 1.1 at all
  old.min_version = TLS1_VERSION;
  old.max_version = TLS1_1_VERSION;
  const auto refused = tls_handshake(hub.port(), old);
  EXPECT_FALSE(refused.ok);
  const auto logged =
      wait_for_log_with(hub, "tls_handshake_failed", "reason", "unsupported protocol");
  ASSERT_TRUE(logged) << hub.output();
  EXPECT_EQ(json_string(*logged, "ip"), "127.0.0.1");
  // The same client, allowed TLS 1.2, gets in: it was the version that was refused.
  old.max_version = TLS1_2_VERSION;
  const auto accepted = tls_handshake(hub.port(), old);
  ASSERT_TRUE(accepted.ok) << accepted.error;
  EXPECT_EQ(accepted.session.protocol, TLS1_2_VERSION);
}

TEST(Tls, PlainHttpToTheTlsPortIsRefusedAndLogged) {
  tls_files files;
  hub_process hub(files.hub());
  tcp_peer plain(hub.port());
  plain.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string answer;
  EXPECT_TRUE(plain.closed_within(5s, &answer));
  EXPECT_EQ(answer.find("HTTP/"), std::string::npos) << "a plain HTTP answer: " << answer;
  const auto logged = wait_for_log_with(hub, "tls_handshake_failed", "reason", "http request");
  ASSERT_TRUE(logged) << hub.output();
  EXPECT_EQ(json_string(*logged, "ip"), "127.0.0.1");
  EXPECT_ANY_THROW(http_request(hub.port(), "GET", "/healthz"));
  // The hub carries on.
  EXPECT_TRUE(hub.running());
  EXPECT_EQ(https_client(hub.port(), files.client()).request("GET", "/healthz").status, 200);
}

TEST(Tls, AClientHelloThatNeverComesIsClosedAtTheHandshakeTimeout) {
  tls_files files;
  hub_process hub(files.hub({"--tls-handshake-timeout-s", "1"}));
  const auto start = std::chrono::steady_clock::now();
  tcp_peer silent(hub.port());
  tcp_peer dribbling(hub.port());
  dribbling.send(std::string("\x16\x03\x01", 3));  // the first bytes of a record header
  EXPECT_FALSE(silent.closed_within(500ms)) << "closed before the timeout";
  EXPECT_TRUE(silent.closed_within(4s));
  EXPECT_TRUE(dribbling.closed_within(2s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_TRUE(wait_for_log_with(hub, "tls_handshake_failed", "reason", "timeout")) << hub.output();
  EXPECT_TRUE(wait_for_nth_log(hub, "tls_handshake_failed", 2)) << hub.output();
  EXPECT_EQ(https_client(hub.port(), files.client()).request("GET", "/healthz").status, 200);
}

TEST(Tls, SighupServesANewCertificateToNewConnectionsOnly) {
  tls_files files;
  hub_process hub(files.hub());
  https_client client(hub.port(), files.client(), true);
  const auto tokens = create_session_tls(client, "alice");
  ws_tab old_tab(hub.port(), files.client());
  ASSERT_EQ(old_tab.tls_session()->serial, 1001);
  old_tab.auth(tokens.access_token);
  ASSERT_TRUE(old_tab.wait_type("ready", 5s));
  const auto before = tls_handshake(hub.port(), files.client());
  ASSERT_TRUE(before.ok) << before.error;

  files.pki.issue(2002, files.cert, files.key);
  ASSERT_EQ(::kill(hub.pid(), SIGHUP), 0);
  const auto reloaded = hub.wait_for_log_msg("tls_reloaded", 5s);
  ASSERT_TRUE(reloaded) << hub.output();
  EXPECT_EQ(json_string(*reloaded, "serial"), "07D2");  // 2002

  const auto after = tls_handshake(hub.port(), files.client());
  ASSERT_TRUE(after.ok) << after.error;
  EXPECT_EQ(after.session.serial, 2002);
  EXPECT_NE(after.session.fingerprint, before.session.fingerprint);
  ws_tab new_tab(hub.port(), files.client());
  EXPECT_EQ(new_tab.tls_session()->serial, 2002);

  // The tab opened before the reload still works both ways, on its old session.
  https_client fresh(hub.port(), files.client());
  ASSERT_EQ(publish_tls(fresh, "session:" + tokens.sid, "still_here").status, 202);
  EXPECT_TRUE(old_tab.wait_event("still_here", 3s));
  old_tab.send(R"({"type":"extend"})");
  EXPECT_TRUE(old_tab.wait_event("session.extended", 3s));
  EXPECT_TRUE(hub.running());
  EXPECT_EQ(fresh.request("GET", "/readyz").status, 200) << "SIGHUP must not drain";
}

TEST(Tls, SighupWithABrokenPairKeepsTheOldCertificate) {
  tls_files files;
  hub_process hub(files.hub());
  // A key that is not PEM at all.
  { std::ofstream(files.key) << "not a key\n"; }
  ASSERT_EQ(::kill(hub.pid(), SIGHUP), 0);
  const auto failed = hub.wait_for_log_msg("tls_reload_failed", 5s);
  ASSERT_TRUE(failed) << hub.output();
  EXPECT_THAT(json_string(*failed, "error").value_or(""), HasSubstr("--tls-key"));
  EXPECT_EQ(json_string(*failed, "level"), "error");
  auto served = tls_handshake(hub.port(), files.client());
  ASSERT_TRUE(served.ok) << served.error;
  EXPECT_EQ(served.session.serial, 1001);

  // A good key of another certificate: the pair does not match.
  temp_dir other;
  files.pki.issue(3003, other.path() + "/cert.pem", files.key);
  ASSERT_EQ(::kill(hub.pid(), SIGHUP), 0);
  ASSERT_TRUE(wait_for_nth_log(hub, "tls_reload_failed", 2)) << hub.output();
  served = tls_handshake(hub.port(), files.client());
  ASSERT_TRUE(served.ok) << served.error;
  EXPECT_EQ(served.session.serial, 1001);

  // Mended, the next SIGHUP takes it.
  files.pki.issue(4004, files.cert, files.key);
  ASSERT_EQ(::kill(hub.pid(), SIGHUP), 0);
  ASSERT_TRUE(hub.wait_for_log_msg("tls_reloaded", 5s)) << hub.output();
  served = tls_handshake(hub.port(), files.client());
  ASSERT_TRUE(served.ok) << served.error;
  EXPECT_EQ(served.session.serial, 4004);
  EXPECT_TRUE(hub.running());
}

TEST(Tls, SighupWithoutTlsLeavesTheHubRunning) {
  hub_process hub;
  ASSERT_EQ(::kill(hub.pid(), SIGHUP), 0);
  EXPECT_TRUE(hub.wait_for_log_msg("signal", 5s)) << hub.output();
  EXPECT_TRUE(hub.running());
  EXPECT_EQ(http_request(hub.port(), "GET", "/readyz").status, 200);
}

TEST(Tls, SlowWssConsumerIsClosedAtTheQueueBound) {
  tls_files files;
  hub_process hub(files.hub({"--ws-queue-frames", "64", "--ws-queue-bytes", "65536"}));
  https_client client(hub.port(), files.client(), true);
  const auto tokens = create_session_tls(client, "alice");
  ws_tab slow(hub.port(), files.client(), test_origin, {}, 4096);
  slow.auth(tokens.access_token);
  ASSERT_TRUE(slow.wait_type("ready", 5s));
  slow.stall();
  ws_tab fast(hub.port(), files.client());
  fast.auth(tokens.access_token);
  ASSERT_TRUE(fast.wait_type("ready", 5s));
  const std::string data = R"({"p":")" + std::string(12000, 'p') + "\"}";
  int received = 0;
  for (int i = 0; i < 1500 && tls_stat(client, "connections", "slow_consumer_kicks") == 0; ++i) {
    ASSERT_EQ(publish_tls(client, "user:alice", "bulk", data).status, 202);
    if (fast.wait_event("bulk", 2s)) ++received;
  }
  EXPECT_GE(tls_stat(client, "connections", "slow_consumer_kicks"), 1);
  EXPECT_TRUE(hub.wait_for_log_msg("slow_consumer", 2s));
  EXPECT_GT(received, 0);
  EXPECT_EQ(fast.pending(), 0u);
  EXPECT_EQ(client.request("GET", "/healthz").status, 200);
}

TEST(Tls, SigtermClosesWssTabsWith1001AndExitsZero) {
  tls_files files;
  hub_process hub(files.hub());
  https_client client(hub.port(), files.client());
  const auto tokens = create_session_tls(client, "alice");
  ws_tab tab(hub.port(), files.client());
  tab.auth(tokens.access_token);
  ASSERT_TRUE(tab.wait_type("ready", 5s));
  EXPECT_EQ(hub.terminate(), 0) << hub.output();
  EXPECT_EQ(tab.close_code(3s), 1001);
}

TEST(Tls, AnUnusablePairStopsTheStart) {
  tls_files files;
  { std::ofstream(files.cert) << "-----BEGIN CERTIFICATE-----\nnonsense\n"; }
  try {
    hub_process hub(files.hub());
    FAIL() << "the hub started with a broken certificate";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("startup_failed"));
    EXPECT_THAT(e.what(), HasSubstr("--tls-cert"));
  }
}

}  // namespace
}  // namespace shub::itest
