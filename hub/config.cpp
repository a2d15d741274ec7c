// config: the options table on Boost.Program_options. The table below is the single
// description of every option; --help prints it, and the defaults come from `config`'s
// member initialisers so they are written once.
#include "config.hpp"

#include <cctype>
#include <fstream>
#include <iostream>

#include <boost/program_options.hpp>

#include "auth/redis_store.hpp"

namespace shub {

namespace po = boost::program_options;

namespace {

template <class T>
po::typed_value<T>* with_default(T* field) {
  return po::value<T>(field)->default_value(*field);
}

po::typed_value<std::vector<std::string>>* repeatable(std::vector<std::string>* field) {
  return po::value<std::vector<std::string>>(field);
}

po::options_description describe(config& c, std::string& config_file) {
  po::options_description d("sessionhub options (flag, SESSIONHUB_<NAME> env, config file key)");
  // clang-format off
  d.add_options()
    ("help,h", "print this table and exit")
    ("config", po::value<std::string>(&config_file), "config file of `name = value` lines")
    ("listen", with_default(&c.listen), "HTTP + WebSocket listener host:port (port 0 picks one)")
    ("threads", with_default(&c.threads), "worker threads (0 = number of cores)")
    ("tls-cert", with_default(&c.tls_cert), "PEM certificate chain: serve HTTPS/WSS")
    ("tls-key", with_default(&c.tls_key), "PEM private key of --tls-cert (SIGHUP re-reads both)")
    ("tls-handshake-timeout-s", with_default(&c.tls_handshake_timeout_s),
     "TLS: close a connection whose handshake has not ended by then")
    ("allowed-origin", repeatable(&c.allowed_origins),
     "allowed browser origin (repeatable; '*' only for development)")
    ("store", with_default(&c.store),
     "sqlite:<path> (sqlite::memory: allowed), redis://[[user]:password@]host:port[/db] or "
     "redis+unix://[[user]:password@]/path/to/redis.sock[?db=N]")
    ("store-threads", with_default(&c.store_threads), "threads for blocking store work")
    ("malloc-arenas", with_default(&c.malloc_arenas),
     "glibc malloc arenas shared by all threads (0 = glibc's default, 8 per core)")
    ("token-cache-entries", with_default(&c.token_cache_entries),
     "verified access tokens remembered until they expire, so tabs sharing one skip the "
     "signature check (0 = off)")
    ("redis-timeout-ms", with_default(&c.redis_timeout_ms),
     "Redis store: connect and command timeout; past it a call fails closed (503)")
    ("redis-pool", with_default(&c.redis_pool), "Redis store: connections (0 = --store-threads + 4)")
    ("api-key", repeatable(&c.api_keys), "server API key (repeatable; none = API disabled)")
    ("users-file", with_default(&c.users_file),
     "dev identity provider: username:scrypt-hash lines (none = /v1/login disabled)")
    ("signing-key", with_default(&c.signing_key),
     "PEM private key; its type picks the algorithm (none = generated beside the store)")
    ("previous-signing-key", with_default(&c.previous_signing_key),
     "PEM key of the previous rotation: still in the JWKS and still accepted")
    ("signing-alg", with_default(&c.signing_alg), "algorithm of a generated key: ES256, EdDSA, RS256")
    ("hs256-secret-file", with_default(&c.hs256_secret_file),
     "sign with HS256 using this secret (>= 32 bytes); explicit opt-in only")
    ("issuer", with_default(&c.issuer), "iss of access tokens")
    ("audience", with_default(&c.audience), "aud of access tokens")
    ("access-ttl-s", with_default(&c.access_ttl_s), "access token lifetime, seconds")
    ("idle-timeout-s", with_default(&c.idle_timeout_s), "sliding idle timeout of a session, seconds")
    ("max-age-s", with_default(&c.max_age_s), "absolute session lifetime, seconds")
    ("warn-before-s", with_default(&c.warn_before_s), "session.expiring this long before idle expiry")
    ("reuse-interval-s", with_default(&c.reuse_interval_s), "refresh-token reuse grace, seconds")
    ("clock-leeway-s", with_default(&c.clock_leeway_s), "leeway on JWT exp/nbf/iat, seconds")
    ("max-body-bytes", with_default(&c.max_body_bytes), "largest request body (413 beyond)")
    ("max-header-bytes", with_default(&c.max_header_bytes), "largest request header block")
    ("http-timeout-s", with_default(&c.http_timeout_s), "time to receive one whole HTTP request")
    ("login-rate-limit", with_default(&c.login_rate_limit),
     "logins per minute per client address (0 = unlimited)")
    ("refresh-rate-limit", with_default(&c.refresh_rate_limit),
     "refreshes per minute per client address (0 = unlimited)")
    ("drain-timeout-s", with_default(&c.drain_timeout_s), "SIGTERM: wait for requests in flight")
    ("cookie-samesite", with_default(&c.cookie_samesite), "SameSite of cookies: Strict, Lax or None")
    ("auth-timeout-s", with_default(&c.auth_timeout_s), "WebSocket: close 4008 without auth/resume/watch by then")
    ("ping-interval-s", with_default(&c.ping_interval_s), "WebSocket: ping period")
    ("silent-timeout-s", with_default(&c.silent_timeout_s), "WebSocket: close a peer silent this long")
    ("ws-max-frame-bytes", with_default(&c.ws_max_frame_bytes), "WebSocket: largest client frame (1009 beyond)")
    ("ws-queue-frames", with_default(&c.ws_queue_frames), "WebSocket: unsent frames before a 4009 close")
    ("ws-queue-bytes", with_default(&c.ws_queue_bytes), "WebSocket: unsent bytes before a 4009 close")
    ("ws-rate-limit", with_default(&c.ws_rate_limit), "WebSocket: client frames per second (burst x2)")
    ("ws-max-bad-frames", with_default(&c.ws_max_bad_frames), "WebSocket: malformed frames before a close")
    ("max-connections-per-ip", with_default(&c.max_connections_per_ip), "WebSocket connections per client address")
    ("ws-connect-rate-limit", with_default(&c.ws_connect_rate_limit), "WebSocket upgrades per minute per address")
    ("max-connections-per-session", with_default(&c.max_connections_per_session), "WebSocket connections per session")
    ("ws-auth-known-sessions", with_default(&c.ws_auth_known_sessions),
     "WebSocket: a tab of a session that already has tabs on this replica authenticates "
     "against what they know, with a token verified before, without reading the store "
     "(false: every auth reads it)")
    ("activity-coalesce-ms", with_default(&c.activity_coalesce_ms), "at most one idle slide per session per window")
    ("replica-id", with_default(&c.replica_id), "replica name (empty = host name + port)")
    ("cluster-bind", with_default(&c.cluster_bind), "ZeroMQ PUB endpoint, e.g. tcp://127.0.0.1:5601")
    ("cluster-peer", repeatable(&c.cluster_peers), "a peer's PUB endpoint (repeatable)")
    ("cluster-heartbeat-ms", with_default(&c.cluster_heartbeat_ms), "heartbeat interval on replica links")
    ("cluster-peer-timeout-ms", with_default(&c.cluster_peer_timeout_ms), "a peer silent this long is down (link dropped)")
    ("cluster-recheck-s", with_default(&c.cluster_recheck_s), "re-check local sessions against the store this often")
    ("cluster-hwm", with_default(&c.cluster_hwm), "messages queued per replica link before it drops")
    ("cluster-max-message-bytes", with_default(&c.cluster_max_message_bytes), "largest message accepted from a peer")
    ("cluster-curve-secret-file", with_default(&c.cluster_curve_secret_file), "Z85 CURVE secret shared by all replicas (sessionhub generate-cluster-key)")
    ("backchannel-jwks", with_default(&c.backchannel_jwks),
     "JWKS file of the identity provider: POST /v1/backchannel-logout accepts its logout "
     "tokens (none = receiver disabled, 404); re-read when it changes")
    ("backchannel-issuer", with_default(&c.backchannel_issuer),
     "exact iss of logout tokens (required with --backchannel-jwks)")
    ("backchannel-audience", with_default(&c.backchannel_audience),
     "aud logout tokens must hold: this hub's client id at the identity provider (required "
     "with --backchannel-jwks)")
    ("backchannel-leeway-s", with_default(&c.backchannel_leeway_s),
     "leeway on logout tokens' iat/exp/nbf, seconds")
    ("backchannel-max-age-s", with_default(&c.backchannel_max_age_s),
     "logout tokens issued longer ago are refused; a jti is remembered at most this long")
    ("backchannel-max-token-bytes", with_default(&c.backchannel_max_token_bytes),
     "largest logout token accepted (400 beyond)")
    ("backchannel-rate-limit", with_default(&c.backchannel_rate_limit),
     "back-channel logout requests per minute per client address (0 = unlimited)")
    ("log-level", with_default(&c.log_level), "debug, info, warn or error");
  // clang-format on
  return d;
}

std::string env_to_option(const std::string& env, const po::options_description& d) {
  static const std::string prefix = "SESSIONHUB_";
  if (env.rfind(prefix, 0) != 0) return {};
  if (env == prefix + "HELP") return {};
  std::string name;
  for (char ch : env.substr(prefix.size())) {
    name += ch == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  // Unknown SESSIONHUB_* variables are ignored rather than fatal: environments carry extras.
  return d.find_nothrow(name, false) ? name : std::string{};
}

std::string validate(const config& c) {
  if (c.access_ttl_s <= 0 || c.idle_timeout_s <= 0 || c.max_age_s <= 0)
    return "--access-ttl-s, --idle-timeout-s and --max-age-s must be positive";
  if (c.warn_before_s < 0 || c.reuse_interval_s < 0 || c.clock_leeway_s < 0)
    return "--warn-before-s, --reuse-interval-s and --clock-leeway-s must not be negative";
  if (c.max_body_bytes < 64 || c.max_header_bytes < 1024)
    return "--max-body-bytes must be >= 64 and --max-header-bytes >= 1024";
  if (c.threads < 0 || c.store_threads < 1) return "--threads >= 0 and --store-threads >= 1";
  if (c.malloc_arenas < 0) return "--malloc-arenas must be >= 0";
  if (c.token_cache_entries < 0) return "--token-cache-entries must be >= 0";
  if (c.redis_timeout_ms < 1 || c.redis_pool < 0)
    return "--redis-timeout-ms must be positive and --redis-pool >= 0";
  if (c.login_rate_limit < 0 || c.refresh_rate_limit < 0) return "rate limits must be >= 0";
  if (c.http_timeout_s <= 0 || c.drain_timeout_s < 0) return "timeouts must be positive";
  if (c.auth_timeout_s <= 0 || c.ping_interval_s <= 0 || c.silent_timeout_s <= c.ping_interval_s)
    return "--auth-timeout-s and --ping-interval-s must be positive, --silent-timeout-s larger";
  if (c.ws_max_frame_bytes < 256 || c.ws_queue_frames < 1 || c.ws_queue_bytes < 1024 ||
      c.ws_rate_limit < 1 || c.ws_max_bad_frames < 1 || c.max_connections_per_ip < 1 ||
      c.ws_connect_rate_limit < 0 || c.max_connections_per_session < 1 ||
      c.activity_coalesce_ms < 0)
    return "WebSocket limits must be positive";
  if (c.cookie_samesite != "Strict" && c.cookie_samesite != "Lax" && c.cookie_samesite != "None")
    return "--cookie-samesite must be Strict, Lax or None";
  if (c.tls_cert.empty() != c.tls_key.empty()) return "--tls-cert and --tls-key go together";
  if (c.tls_handshake_timeout_s < 1) return "--tls-handshake-timeout-s must be positive";
  if (c.cluster_heartbeat_ms < 10 || c.cluster_peer_timeout_ms <= c.cluster_heartbeat_ms ||
      c.cluster_recheck_s < 1 || c.cluster_hwm < 1 || c.cluster_max_message_bytes < 1024)
    return "cluster limits: --cluster-heartbeat-ms >= 10, --cluster-peer-timeout-ms larger, "
           "--cluster-recheck-s and --cluster-hwm >= 1, --cluster-max-message-bytes >= 1024";
  if (!c.cluster_peers.empty() && c.cluster_bind.empty())
    return "--cluster-peer needs --cluster-bind (peers subscribe to this replica too)";
  if (!c.backchannel_jwks.empty() &&
      (c.backchannel_issuer.empty() || c.backchannel_audience.empty()))
    return "--backchannel-jwks needs --backchannel-issuer and --backchannel-audience (a logout "
           "token's iss and aud are always checked)";
  if (c.backchannel_jwks.empty() &&
      (!c.backchannel_issuer.empty() || !c.backchannel_audience.empty()))
    return "--backchannel-issuer and --backchannel-audience need --backchannel-jwks";
  if (c.backchannel_leeway_s < 0 || c.backchannel_max_age_s < 1 ||
      c.backchannel_max_token_bytes < 256 || c.backchannel_rate_limit < 0)
    return "back-channel limits: --backchannel-leeway-s >= 0, --backchannel-max-age-s >= 1, "
           "--backchannel-max-token-bytes >= 256, --backchannel-rate-limit >= 0";
  if (c.store.rfind("sqlite:", 0) != 0 && !auth::redis_options::is_url(c.store))
    return "--store must be sqlite:<path>, redis://host:port[/db] or "
           "redis+unix:///path/to/redis.sock[?db=N]";
  return {};
}

}  // namespace

std::optional<config> parse_config(int argc, const char* const* argv, int& exit_code) {
  config c;
  std::string config_file;
  const po::options_description d = describe(c, config_file);
  try {
    po::variables_map vm;
    // The first source to set an option wins: flags, then environment, then file.
    po::store(po::parse_command_line(argc, argv, d), vm);
    po::store(
        po::parse_environment(d, [&d](const std::string& env) { return env_to_option(env, d); }),
        vm);
    if (vm.count("help")) {
      std::cout << "usage: sessionhub [options]\n       sessionhub hash-password < password\n"
                   "       sessionhub generate-key [ES256|EdDSA|RS256] > key.pem\n"
                   "       sessionhub generate-cluster-key > cluster.key\n\n"
                << d << "\n";
      exit_code = 0;
      return std::nullopt;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw std::runtime_error("cannot read config file " + path);
      po::store(po::parse_config_file(in, d), vm);
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "sessionhub: " << e.what() << " (see --help)\n";
    exit_code = 2;
    return std::nullopt;
  }
  if (const std::string err = validate(c); !err.empty()) {
    std::cerr << "sessionhub: " << err << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  return c;
}

}  // namespace shub
