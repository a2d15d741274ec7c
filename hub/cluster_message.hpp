// cluster_message: what replicas say to each other over ZeroMQ (PROTOCOL §4), and the
// bookkeeping that makes a lossy PUB/SUB link safe to depend on.
//
// A message is two ZeroMQ frames: a topic (`shub.event` or `shub.heartbeat`) and a payload.
// The payload is one line of JSON — origin replica, its epoch (new on every start), its
// sequence number, the time it was sent — and, for events, a newline and the event frame
// exactly as the origin's own tabs got it, so every replica delivers the same bytes (and
// the same event id). An event also names its channels, the session it ends (if any) and a
// view of that session's state, which the receiving replica's idle timers take over.
// Heartbeats carry the sender's last sequence number, so a lost last message is noticed.
//
// sequence_tracker turns the (origin, epoch, seq) of each arrival into a verdict: deliver,
// duplicate (dropped), a gap of n messages, or a new epoch (the origin restarted, or this
// is first contact). The last two mean this replica may have missed something; the hub
// answers them by re-checking its local sessions against the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shub::cluster {

inline constexpr std::string_view topic_event = "shub.event";
inline constexpr std::string_view topic_heartbeat = "shub.heartbeat";

// The part of a session's state that another replica's timers need.
struct session_view {
  std::string sid;
  std::uint64_t version = 0;
  std::int64_t idle_expires_at = 0;
  std::int64_t expires_at = 0;
  bool active = true;
};

struct message {
  bool heartbeat = false;
  std::string origin;        // the sender's --replica-id
  std::string epoch;         // the sender's process incarnation
  std::uint64_t seq = 0;     // events: this one's number; heartbeats: the last event's
  std::int64_t sent_us = 0;  // the origin's publish time (Unix µs)
  // events only
  std::vector<std::string> channels;
  std::string ends_sid;
  std::optional<session_view> session;
  std::string frame;
};

// Limits a received message must respect (a peer is trusted, but a bug must not crash us).
inline constexpr std::size_t max_channels = 64;
inline constexpr std::size_t max_id_bytes = 256;

[[nodiscard]] std::string_view topic_of(const message& m);
[[nodiscard]] std::string encode_payload(const message& m);
// Parses a received topic + payload. False, with `error` saying what is wrong, when either
// is malformed; `out` is then unspecified.
[[nodiscard]] bool decode(std::string_view topic, std::string_view payload, message& out,
                          std::string& error);

class sequence_tracker {
 public:
  struct verdict {
    bool deliver = false;      // an event to hand to this replica's tabs
    bool duplicate = false;    // seen before: dropped
    std::uint64_t missed = 0;  // messages lost before this one
    bool new_epoch = false;    // first contact with this origin, or it restarted
  };
  [[nodiscard]] verdict observe(const message& m);
  // Origins seen so far.
  [[nodiscard]] std::size_t origins() const { return last_.size(); }

 private:
  struct position {
    std::string epoch;
    std::uint64_t seq = 0;
  };
  std::unordered_map<std::string, position> last_;
};

}  // namespace shub::cluster
