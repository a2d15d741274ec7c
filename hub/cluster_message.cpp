// cluster_message: the payload encoding (one JSON header line, then the frame bytes) and
// the per-origin sequence bookkeeping.
#include "cluster_message.hpp"

#include "http_util.hpp"
#include "json_writer.hpp"

namespace shub::cluster {

std::string_view topic_of(const message& m) {
  return m.heartbeat ? topic_heartbeat : topic_event;
}

std::string encode_payload(const message& m) {
  std::string out = json_object([&](json_writer& w) {
    key_int(w, "v", 1);
    key_str(w, "origin", m.origin);
    key_str(w, "epoch", m.epoch);
    key_uint(w, "seq", m.seq);
    key_int(w, "sent_us", m.sent_us);
    if (m.heartbeat) return;
    w.Key("channels");
    w.StartArray();
    for (const auto& c : m.channels)
      w.String(c.data(), static_cast<rapidjson::SizeType>(c.size()));
    w.EndArray();
    if (!m.ends_sid.empty()) key_str(w, "ends_sid", m.ends_sid);
    if (m.session) {
      w.Key("session");
      w.StartObject();
      key_str(w, "sid", m.session->sid);
      key_uint(w, "version", m.session->version);
      key_int(w, "idle_expires_at", m.session->idle_expires_at);
      key_int(w, "expires_at", m.session->expires_at);
      key_bool(w, "active", m.session->active);
      w.EndObject();
    }
  });
  if (!m.heartbeat) {
    out += '\n';
    out += m.frame;
  }
  return out;
}

namespace {

bool id_member(const rapidjson::Value& obj, const char* name, std::string& out,
               std::string& error) {
  const auto v = string_member(obj, name);
  if (!v || v->empty() || v->size() > max_id_bytes) {
    error = std::string("'") + name + "' must be a non-empty string of at most " +
            std::to_string(max_id_bytes) + " bytes";
    return false;
  }
  out.assign(*v);
  return true;
}

template <class T>
bool int_member(const rapidjson::Value& obj, const char* name, T& out, std::string& error) {
  const auto it = obj.FindMember(name);
  if constexpr (std::is_unsigned_v<T>) {
    if (it != obj.MemberEnd() && it->value.IsUint64()) {
      out = it->value.GetUint64();
      return true;
    }
  } else {
    if (it != obj.MemberEnd() && it->value.IsInt64()) {
      out = it->value.GetInt64();
      return true;
    }
  }
  error = std::string("'") + name + "' must be an integer";
  return false;
}

bool decode_session(const rapidjson::Value& v, session_view& s, std::string& error) {
  if (!v.IsObject()) {
    error = "'session' must be an object";
    return false;
  }
  if (!id_member(v, "sid", s.sid, error) || !int_member(v, "version", s.version, error) ||
      !int_member(v, "idle_expires_at", s.idle_expires_at, error) ||
      !int_member(v, "expires_at", s.expires_at, error)) {
    return false;
  }
  const auto active = v.FindMember("active");
  if (active == v.MemberEnd() || !active->value.IsBool()) {
    error = "'session.active' must be a boolean";
    return false;
  }
  s.active = active->value.GetBool();
  return true;
}

}  // namespace

bool decode(std::string_view topic, std::string_view payload, message& out, std::string& error) {
  if (topic == topic_event) {
    out.heartbeat = false;
  } else if (topic == topic_heartbeat) {
    out.heartbeat = true;
  } else {
    error = "unknown topic";
    return false;
  }
  const auto newline = payload.find('\n');
  if (out.heartbeat != (newline == std::string_view::npos)) {
    error = out.heartbeat ? "a heartbeat carries no frame" : "an event needs a frame";
    return false;
  }
  const auto doc = parse_json_object(payload.substr(0, newline), error, false);
  if (!doc) return false;
  std::int64_t version = 0;
  if (!int_member(*doc, "v", version, error)) return false;
  if (version != 1) {
    error = "unsupported message version " + std::to_string(version);
    return false;
  }
  if (!id_member(*doc, "origin", out.origin, error) ||
      !id_member(*doc, "epoch", out.epoch, error) || !int_member(*doc, "seq", out.seq, error) ||
      !int_member(*doc, "sent_us", out.sent_us, error)) {
    return false;
  }
  if (out.heartbeat) return true;
  if (out.seq == 0) {
    error = "event sequence numbers start at 1";
    return false;
  }
  out.frame.assign(payload.substr(newline + 1));
  if (out.frame.empty()) {
    error = "an event needs a frame";
    return false;
  }
  const auto channels = doc->FindMember("channels");
  if (channels == doc->MemberEnd() || !channels->value.IsArray() ||
      channels->value.Size() > max_channels) {
    error = "'channels' must be an array of at most " + std::to_string(max_channels) + " names";
    return false;
  }
  out.channels.clear();
  for (const auto& c : channels->value.GetArray()) {
    if (!c.IsString() || c.GetStringLength() == 0 || c.GetStringLength() > max_id_bytes) {
      error = "every channel must be a non-empty string";
      return false;
    }
    out.channels.emplace_back(c.GetString(), c.GetStringLength());
  }
  out.ends_sid.clear();
  if (doc->HasMember("ends_sid") && !id_member(*doc, "ends_sid", out.ends_sid, error)) return false;
  out.session.reset();
  if (const auto s = doc->FindMember("session"); s != doc->MemberEnd()) {
    if (!decode_session(s->value, out.session.emplace(), error)) return false;
  }
  return true;
}

sequence_tracker::verdict sequence_tracker::observe(const message& m) {
  verdict v;
  const auto [it, first] = last_.try_emplace(m.origin);
  position& p = it->second;
  if (first || p.epoch != m.epoch) {
    // Nothing before this message can be known: start counting from it.
    v.new_epoch = true;
    p.epoch = m.epoch;
    p.seq = m.seq;
    v.deliver = !m.heartbeat;
    return v;
  }
  if (m.heartbeat) {
    // The origin's last event; any we have not seen were lost.
    if (m.seq > p.seq) {
      v.missed = m.seq - p.seq;
      p.seq = m.seq;
    }
    return v;
  }
  if (m.seq <= p.seq) {
    v.duplicate = true;
    return v;
  }
  v.missed = m.seq - p.seq - 1;
  p.seq = m.seq;
  v.deliver = true;
  return v;
}

}  // namespace shub::cluster
