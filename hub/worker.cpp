// worker: delivery of events to this thread's subscribers, and the once-a-second sweep.
#include "worker.hpp"

#include <boost/asio/post.hpp>

#include "auth/clock.hpp"
#include "event.hpp"
#include "ws_connection.hpp"

namespace shub {

namespace net = boost::asio;

worker::worker(std::size_t index) : index_(index), sweep_timer_(ctx_) {}

void worker::deliver(std::shared_ptr<const delivery> d) {
  net::post(ctx_, [this, d = std::move(d)] {
    // A connection on several of the event's channels gets it once: the sequence marks it.
    const std::uint64_t seq = ++delivery_seq_;
    for (const auto& ch : d->channels) {
      for (ws_connection* c : channels_.find(ch)) {
        if (c->mark(seq)) c->send(d->frame, d->published_us);
      }
    }
    if (!d->ends_sid.empty()) {
      for (ws_connection* c : channels_.find(session_channel(d->ends_sid)))
        c->end_session();
    }
  });
}

void worker::close_all(std::uint16_t code) {
  net::post(ctx_, [this, code] {
    // Closing a connection still in its handshake detaches it at once: walk a snapshot.
    const std::vector<ws_connection*> snapshot(connections_.begin(), connections_.end());
    for (ws_connection* c : snapshot)
      c->close(code, "server shutting down");
  });
}

void worker::start_sweeping() {
  net::post(ctx_, [this] {
    sweeping_ = true;
    sweep();
  });
}

void worker::stop_sweeping() {
  net::post(ctx_, [this] {
    sweeping_ = false;
    sweep_timer_.cancel();
  });
}

void worker::sweep() {
  if (!sweeping_) return;
  const std::int64_t now = auth::system_clock{}.now_ms();
  const std::vector<ws_connection*> snapshot(connections_.begin(), connections_.end());
  for (ws_connection* c : snapshot)
    c->tick(now);
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) sweep();
  });
}

}  // namespace shub
