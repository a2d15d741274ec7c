// config: the hub's one options table (PROTOCOL §7).
// Every option is a flag (--name), an environment variable (SESSIONHUB_NAME, upper case,
// '-' → '_') and a key of the --config file, in that order of precedence: a flag beats the
// environment, which beats the file. Each field's default and the reason for it is stated
// once, here; `sessionhub --help` prints the same table.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace shub {

struct config {
  // --- listener -----------------------------------------------------------------------
  std::string listen = "127.0.0.1:8080";     // loopback by default: exposing it is a choice
  int threads = 0;                           // 0 = one worker per core
  std::string tls_cert, tls_key;             // both set: HTTPS/WSS
  std::vector<std::string> allowed_origins;  // browser origins; none = every origin refused

  // --- TLS (--tls-cert and --tls-key: HTTPS and WSS only; SIGHUP re-reads both) ----------
  std::int64_t tls_handshake_timeout_s = 10;  // a handshake must end within this (slowloris)

  // --- store --------------------------------------------------------------------------
  std::string store = "sqlite:./data/sessionhub.db";
  int store_threads = 4;  // blocking store + signing work runs here, off the network threads
  // glibc malloc arenas (0 = its own default, 8 per core). Few arenas keep a long-running
  // hub from holding the free memory of each thread's peak in a heap of its own.
  int malloc_arenas = 2;
  std::int64_t token_cache_entries = 50000;  // verified access tokens kept (0: none)
  std::int64_t redis_timeout_ms = 500;       // connect and command timeout of the Redis store
  int redis_pool = 0;                        // Redis connections; 0 = --store-threads + 4

  // --- identity and keys --------------------------------------------------------------
  std::vector<std::string> api_keys;  // none = server API disabled
  std::string users_file;             // none = /v1/login disabled
  std::string signing_key;            // PEM; empty = generated and kept beside the store
  std::string previous_signing_key;   // PEM still published and accepted after a rotation
  std::string signing_alg = "ES256";  // algorithm of a generated key: ES256, EdDSA, RS256
  std::string hs256_secret_file;      // HS256 only when explicitly configured this way
  std::string issuer = "sessionhub";
  std::string audience = "sessionhub";

  // --- session policy (seconds) -------------------------------------------------------
  std::int64_t access_ttl_s = 900;     // short: a stolen access token is worth little
  std::int64_t idle_timeout_s = 1800;  // 30 min of no activity in any tab ends the session
  std::int64_t max_age_s = 604800;     // one week, whatever the activity
  std::int64_t warn_before_s = 60;     // session.expiring this long before idle expiry
  std::int64_t reuse_interval_s = 10;  // racing tabs' refresh grace (PROTOCOL §2 rule 2)
  std::int64_t clock_leeway_s = 5;     // tolerance on JWT exp/nbf/iat between machines

  // --- limits -------------------------------------------------------------------------
  std::int64_t max_body_bytes = 16384;     // every JSON body we accept is far smaller
  std::int64_t max_header_bytes = 16384;   // Beast's own default is 8 KiB; cookies need some room
  std::int64_t http_timeout_s = 30;        // a request must arrive whole within this (slowloris)
  std::int64_t login_rate_limit = 10;      // logins per minute per client address (0 = off)
  std::int64_t refresh_rate_limit = 120;   // refreshes per minute per client address (0 = off)
  std::int64_t drain_timeout_s = 10;       // SIGTERM waits this long for requests in flight
  std::string cookie_samesite = "Strict";  // the apps and the hub are one site

  // --- WebSocket (PROTOCOL §3) -------------------------------------------------------------
  std::int64_t auth_timeout_s = 5;             // a socket must say auth/resume/watch within this
  std::int64_t ping_interval_s = 20;           // keeps NATs and proxies from dropping idle sockets
  std::int64_t silent_timeout_s = 60;          // a peer silent this long (no pong either) is gone
  std::int64_t ws_max_frame_bytes = 4096;      // client frames are tiny JSON; 1009 beyond
  std::int64_t ws_queue_frames = 256;          // unsent frames per connection before 4009
  std::int64_t ws_queue_bytes = 262144;        // unsent bytes per connection before 4009
  std::int64_t ws_rate_limit = 20;             // client frames per second (burst twice that)
  std::int64_t ws_max_bad_frames = 3;          // malformed frames answered before a close
  std::int64_t max_connections_per_ip = 1000;  // one office behind NAT has many tabs
  std::int64_t ws_connect_rate_limit = 600;    // upgrades per minute per address
  std::int64_t max_connections_per_session = 100;  // tabs × micro-apps of one browser
  // A tab of a session that has tabs here authenticates against what they know: no store
  // read (session_timers::known); false: every auth and resume reads the store.
  bool ws_auth_known_sessions = true;
  std::int64_t activity_coalesce_ms = 5000;  // at most one idle slide per session per window

  // --- cluster ------------------------------------------------------------------------
  std::string replica_id;  // empty = host name + port
  std::string cluster_bind;
  std::vector<std::string> cluster_peers;
  std::int64_t cluster_heartbeat_ms = 1000;          // application + ZMTP heartbeat interval
  std::int64_t cluster_peer_timeout_ms = 3000;       // silence after which a peer is down
  std::int64_t cluster_recheck_s = 30;               // local sessions re-checked against the store
  std::int64_t cluster_hwm = 10000;                  // messages queued per peer link before drops
  std::int64_t cluster_max_message_bytes = 1 << 20;  // larger inbound messages are refused
  std::string cluster_curve_secret_file;  // shared CURVE secret: encrypt + authenticate links

  // --- back-channel logout (OIDC Back-Channel Logout 1.0) -------------------------------
  std::string backchannel_jwks;              // the IdP's JWKS file; none = receiver disabled (404)
  std::string backchannel_issuer;            // required with the JWKS: logout tokens' exact iss
  std::string backchannel_audience;          // required with the JWKS: our client id at the IdP
  std::int64_t backchannel_leeway_s = 30;    // another party's clock: a little more slack
  std::int64_t backchannel_max_age_s = 600;  // older tokens refused; bounds the jti memory
  std::int64_t backchannel_max_token_bytes = 8192;  // real logout tokens are ~1 KiB
  std::int64_t backchannel_rate_limit = 1200;       // requests per minute per address (0 = off)

  // --- operations ---------------------------------------------------------------------
  std::string log_level = "info";
};

// Parses flags, SESSIONHUB_* environment variables and the --config file. On --help prints
// the table and returns nullopt with exit_code 0; on an error prints it to stderr and
// returns nullopt with exit_code 2.
[[nodiscard]] std::optional<config> parse_config(int argc, const char* const* argv, int& exit_code);

}  // namespace shub
