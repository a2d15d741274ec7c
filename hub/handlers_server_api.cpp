// handlers_server_api: the endpoints for application backends and operators (PROTOCOL §2
// "Server API", §5): session creation and listing, admin revocation, stats and metrics.
// Every one needs `Authorization: Bearer <api key>`, checked in constant time.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fanout.hpp"
#include "handlers.hpp"
#include "log.hpp"

namespace shub {

namespace {

using auth::denial;

constexpr std::size_t max_id_chars = 256;  // sub, idp_sid, device_id

http_response bad_request(std::string_view detail) {
  return problem(http::status::bad_request, "invalid_request", detail);
}

// Wraps a handler so it first checks the API key.
handler_fn with_api_key(hub_state& hub, http_response (*fn)(hub_state&, request_context&)) {
  return [&hub, fn](request_context& ctx) {
    if (!hub.api_key_ok(ctx.req)) {
      log::warn("auth_failed")
          .str("path", ctx.path)
          .str("ip", ctx.client_ip)
          .str("reason", "invalid_api_key")
          .emit();
      http_response res = problem(http::status::unauthorized, "invalid_api_key");
      res.set(http::field::www_authenticate, "Bearer realm=\"sessionhub-server-api\"");
      return res;
    }
    return fn(hub, ctx);
  };
}

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// An optional string member: absent is fine, present must be a short string.
bool optional_id(const rapidjson::Value& body, const char* name, std::string& out,
                 std::string& error) {
  const auto it = body.FindMember(name);
  if (it == body.MemberEnd() || it->value.IsNull()) return true;
  if (!it->value.IsString() || it->value.GetStringLength() > max_id_chars) {
    error = std::string(name) + " must be a string of at most 256 bytes";
    return false;
  }
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return true;
}

bool optional_seconds(const rapidjson::Value& body, const char* name, std::int64_t& out,
                      std::string& error) {
  const auto it = body.FindMember(name);
  if (it == body.MemberEnd() || it->value.IsNull()) return true;
  if (!it->value.IsInt64() || it->value.GetInt64() <= 0 ||
      it->value.GetInt64() > 10LL * 365 * 86400) {
    error = std::string(name) + " must be a positive whole number of seconds";
    return false;
  }
  out = it->value.GetInt64();
  return true;
}

http_response create_session(hub_state& hub, request_context& ctx) {
  std::string error;
  const auto body = parse_json_object(ctx.req.body(), error);
  if (!body) return bad_request(error);
  auth::create_request req;
  const auto sub = string_member(*body, "sub");
  if (!sub || sub->empty() || sub->size() > max_id_chars) {
    return bad_request("sub must be a non-empty string of at most 256 bytes");
  }
  req.sub = std::string(*sub);
  if (const auto it = body->FindMember("claims"); it != body->MemberEnd()) {
    if (!it->value.IsObject()) return bad_request("claims must be an object");
    for (const auto& m : it->value.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (auth::is_registered_claim(name)) {
        return bad_request("claims must not set the registered claim " + std::string(name));
      }
    }
    req.claims_json = to_json(it->value);
  }
  if (const auto it = body->FindMember("amr"); it != body->MemberEnd()) {
    bool ok = it->value.IsArray();
    if (ok) {
      for (const auto& v : it->value.GetArray())
        ok = ok && v.IsString();
    }
    if (!ok) return bad_request("amr must be an array of strings");
    req.amr_json = to_json(it->value);
  }
  if (!optional_id(*body, "idp_sid", req.idp_sid, error) ||
      !optional_id(*body, "device_id", req.device_id, error) ||
      !optional_seconds(*body, "idle_timeout_s", req.idle_timeout_s, error) ||
      !optional_seconds(*body, "max_age_s", req.max_age_s, error)) {
    return bad_request(error);
  }
  const auto out = hub.service.create(req);
  if (!out.ok()) return store_unavailable();
  hub.stats.logins_ok.add();
  log::info("login").str("sid", out.s.sid).str("sub", out.s.sub).str("via", "server_api").emit();
  hub.announce(out.s, login_event(out.s));
  return json_response(http::status::created, token_response_body(out, true));
}

http_response list_sessions(hub_state& hub, request_context& ctx) {
  const auto sub = query_param(ctx.query, "sub");
  if (!sub || sub->empty()) return bad_request("the sub query parameter is required");
  const auto listed = hub.service.list(*sub);
  if (!listed.ok()) return store_unavailable();
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("sessions");
  w.StartArray();
  for (const auto& s : listed.value) {
    w.StartObject();
    w.Key("sid");
    w.String(s.sid);
    w.Key("sub");
    w.String(s.sub);
    w.Key("created_at");
    w.Int64(s.created_at);
    w.Key("idle_expires_at");
    w.Int64(s.idle_expires_at);
    w.Key("expires_at");
    w.Int64(s.expires_at);
    w.Key("version");
    w.Uint64(s.version);
    w.Key("connections");
    w.Int64(hub.timers.connections(s.sid));
    w.Key("device_id");
    if (s.device_id.empty()) {
      w.Null();
    } else {
      w.String(s.device_id);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return json_response(http::status::ok, std::string(buf.GetString(), buf.GetSize()));
}

http_response delete_session(hub_state& hub, request_context& ctx) {
  const std::string& sid = ctx.params.at(0);
  const auto out = hub.service.revoke(sid, "admin");
  if (out.why == denial::unavailable) return store_unavailable();
  if (out.why == denial::unknown)
    return problem(http::status::not_found, "not_found", "no such session");
  if (out.ended_now) {
    log::info("logout").str("sid", out.s.sid).str("sub", out.s.sub).str("reason", "admin").emit();
    hub.announce(out.s, logout_event(out.s, "session"));
  }
  return no_content();
}

http_response logout_user(hub_state& hub, request_context& ctx) {
  const std::string& sub = ctx.params.at(0);
  const auto out = hub.service.revoke_user(sub, "admin");
  hub.announce_logouts(out.ended, "user");
  if (out.why == denial::unavailable) return store_unavailable();
  log::info("logout")
      .str("sub", sub)
      .str("reason", "admin")
      .num("sessions", static_cast<std::int64_t>(out.ended.size()))
      .emit();
  return json_response(http::status::ok, "{\"revoked\":" + std::to_string(out.ended.size()) + "}");
}

// POST /v1/publish: a custom event to every connection on one channel, on every replica.
http_response publish(hub_state& hub, request_context& ctx) {
  std::string error;
  const auto body = parse_json_object(ctx.req.body(), error);
  if (!body) return bad_request(error);
  const auto channel = string_member(*body, "channel");
  const auto name = string_member(*body, "event");
  if (!channel || channel->empty() || channel->size() > 2 * max_id_chars) {
    return bad_request("channel must be a non-empty string");
  }
  if (!name || name->empty() || name->size() > 128) {
    return bad_request("event must be a non-empty string of at most 128 bytes");
  }
  if (reserved_event_name(*name)) {
    return bad_request("event names starting with session., login or logout are the hub's own");
  }
  event e;
  e.name = std::string(*name);
  e.channels.emplace_back(*channel);
  if (const auto it = body->FindMember("data"); it != body->MemberEnd()) {
    if (!it->value.IsObject()) return bad_request("data must be a JSON object");
    e.data_json = to_json(it->value);
  }
  const std::string id = hub.events ? hub.events->publish(e) : std::string{};
  return json_response(http::status::accepted, "{\"id\":\"" + id + "\"}");
}

http_response stats(hub_state& hub, request_context&) {
  return json_response(http::status::ok, render_stats_json(hub.stats, hub.stats_view()));
}

http_response metrics(hub_state& hub, request_context&) {
  http_response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = render_metrics(hub.stats, hub.stats_view());
  return res;
}

}  // namespace

void add_server_api_routes(router& r, hub_state& hub) {
  r.add(http::verb::post, "/v1/sessions", run_on::pool, with_api_key(hub, create_session));
  r.add(http::verb::get, "/v1/sessions", run_on::pool, with_api_key(hub, list_sessions));
  r.add(http::verb::delete_, "/v1/sessions/{sid}", run_on::pool, with_api_key(hub, delete_session));
  r.add(http::verb::post, "/v1/users/{sub}/logout", run_on::pool, with_api_key(hub, logout_user));
  r.add(http::verb::post, "/v1/publish", run_on::network, with_api_key(hub, publish));
  r.add(http::verb::get, "/v1/stats", run_on::pool, with_api_key(hub, stats));
  r.add(http::verb::get, "/metrics", run_on::pool, with_api_key(hub, metrics));
}

}  // namespace shub
