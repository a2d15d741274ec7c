// ws_frames: what each client frame of PROTOCOL §3 does.
//   auth / resume   validate the access token (store), subscribe, answer `ready`; resume
//                   also sends the latest state event when the session moved past `version`
//   watch           anonymous: the device channel of the shub_did cookie only
//   token           a fresh access token after a refresh, for the same session
//   activity        slide the idle expiry, coalesced per session; `extend` does it at once
//   logout          end the session (or all of the user's / device's sessions)
// Malformed or unknown frames get an `error` frame; after --ws-max-bad-frames, a close.
// What a frame says is read by parse_client_frame (client_frame.hpp); what it may do now
// depends on the connection's phase, decided here.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "auth/clock.hpp"
#include "client_frame.hpp"
#include "log.hpp"
#include "worker.hpp"
#include "ws_connection.hpp"

namespace shub {

namespace {

using auth::denial;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::string error_frame(std::string_view code, std::string_view message) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("error");
  w.Key("code");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

// {"type":"ready","sid","sub","did","version","expires_at","idle_expires_at","replica",
//  "state"}; sid, sub, version and the expiries are null for a watching connection.
std::string ready_frame(const auth::session* s, std::string_view did, std::string_view replica) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("ready");
  auto str_or_null = [&](const char* k, const std::string* v) {
    w.Key(k);
    if (v) {
      w.String(*v);
    } else {
      w.Null();
    }
  };
  auto int_or_null = [&](const char* k, const std::int64_t* v) {
    w.Key(k);
    if (v) {
      w.Int64(*v);
    } else {
      w.Null();
    }
  };
  str_or_null("sid", s ? &s->sid : nullptr);
  str_or_null("sub", s ? &s->sub : nullptr);
  w.Key("did");
  if (did.empty()) {
    w.Null();
  } else {
    w.String(did.data(), static_cast<rapidjson::SizeType>(did.size()));
  }
  w.Key("version");
  if (s) {
    w.Uint64(s->version);
  } else {
    w.Null();
  }
  int_or_null("expires_at", s ? &s->expires_at : nullptr);
  int_or_null("idle_expires_at", s ? &s->idle_expires_at : nullptr);
  w.Key("replica");
  w.String(replica.data(), static_cast<rapidjson::SizeType>(replica.size()));
  w.Key("state");
  w.String(s ? (s->active() ? "active" : "revoked") : "anonymous");
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string_view refusal_code(denial why) {
  switch (why) {
    case denial::token_expired:
      return "token_expired";
    case denial::token_invalid:
      return "token_invalid";
    case denial::unavailable:
      return "store_unavailable";
    default:
      return "session_revoked";
  }
}

bool ended(denial why) {
  return why == denial::revoked || why == denial::idle_expired || why == denial::absolute_expired;
}

// One line per refused token, whichever frame carried it: the JWT's own reason when it was
// the token that failed, else the session's.
void log_refusal(std::string_view ip, std::string_view sid, std::string_view frame,
                 const auth::session_outcome& out) {
  log::info("ws_auth_failed")
      .str("ip", ip)
      .str("sid", sid)
      .str("frame", frame)
      .str("reason", out.token_error != auth::jwt_error::none ? auth::to_string(out.token_error)
                                                              : auth::to_string(out.why))
      .emit();
}

}  // namespace

void ws_connection::fail(std::string_view code, std::string_view message, std::uint16_t close) {
  if (phase_ >= phase::closing || close_after_queue_ != 0) return;
  // The error frame goes first, then the close (PROTOCOL §3: "error ... before a policy
  // close"). A full queue cannot take it: then only the close is sent.
  if (queue_.push(frame(ws::opcode::text, error_frame(code, message)))) {
    close_after_queue_ = close;
    close_reason_ = std::string(message);  // ws::close_payload cuts it to fit, whole characters
    schedule_flush();
  } else {
    this->close(close, message);
  }
}

void ws_connection::bad_frame(std::string_view message) {
  ++bad_frames_;
  log::info("ws_bad_frame").str("ip", ip_).str("sid", sid_).str("error", message).emit();
  if (bad_frames_ >= hub_.cfg.ws_max_bad_frames) {
    return fail("invalid_frame", message, ws::code::policy);
  }
  reply(error_frame("invalid_frame", message));
}

void ws_connection::on_frame(std::string_view text) {
  client_frame f = parse_client_frame(text);
  using type = client_frame_type;
  if (f.type == type::invalid) return bad_frame(f.error);
  const bool open_for_auth = phase_ == phase::waiting || phase_ == phase::watching;

  if (f.type == type::auth || f.type == type::resume) {
    if (!open_for_auth || calls_in_flight_ > 0) return bad_frame("already authenticated");
    if (!f.error.empty()) return bad_frame(f.error);
    return start_auth(std::move(f.token), f.type == type::resume, f.version);
  }
  if (f.type == type::watch) {
    if (phase_ != phase::waiting || calls_in_flight_ > 0) return bad_frame("already joined");
    return start_watch();
  }
  if (phase_ != phase::authenticated) return bad_frame("authenticate first");
  if (!f.error.empty()) return bad_frame(f.error);
  switch (f.type) {
    case type::token:
      return start_token(std::move(f.token));
    case type::activity:
      return start_activity(false);
    case type::extend:
      return start_activity(true);
    case type::logout:
      return start_logout(std::string(f.scope));
    default:
      return;  // the other types were answered above
  }
}

void ws_connection::start_auth(std::string token, bool resume, std::uint64_t since) {
  // Another tab of a session with tabs here, with a token verified before: answered on
  // this thread from what those tabs know. Anything else reads the store.
  if (auto known = hub_.recognise(token)) return on_authenticated(*known, resume, since);
  blocking([&svc = hub_.service, token = std::move(token)] { return svc.validate(token); },
           [this, resume, since](const auth::session_outcome& out) {
             on_authenticated(out, resume, since);
           });
}

void ws_connection::on_authenticated(const auth::session_outcome& out, bool resume,
                                     std::uint64_t since) {
  if (out.ended_now) hub_.announce(out.s, logout_event(out.s, "session"));
  if (!out.ok()) {
    log_refusal(ip_, out.s.sid, resume ? "resume" : "auth", out);
    if (resume && ended(out.why) && !out.s.sid.empty()) {
      // A tab that was away when its session ended learns it now: ready with the final
      // state, the logout it missed, then the usual 4010.
      sid_ = out.s.sid;
      sub_ = out.s.sub;
      reply(ready_frame(&out.s, out.s.device_id, hub_.replica_id));
      reply(encode_frame(logout_event(out.s, "session"),
                         "state-" + out.s.sid + "-" + std::to_string(out.s.version),
                         auth::system_clock{}.now_ms()));
      return end_session();
    }
    return fail(refusal_code(out.why), "authentication failed", close_code::auth_failed);
  }
  if (hub_.timers.connections(out.s.sid) >= hub_.cfg.max_connections_per_session) {
    return fail("too_many_connections", "this session has too many connections",
                close_code::forbidden);
  }
  if (auth::session gone; !hub_.timers.attach(out.s, &gone)) {
    // Its logout reached this replica after `out` was read, before this tab subscribed to
    // hear it: answered as the store now would.
    auth::session_outcome now;
    now.why = auth::denial::revoked;
    now.s = std::move(gone);
    return on_authenticated(now, resume, since);
  }
  attached_ = true;
  sid_ = out.s.sid;
  sub_ = out.s.sub;
  token_exp_s_ = out.token_exp;
  session_device_ = out.s.device_id;
  if (!out.s.device_id.empty()) did_ = out.s.device_id;
  if (counted_watch_) {
    hub_.stats.connections_watching.sub();
    counted_watch_ = false;
  }
  phase_ = phase::authenticated;
  counted_auth_ = true;
  hub_.stats.connections_authenticated.add();
  subscribe(session_channel(sid_));
  subscribe(user_channel(sub_));
  if (!did_.empty()) subscribe(device_channel(did_));
  reply(ready_frame(&out.s, did_, hub_.replica_id));
  if (resume && out.s.version > since) {
    reply(encode_frame(extended_event(out.s), "state-" + sid_ + "-" + std::to_string(out.s.version),
                       auth::system_clock{}.now_ms()));
  }
  log::debug("ws_authenticated").str("sid", sid_).str("sub", sub_).flag("resume", resume).emit();
}

void ws_connection::start_watch() {
  phase_ = phase::watching;
  counted_watch_ = true;
  hub_.stats.connections_watching.add();
  subscribe(device_channel(did_));
  reply(ready_frame(nullptr, did_, hub_.replica_id));
}

void ws_connection::start_token(std::string token) {
  blocking([&svc = hub_.service, token = std::move(token)] { return svc.validate(token); },
           [this](const auth::session_outcome& out) {
             if (out.ended_now) hub_.announce(out.s, logout_event(out.s, "session"));
             if (!out.ok()) {
               log_refusal(ip_, sid_, "token", out);
               return fail(refusal_code(out.why), "the new token was refused",
                           close_code::auth_failed);
             }
             if (out.s.sid != sid_) {
               log::info("ws_auth_failed")
                   .str("ip", ip_)
                   .str("sid", sid_)
                   .str("frame", "token")
                   .str("reason", "another_session")
                   .emit();
               return fail("token_mismatch", "the token belongs to another session",
                           close_code::forbidden);
             }
             token_exp_s_ = out.token_exp;
           });
}

void ws_connection::start_activity(bool explicit_extend) {
  // Many tabs report activity; one store write per session per window is enough.
  if (!explicit_extend && !hub_.timers.activity_due(sid_, auth::system_clock{}.now_ms())) return;
  blocking([&svc = hub_.service, sid = sid_] { return svc.extend(sid); },
           [this](const auth::session_outcome& out) {
             if (out.ok()) return hub_.announce(out.s, extended_event(out.s));
             if (out.ended_now) return hub_.announce(out.s, logout_event(out.s, "session"));
             if (out.why == denial::unavailable) {
               reply(error_frame("store_unavailable", "the idle expiry could not be moved"));
             }
           });
}

void ws_connection::start_logout(std::string scope) {
  auth::session who;
  who.sid = sid_;
  who.sub = sub_;
  who.device_id = session_device_;
  blocking([&svc = hub_.service, who = std::move(who),
            scope] { return svc.revoke_scope(who, scope, "user_logout"); },
           [this, scope](const auth::revocation_outcome& out) {
             hub_.stats.logouts.add();
             log::info("logout")
                 .str("sid", sid_)
                 .str("sub", sub_)
                 .str("scope", scope)
                 .str("via", "ws")
                 .num("sessions", static_cast<std::int64_t>(out.ended.size()))
                 .emit();
             hub_.announce_logouts(out.ended, scope);
             if (out.why == denial::unavailable) {
               reply(error_frame("store_unavailable", "logout could not be completed"));
             }
           });
}

}  // namespace shub
