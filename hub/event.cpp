// event: builders for the contract's events and the single frame encoding (RapidJSON SAX
// writer; the data object is spliced in as already-valid JSON text, not re-parsed).
#include "event.hpp"

#include "json_writer.hpp"

namespace shub {

event login_event(const auth::session& s) {
  event e;
  e.name = "login";
  e.channels.push_back(user_channel(s.sub));
  if (!s.device_id.empty()) e.channels.push_back(device_channel(s.device_id));
  e.version = s.version;
  e.data_json = json_object([&](json_writer& w) {
    key_str(w, "sid", s.sid);
    key_str(w, "sub", s.sub);
  });
  return e;
}

event logout_event(const auth::session& s, std::string_view scope) {
  event e;
  e.name = "logout";
  e.channels.push_back(session_channel(s.sid));
  e.version = s.version;
  e.ends_sid = s.sid;
  e.data_json = json_object([&](json_writer& w) {
    key_str(w, "sid", s.sid);
    key_str(w, "reason", s.end_reason);
    key_str(w, "scope", scope);
  });
  return e;
}

event extended_event(const auth::session& s) {
  event e;
  e.name = "session.extended";
  e.channels.push_back(session_channel(s.sid));
  e.version = s.version;
  e.data_json = json_object([&](json_writer& w) {
    key_str(w, "sid", s.sid);
    w.Key("idle_expires_at");
    w.Int64(s.idle_expires_at);
  });
  return e;
}

event expiring_event(std::string_view sid, std::int64_t idle_expires_at, std::int64_t warn_before_s,
                     std::uint64_t version) {
  event e;
  e.name = "session.expiring";
  e.channels.push_back(session_channel(sid));
  e.version = version;
  e.data_json = json_object([&](json_writer& w) {
    key_str(w, "sid", sid);
    w.Key("idle_expires_at");
    w.Int64(idle_expires_at);
    w.Key("warn_before_s");
    w.Int64(warn_before_s);
  });
  return e;
}

event refreshed_event(const auth::session& s, std::int64_t expires_in) {
  event e;
  e.name = "token.refreshed";
  e.channels.push_back(session_channel(s.sid));
  e.version = s.version;
  e.data_json = json_object([&](json_writer& w) {
    key_str(w, "sid", s.sid);
    w.Key("expires_in");
    w.Int64(expires_in);
  });
  return e;
}

std::string encode_frame(const event& e, std::string_view id, std::int64_t at_ms) {
  return json_object([&](json_writer& w) {
    key_str(w, "type", "event");
    key_str(w, "id", id);
    key_str(w, "event", e.name);
    if (e.version > 0) {
      w.Key("version");
      w.Uint64(e.version);
    }
    w.Key("at");
    w.Int64(at_ms);
    w.Key("data");
    w.RawValue(e.data_json.data(), e.data_json.size(), rapidjson::kObjectType);
  });
}

bool reserved_event_name(std::string_view name) {
  return name.rfind("session.", 0) == 0 || name.rfind("login", 0) == 0 ||
         name.rfind("logout", 0) == 0;
}

}  // namespace shub
