// plan: what differs between the servers shubload drives (sessionhub, nchan, Socket.IO, ws):
// the channels to subscribe to (for sessionhub, sessions created for the run and the access
// tokens that open them), the WebSocket upgrade request, the script a subscriber follows once
// upgraded, and the publish request.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "options.hpp"
#include "wire.hpp"

namespace shub::load {

// `s` as a JSON string (quotes and backslashes escaped).
std::string json_quote(const std::string& s);

// One subscription: the channel's name and, for sessionhub, the token that opens it.
struct channel_plan {
  std::string name;   // sessionhub: "session:<sid>" or "user:<sub>"; others: the channel
  std::string token;  // sessionhub: an access token of a session on that channel
};

// The HTTP upgrade request of a subscriber to channel `c` on `server`.
std::string upgrade_request(const options& o, const tcp::endpoint& server, const channel_plan& c);

// How a subscriber talks to o.target once upgraded: authenticates, joins, or nothing.
subscriber_script make_script(const options& o);

// What a subscriber keeps in `note`: the token (sessionhub) or the room (socket.io).
std::string note_for(const options& o, const channel_plan& c);

struct publish_request {
  std::string target;
  std::vector<std::string> headers;
  std::string body;
};

// The POST that publishes message `seq` on channel `c`.
publish_request make_publish(const options& o, const channel_plan& c, std::int64_t seq);

// Sessions for sessionhub: `count` of them, each with its own sub, or all of one sub.
std::vector<channel_plan> make_channels(const options& o, int count, bool one_user,
                                        std::vector<std::string>* refresh_tokens = nullptr);

}  // namespace shub::load
