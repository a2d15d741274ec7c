// plan: see plan.hpp.
#include "plan.hpp"

#include <algorithm>
#include <stdexcept>

namespace shub::load {
namespace {

std::string payload_json(std::int64_t seq, int pad) {
  return R"({"t":)" + std::to_string(now_us()) + R"(,"seq":)" + std::to_string(seq) +
         R"(,"pad":")" + std::string(static_cast<std::size_t>(std::max(pad, 0)), 'x') + "\"}";
}

}  // namespace

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

std::string upgrade_request(const options& o, const tcp::endpoint& server, const channel_plan& c) {
  std::string path;
  std::string extra;
  switch (o.target) {
    case kind::sessionhub:
      path = "/v1/ws";
      extra = "Sec-WebSocket-Protocol: sessionhub.v1" +
              (o.auth_in_upgrade ? ", sessionhub.auth." + c.token : std::string()) +
              "\r\nOrigin: " + o.origin + "\r\n";
      break;
    case kind::socketio:
      path = "/socket.io/?EIO=4&transport=websocket";
      break;
    case kind::nchan:
    case kind::ws:
      path = "/sub/" + c.name;
      break;
  }
  return "GET " + path + " HTTP/1.1\r\nHost: " + server.address().to_string() + ":" +
         std::to_string(server.port()) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         extra + "\r\n";
}

subscriber_script make_script(const options& o) {
  switch (o.target) {
    case kind::sessionhub:
      return {[in_upgrade = o.auth_in_upgrade](subscriber& s, std::string_view m) {
        if (m.empty()) {
          if (!in_upgrade) s.send_text(R"({"type":"auth","token":")" + s.note + "\"}");
        } else if (m.find(R"("type":"ready")") != std::string_view::npos) {
          s.mark_subscribed();
        }
      }};
    case kind::socketio:
      // Engine.IO 4 / Socket.IO 5 (loadtest/peers/README.md): open, connect, join a room.
      return {[](subscriber& s, std::string_view m) {
        if (m.empty()) return;
        if (m == "2") {
          s.send_text("3");
        } else if (m.substr(0, 2) == "0{") {
          s.send_text("40");
        } else if (m.substr(0, 2) == "40") {
          s.send_text(R"(42["join",)" + json_quote(s.note) + "]");
          s.mark_subscribed();
        }
      }};
    case kind::nchan:
    case kind::ws:
      return {[](subscriber& s, std::string_view m) {
        if (m.empty()) s.mark_subscribed();
      }};
  }
  return {};
}

std::string note_for(const options& o, const channel_plan& c) {
  return o.target == kind::sessionhub ? c.token : c.name;
}

publish_request make_publish(const options& o, const channel_plan& c, std::int64_t seq) {
  if (o.target == kind::sessionhub) {
    return {"/v1/publish",
            {"Authorization: Bearer " + o.api_key},
            R"({"channel":)" + json_quote(c.name) + R"(,"event":"load","data":)" +
                payload_json(seq, o.payload) + "}"};
  }
  return {"/pub/" + c.name, {}, payload_json(seq, o.payload)};
}

std::vector<channel_plan> make_channels(const options& o, int count, bool one_user,
                                        std::vector<std::string>* refresh_tokens) {
  std::vector<channel_plan> out;
  if (o.target != kind::sessionhub) {
    for (int i = 0; i < count; ++i)
      out.push_back({one_user ? "bcast" : "ch" + std::to_string(i), {}});
    return out;
  }
  net::io_context io;
  const std::string run = std::to_string(now_us() % 1000000000);
  for (int i = 0; i < count; ++i) {
    const std::string sub = one_user ? "load-" + run : "load-" + run + "-" + std::to_string(i);
    const auto [status, body] =
        post_sync(io, o.url, "/v1/sessions", {"Authorization: Bearer " + o.api_key},
                  R"({"sub":)" + json_quote(sub) + "}");
    if (status != 201 && status != 200) {
      throw std::runtime_error("POST /v1/sessions answered " + std::to_string(status) + ": " +
                               body);
    }
    const std::string token = find_string(body, "access_token");
    const std::string sid = find_string(body, "sid");
    if (refresh_tokens) refresh_tokens->push_back(find_string(body, "refresh_token"));
    out.push_back({one_user ? "user:" + sub : "session:" + sid, token});
  }
  return out;
}

}  // namespace shub::load
