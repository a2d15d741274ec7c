// fanout: id, timestamp and encoding of an event (the JSON once, then the WebSocket frame
// around it once), then one post per worker (and one message to the cluster bridge).
#include "fanout.hpp"

#include "auth/base64url.hpp"
#include "auth/crypto.hpp"
#include "cluster_bridge.hpp"
#include "ws_wire.hpp"

namespace shub {

cluster::session_view view_of(const auth::session& s) {
  return {s.sid, s.version, s.idle_expires_at, s.expires_at, s.active()};
}

fanout::fanout(std::vector<worker*> workers, hub_stats& stats)
    : workers_(std::move(workers)),
      stats_(stats),
      epoch_(auth::base64url_encode(auth::random_bytes(6))) {}

std::shared_ptr<delivery> fanout::make_delivery(const event& e, std::string& id,
                                                std::string* json) {
  const std::int64_t now_us = wall_clock_us();
  id = epoch_ + "-" + std::to_string(seq_.fetch_add(1) + 1);
  auto d = std::make_shared<delivery>();
  std::string text = encode_frame(e, id, now_us / 1000);
  d->wire = std::make_shared<const std::string>(ws::encode(ws::opcode::text, text));
  if (json) *json = std::move(text);
  d->channels = e.channels;
  d->ends_sid = e.ends_sid;
  d->published_us = now_us;
  stats_.events_published.add();
  return d;
}

void fanout::deliver(std::shared_ptr<const delivery> d) {
  for (worker* w : workers_)
    w->deliver(d);
}

std::string fanout::publish(const event& e, const auth::session* s) {
  std::string id;
  cluster::message m;
  auto d = make_delivery(e, id, bridge_ ? &m.frame : nullptr);
  if (bridge_) {
    m.sent_us = d->published_us;
    m.channels = d->channels;
    m.ends_sid = d->ends_sid;
    if (s) m.session = view_of(*s);
    bridge_->send(std::move(m));
  }
  deliver(std::move(d));
  return id;
}

std::string fanout::publish_local(const event& e) {
  std::string id;
  deliver(make_delivery(e, id, nullptr));
  return id;
}

void fanout::deliver_remote(cluster::message&& m) {
  auto d = std::make_shared<delivery>();
  d->wire = std::make_shared<const std::string>(ws::encode(ws::opcode::text, m.frame));
  d->channels = std::move(m.channels);
  d->ends_sid = std::move(m.ends_sid);
  // published_us stays 0: the fan-out histogram is this replica's own publishes; the
  // cluster link has its own (cluster_latency).
  deliver(std::move(d));
}

}  // namespace shub
