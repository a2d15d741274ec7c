// handlers_backchannel: POST /v1/backchannel-logout, the receiver of OpenID Connect
// Back-Channel Logout 1.0 (PROTOCOL §2). The identity provider posts a form with one
// `logout_token`; no API key, the signed token is the credential. A valid token ends the
// sessions it names — those created with its `sid` as idp_sid (and, when it has a `sub`
// too, only that user's), or every session of its `sub` — with reason `backchannel`, and
// is answered 200 {"revoked":N}. Anything else is 400 invalid_request with the reason as
// error_description (§2.8), a replayed jti included; every answer carries no-store. The
// token's jti is recorded in the store before anything is revoked, so a replay is refused
// on every replica sharing the store.
#include "auth/backchannel.hpp"
#include "handlers.hpp"
#include "log.hpp"

namespace shub {

namespace {

// §2.8: OAuth 2.0's error members, inside the contract's problem+json.
http_response refused(std::string_view reason) {
  const std::string extra =
      "\"error\":\"invalid_request\",\"error_description\":\"" + std::string(reason) + "\"";
  return problem(http::status::bad_request, "invalid_request", reason, extra);
}

void log_refusal(const request_context& ctx, std::string_view reason) {
  log::warn("backchannel_logout_refused").str("ip", ctx.client_ip).str("reason", reason).emit();
}

// Whom a valid token named: its jti, and its sub and sid when it has them.
log::line& named(log::line& line, const auth::logout_claims& c) {
  line.str("jti", c.jti);
  if (!c.sub.empty()) line.str("sub", c.sub);
  if (!c.sid.empty()) line.str("idp_sid", c.sid);
  return line;
}

// The keys, re-read when the file changed; a reload or a refused new file is logged here.
std::shared_ptr<const auth::key_set> current_keys(hub_state& hub) {
  auth::jwks_file::change what;
  auto keys = hub.backchannel_keys->keys(std::chrono::steady_clock::now(), what);
  if (what.what == auth::jwks_file::change::kind::loaded) {
    log::info("backchannel_jwks_loaded")
        .str("path", hub.backchannel_keys->path())
        .num("keys", static_cast<std::int64_t>(what.keys))
        .str("skipped", what.detail)
        .emit();
  } else if (what.what == auth::jwks_file::change::kind::failed) {
    log::error("backchannel_jwks_refused")
        .str("path", hub.backchannel_keys->path())
        .str("error", what.detail)
        .str("detail", "the previous keys stay in use")
        .emit();
  }
  return keys;
}

http_response backchannel_logout(hub_state& hub, request_context& ctx) {
  if (!hub.backchannel_keys) {
    return problem(http::status::not_found, "not_found",
                   "back-channel logout is disabled: no --backchannel-jwks");
  }
  if (const auto wait = hub.backchannel_limiter.acquire(ctx.client_ip, hub.clock.now_ms())) {
    hub.stats.http_rate_limited.add();
    log::warn("backchannel_logout_rate_limited").str("ip", ctx.client_ip).emit();
    http_response res = problem(http::status::too_many_requests, "rate_limited",
                                "too many back-channel logouts from this address; retry later");
    res.set(http::field::retry_after, std::to_string(wait));
    return res;
  }
  if (!has_media_type(ctx.req, "application/x-www-form-urlencoded")) {
    log_refusal(ctx, "content_type");
    return refused("content_type");
  }
  const auto form = parse_form(ctx.req.body());
  if (!form) {
    log_refusal(ctx, "bad_form");
    return refused("bad_form");
  }
  const std::string* token = nullptr;
  for (const auto& f : *form) {
    if (f.name != "logout_token") continue;
    if (token) {  // RFC 6749 §3.1: a parameter must not be repeated
      log_refusal(ctx, "repeated_logout_token");
      return refused("repeated_logout_token");
    }
    token = &f.value;
  }
  if (!token || token->empty()) {
    log_refusal(ctx, "missing_logout_token");
    return refused("missing_logout_token");
  }

  const auto keys = current_keys(hub);
  auth::logout_token_expectations expect;
  expect.issuer = hub.cfg.backchannel_issuer;
  expect.audience = hub.cfg.backchannel_audience;
  expect.now_s = hub.clock.now_s();
  expect.leeway_s = hub.cfg.backchannel_leeway_s;
  expect.max_age_s = hub.cfg.backchannel_max_age_s;
  expect.max_token_bytes = static_cast<std::size_t>(hub.cfg.backchannel_max_token_bytes);
  const auto v = auth::verify_logout_token(*token, *keys, expect);
  if (!v.ok()) {
    log_refusal(ctx, auth::to_string(v.error));
    return refused(auth::to_string(v.error));
  }
  const auth::logout_claims& c = v.claims;

  const auto fresh =
      hub.store->remember_jti(c.replay_key(), c.remember_until_ms, hub.clock.now_ms());
  if (!fresh.ok()) return store_unavailable();
  if (!fresh.value) {
    auto line = log::warn("backchannel_logout_refused");
    named(line.str("ip", ctx.client_ip).str("reason", "replayed"), c).emit();
    return refused("replayed");
  }

  // sid names sessions; sub alone names the user; both: that user's sessions with that sid.
  const auto out = c.sid.empty() ? hub.service.revoke_user(c.sub, "backchannel")
                                 : hub.service.revoke_idp_sid(c.sid, "backchannel", c.sub);
  hub.announce_logouts(out.ended, c.sid.empty() ? "user" : "session");
  const auto revoked = static_cast<std::int64_t>(out.ended.size());
  if (out.why == auth::denial::unavailable) {
    // The jti is recorded: a retry of this token is refused as a replay (README).
    auto line = log::error("backchannel_logout_failed");
    named(line, c).num("revoked", revoked).str("error", "store_unavailable").emit();
    return store_unavailable();
  }
  auto line = log::info("backchannel_logout");
  named(line, c).str("kid", c.kid).num("revoked", revoked).emit();
  for (const auto& s : out.ended) {
    log::info("logout").str("sid", s.sid).str("sub", s.sub).str("reason", "backchannel").emit();
  }
  return json_response(http::status::ok, "{\"revoked\":" + std::to_string(out.ended.size()) + "}");
}

}  // namespace

void add_backchannel_routes(router& r, hub_state& hub) {
  r.add(http::verb::post, "/v1/backchannel-logout", run_on::pool,
        [&hub](request_context& ctx) { return backchannel_logout(hub, ctx); });
}

}  // namespace shub
