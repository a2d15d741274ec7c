// handlers_token: the browser-facing token endpoints of PROTOCOL §2 — login (dev identity
// provider), refresh (the rotation rules), validate and extend (Bearer access token) and
// logout (access token or refresh cookie). Every outcome is logged with sid/sub, never a
// token; refusals are problem+json with the contract's codes.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "handlers.hpp"
#include "log.hpp"

namespace shub {

namespace {

using auth::denial;

http_response rate_limited(std::int64_t retry_after_s) {
  http_response res = problem(http::status::too_many_requests, "rate_limited",
                              "too many attempts from this address; retry later");
  res.set(http::field::retry_after, std::to_string(retry_after_s));
  return res;
}

// 401 of /v1/validate and /v1/extend: problem+json that is also {"active":false,"code"}.
http_response bearer_refused(const auth::session_outcome& out) {
  if (out.why == denial::unavailable) return store_unavailable();
  std::string_view code = "session_revoked";
  if (out.why == denial::token_expired) code = "token_expired";
  if (out.why == denial::token_invalid) code = "token_invalid";
  http_response res = problem(http::status::unauthorized, code, {}, "\"active\":false");
  res.set(http::field::www_authenticate,
          "Bearer error=\"invalid_token\", error_description=\"" + std::string(code) + "\"");
  return res;
}

void log_bearer_refusal(const request_context& ctx, const auth::session_outcome& out) {
  log::info("auth_failed")
      .str("path", ctx.path)
      .str("ip", ctx.client_ip)
      .str("reason", out.token_error != auth::jwt_error::none ? auth::to_string(out.token_error)
                                                              : auth::to_string(out.why))
      .str("sid", out.s.sid)
      .emit();
}

cookie_policy cookies_for(const hub_state& hub, const request_context& ctx) {
  cookie_policy p = hub.cookies;
  p.secure = ctx.cookie_secure;
  return p;
}

std::string_view request_cookie(const request_context& ctx, std::string_view name) {
  const auto it = ctx.req.find(http::field::cookie);
  if (it == ctx.req.end()) return {};
  return cookie_value(it->value(), name).value_or(std::string_view{});
}

void set_refresh_cookies(http_response& res, const cookie_policy& p, std::string_view token,
                         std::int64_t max_age_s) {
  for (const auto& c : refresh_cookies(p, token, max_age_s))
    res.insert(http::field::set_cookie, c);
}

// The device id of this browser: its shub_did cookie when it has a sane one; otherwise
// `fallback` (a session's own device), else a fresh one. `fresh` tells whether to set it.
std::string device_of(const request_context& ctx, std::string_view fallback, bool& fresh) {
  const std::string_view did = request_cookie(ctx, device_cookie);
  fresh = !plausible_device_id(did);
  if (!fresh) return std::string(did);
  return fallback.empty() ? auth::session_service::new_id() : std::string(fallback);
}

// Sets shub_did when the request did not carry a sane one.
void give_device_cookie(http_response& res, const request_context& ctx, const cookie_policy& p,
                        std::string_view session_device) {
  bool fresh = false;
  const std::string did = device_of(ctx, session_device, fresh);
  if (fresh) res.insert(http::field::set_cookie, device_set_cookie(p, did));
}

http_response token_success(hub_state& hub, const request_context& ctx,
                            const auth::session_outcome& out, bool body_delivery,
                            http::status status = http::status::ok) {
  http_response res = json_response(status, token_response_body(out, body_delivery));
  const std::int64_t remaining_s = (out.s.expires_at - hub.clock.now_ms()) / 1000;
  set_refresh_cookies(res, cookies_for(hub, ctx), out.tokens.refresh_token, remaining_s);
  return res;
}

bool wants_body_delivery(const rapidjson::Value& body) {
  return string_member(body, "token_delivery").value_or("") == "body";
}

http_response login(hub_state& hub, request_context& ctx) {
  if (!hub.users) {
    return problem(http::status::not_found, "not_found", "login is disabled: no --users-file");
  }
  if (const auto wait = hub.login_limiter.acquire(ctx.client_ip, hub.clock.now_ms())) {
    hub.stats.http_rate_limited.add();
    log::warn("login_rate_limited").str("ip", ctx.client_ip).emit();
    return rate_limited(wait);
  }
  std::string error;
  const auto body = parse_json_object(ctx.req.body(), error);
  if (!body) return problem(http::status::bad_request, "invalid_request", error);
  const auto username = string_member(*body, "username");
  const auto password = string_member(*body, "password");
  if (!username || !password || username->empty() || username->size() > 256 ||
      password->size() > 1024) {
    return problem(http::status::bad_request, "invalid_request",
                   "username and password must be strings");
  }
  if (!hub.users->verify(*username, *password)) {
    hub.stats.logins_failed.add();
    log::warn("login_failed").str("sub", *username).str("ip", ctx.client_ip).emit();
    return problem(http::status::unauthorized, "invalid_credentials");
  }
  bool fresh_device = false;
  auth::create_request create;
  create.sub = std::string(*username);
  create.amr_json = "[\"pwd\"]";
  create.device_id = device_of(ctx, {}, fresh_device);
  const auto out = hub.service.create(create);
  if (!out.ok()) return store_unavailable();
  hub.stats.logins_ok.add();
  log::info("login").str("sid", out.s.sid).str("sub", out.s.sub).str("ip", ctx.client_ip).emit();
  hub.announce(out.s, login_event(out.s));
  http_response res = token_success(hub, ctx, out, wants_body_delivery(*body));
  if (fresh_device) {
    res.insert(http::field::set_cookie, device_set_cookie(cookies_for(hub, ctx), out.s.device_id));
  }
  return res;
}

http_response refresh(hub_state& hub, request_context& ctx) {
  if (const auto wait = hub.refresh_limiter.acquire(ctx.client_ip, hub.clock.now_ms())) {
    hub.stats.http_rate_limited.add();
    log::warn("refresh_rate_limited").str("ip", ctx.client_ip).emit();
    return rate_limited(wait);
  }
  std::string error;
  const auto body = parse_json_object(ctx.req.body(), error, true);
  if (!body) return problem(http::status::bad_request, "invalid_request", error);
  const auto from_body = string_member(*body, "refresh_token");
  const std::string_view token = from_body ? *from_body : request_cookie(ctx, refresh_cookie);
  const cookie_policy cookies = cookies_for(hub, ctx);
  if (token.empty()) {
    // A tab with no session asks here first: it gets its device id now, so every tab of
    // the browser watches the same device channel before anyone logs in.
    hub.stats.refresh_failed.add();
    http_response res =
        problem(http::status::unauthorized, "invalid_grant", "no refresh token presented");
    give_device_cookie(res, ctx, cookies, {});
    return res;
  }

  const auto out = hub.service.refresh(token);
  if (out.why == denial::unavailable) return store_unavailable();
  // Reuse revokes the session; an expired one ends here too: every tab hears it.
  if (out.ended_now) hub.announce(out.s, logout_event(out.s, "session"));
  if (!out.ok()) {
    if (out.why == denial::reused) {
      hub.stats.refresh_reused.add();
      log::warn("refresh_token_reuse")
          .str("sid", out.s.sid)
          .str("sub", out.s.sub)
          .str("ip", ctx.client_ip)
          .emit();
    } else {
      hub.stats.refresh_failed.add();
      log::info("refresh_failed")
          .str("reason", auth::to_string(out.why))
          .str("sid", out.s.sid)
          .str("ip", ctx.client_ip)
          .emit();
    }
    // The dead cookie is left alone: clearing it here could erase the cookie a login in
    // another tab set a moment ago, when the two responses cross. A dead token is inert.
    http_response res = problem(http::status::unauthorized, "invalid_grant",
                                "the refresh token is unknown, expired, revoked or reused");
    give_device_cookie(res, ctx, cookies, out.s.device_id);
    return res;
  }
  hub.stats.refresh_ok.add();
  log::info("refresh")
      .str("sid", out.s.sid)
      .str("sub", out.s.sub)
      .flag("rotated", out.rotated)
      .emit();
  if (out.rotated) {  // rule 2's repeat of the same pair changes nothing to announce
    hub.announce(out.s, refreshed_event(out.s, out.tokens.expires_in));
    hub.publish(extended_event(out.s));  // rule 5 slid the idle expiry
  }
  // A client that sent the token in the body reads it from the body.
  http_response res = token_success(hub, ctx, out, from_body || wants_body_delivery(*body));
  give_device_cookie(res, ctx, cookies, out.s.device_id);
  return res;
}

// Validates the request's Bearer token; on refusal `refused` holds the answer.
auth::session_outcome authenticate(hub_state& hub, request_context& ctx,
                                   std::optional<http_response>& refused) {
  const std::string_view token = bearer_token(ctx.req);
  auth::session_outcome out;
  if (token.empty()) {
    out.why = denial::token_invalid;
  } else {
    out = hub.service.validate(token);
    if (out.ended_now) hub.announce(out.s, logout_event(out.s, "session"));
  }
  if (!out.ok()) {
    hub.stats.validations_failed.add();
    log_bearer_refusal(ctx, out);
    refused = bearer_refused(out);
  } else {
    hub.stats.validations_ok.add();
  }
  return out;
}

http_response validate(hub_state& hub, request_context& ctx) {
  std::optional<http_response> refused;
  const auto out = authenticate(hub, ctx, refused);
  if (refused) return std::move(*refused);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("active");
  w.Bool(true);
  w.Key("sub");
  w.String(out.s.sub);
  w.Key("sid");
  w.String(out.s.sid);
  w.Key("exp");
  w.Int64(out.token_exp);
  w.Key("idle_expires_at");
  w.Int64(out.s.idle_expires_at);
  w.Key("expires_at");
  w.Int64(out.s.expires_at);
  w.Key("version");
  w.Uint64(out.s.version);
  w.EndObject();
  return json_response(http::status::ok, std::string(buf.GetString(), buf.GetSize()));
}

http_response extend(hub_state& hub, request_context& ctx) {
  std::optional<http_response> refused;
  const auto who = authenticate(hub, ctx, refused);
  if (refused) return std::move(*refused);
  const auto out = hub.service.extend(who.s.sid);
  if (out.ended_now) hub.announce(out.s, logout_event(out.s, "session"));
  if (!out.ok()) return bearer_refused(out);
  hub.announce(out.s, extended_event(out.s));
  log::debug("extend").str("sid", out.s.sid).num("idle_expires_at", out.s.idle_expires_at).emit();
  return json_response(http::status::ok,
                       "{\"idle_expires_at\":" + std::to_string(out.s.idle_expires_at) +
                           ",\"version\":" + std::to_string(out.s.version) + "}");
}

http_response logout(hub_state& hub, request_context& ctx) {
  std::string error;
  const auto body = parse_json_object(ctx.req.body(), error, true);
  if (!body) return problem(http::status::bad_request, "invalid_request", error);
  const std::string_view scope = string_member(*body, "scope").value_or("session");
  if (scope != "session" && scope != "user" && scope != "device") {
    return problem(http::status::bad_request, "invalid_request",
                   "scope must be session, user or device");
  }

  // Who is logging out: the Bearer access token, else the refresh cookie.
  auth::session_outcome who;
  std::optional<http_response> refused;
  if (!bearer_token(ctx.req).empty()) {
    who = authenticate(hub, ctx, refused);
    if (refused) return std::move(*refused);
  } else if (const auto rt = request_cookie(ctx, refresh_cookie); !rt.empty()) {
    who = hub.service.identify_refresh(rt);
    if (who.why == denial::unavailable) return store_unavailable();
    if (!who.ok()) {
      log::info("auth_failed").str("path", ctx.path).str("reason", auth::to_string(who.why)).emit();
      http_response res = problem(http::status::unauthorized, "invalid_grant");
      set_refresh_cookies(res, cookies_for(hub, ctx), {}, 0);
      return res;
    }
  } else {
    who.why = denial::token_invalid;
    log_bearer_refusal(ctx, who);
    return bearer_refused(who);
  }

  const auto out = hub.service.revoke_scope(who.s, scope, "user_logout");
  hub.announce_logouts(out.ended, scope);
  if (out.why == denial::unavailable) return store_unavailable();
  const std::size_t ended = out.ended.size();
  hub.stats.logouts.add();
  log::info("logout")
      .str("sid", who.s.sid)
      .str("sub", who.s.sub)
      .str("scope", scope)
      .num("sessions", static_cast<std::int64_t>(ended))
      .emit();
  http_response res = no_content();
  set_refresh_cookies(res, cookies_for(hub, ctx), {}, 0);
  return res;
}

}  // namespace

std::string token_response_body(const auth::session_outcome& out, bool with_refresh_token) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("access_token");
  w.String(out.tokens.access_token);
  w.Key("token_type");
  w.String("Bearer");
  w.Key("expires_in");
  w.Int64(out.tokens.expires_in);
  if (with_refresh_token) {
    w.Key("refresh_token");
    w.String(out.tokens.refresh_token);
  }
  w.Key("session");
  w.StartObject();
  w.Key("sid");
  w.String(out.s.sid);
  w.Key("sub");
  w.String(out.s.sub);
  w.Key("expires_at");
  w.Int64(out.s.expires_at);
  w.Key("idle_expires_at");
  w.Int64(out.s.idle_expires_at);
  w.Key("version");
  w.Uint64(out.s.version);
  w.EndObject();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void add_token_routes(router& r, hub_state& hub) {
  auto bind = [&hub](http_response (*fn)(hub_state&, request_context&)) {
    return [&hub, fn](request_context& ctx) { return fn(hub, ctx); };
  };
  r.add(http::verb::post, "/v1/login", run_on::pool, bind(login));
  r.add(http::verb::post, "/v1/refresh", run_on::pool, bind(refresh));
  r.add(http::verb::get, "/v1/validate", run_on::pool, bind(validate));
  r.add(http::verb::post, "/v1/extend", run_on::pool, bind(extend));
  r.add(http::verb::post, "/v1/logout", run_on::pool, bind(logout));
}

}  // namespace shub
