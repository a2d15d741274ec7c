// worker: delivery of events to this thread's subscribers, and the once-a-second sweep.
#include "worker.hpp"

#include <boost/asio/post.hpp>

#include "auth/clock.hpp"
#include "event.hpp"
#include "ws_connection.hpp"

namespace shub {

namespace net = boost::asio;

namespace {
// Large enough for many client frames at once (each at most --ws-max-frame-bytes).
constexpr std::size_t read_buffer_bytes = 64 * 1024;
// Connections written to before the worker turns to its other handlers.
constexpr std::size_t flush_slice = 256;
// The sweep visits a connection once a second, in this many parts: small parts, so no
// handler holds the worker for long while events wait (20,000 tabs: 400 every 20 ms).
constexpr std::size_t sweep_parts = 50;
// Store calls sent to the pool as one job, at most: a larger batch is split, so the pool's
// threads share it (Redis calls are round trips, run one after another within a job).
constexpr std::size_t blocking_batch = 16;
}  // namespace

worker::worker(std::size_t index, hub_stats& stats)
    : index_(index), sweep_timer_(ctx_), stats_(stats), read_buffer_(read_buffer_bytes) {}

void worker::want_flush(ws_connection* c) {
  c->flush_slot_ = dirty_.size();
  dirty_.push_back(c);
  post_flush();
}

void worker::post_flush() {
  if (flush_posted_ || delivering_) return;
  flush_posted_ = true;
  net::post(ctx_, [this] { flush_all(); });
}

void worker::cancel_flush(ws_connection* c) {
  if (c->flush_slot_ < dirty_.size() && dirty_[c->flush_slot_] == c)
    dirty_[c->flush_slot_] = nullptr;
  c->flush_slot_ = ws_connection::no_slot;
}

void worker::flush_all() {
  flush_posted_ = false;
  // A slice at a time, then the worker's other handlers run: requests are read, events
  // are queued — onto tabs this pass has not reached yet, too, which then get several
  // frames in one write. Under load that batching is what keeps the cost per delivery
  // down; idle, a slice is everything there is.
  const std::size_t end = std::min(dirty_.size(), next_flush_ + flush_slice);
  for (; next_flush_ < end; ++next_flush_) {
    ws_connection* c = dirty_[next_flush_];
    if (c == nullptr) continue;
    dirty_[next_flush_] = nullptr;
    c->flush_slot_ = ws_connection::no_slot;
    c->flush();  // touches only c; c may ask again (its close), appending to dirty_
  }
  if (next_flush_ == dirty_.size()) {
    dirty_.clear();
    next_flush_ = 0;
  } else {
    if (next_flush_ >= flush_slice * 16) {
      // Drop the finished front so the list does not grow under sustained load.
      dirty_.erase(dirty_.begin(), dirty_.begin() + static_cast<std::ptrdiff_t>(next_flush_));
      next_flush_ = 0;
      for (std::size_t i = 0; i < dirty_.size(); ++i) {
        if (dirty_[i] != nullptr) dirty_[i]->flush_slot_ = i;
      }
    }
    post_flush();
  }
  publish_stats();
}

void worker::publish_stats() {
  const auto n = delivered_.count();
  if (n == 0) return;
  stats_.events_delivered.add(static_cast<std::int64_t>(n));
  stats_.fanout_latency.merge(delivered_);
}

void worker::run_blocking(net::thread_pool& pool, blocking_job job) {
  pool_ = &pool;
  blocking_.push_back(std::move(job));
  if (blocking_.size() == 1) net::post(ctx_, [this] { dispatch_blocking(); });
}

void worker::dispatch_blocking() {
  std::vector<blocking_job> jobs = std::move(blocking_);
  blocking_.clear();
  for (std::size_t at = 0; at < jobs.size(); at += blocking_batch) {
    const auto first = jobs.begin() + static_cast<std::ptrdiff_t>(at);
    const auto last =
        jobs.begin() + static_cast<std::ptrdiff_t>(std::min(jobs.size(), at + blocking_batch));
    net::post(*pool_, [this, batch = std::vector<blocking_job>(std::make_move_iterator(first),
                                                               std::make_move_iterator(last))] {
      std::vector<finish_fn> done;
      done.reserve(batch.size());
      for (const blocking_job& job : batch)
        done.push_back(job());
      net::post(ctx_, [done = std::move(done)] {
        for (const finish_fn& f : done)
          f();
      });
    });
  }
}

void worker::deliver(std::shared_ptr<const delivery> d) {
  net::post(ctx_, [this, d = std::move(d)] {
    delivering_ = true;  // the flush is decided below, once every recipient has the frame
    // A connection on several of the event's channels gets it once: the sequence marks it.
    const std::uint64_t seq = ++delivery_seq_;
    for (const auto& ch : d->channels) {
      for (ws_connection* c : channels_.find(ch)) {
        if (c->mark(seq)) c->send(d->wire, d->published_us);
      }
    }
    if (!d->ends_sid.empty()) {
      for (ws_connection* c : channels_.find(session_channel(d->ends_sid)))
        c->end_session();
    }
    delivering_ = false;
    if (dirty_.size() == next_flush_) return;
    // An idle worker (no flush pending: none was posted while delivering) writes a small
    // event (a session's tabs) at once, before the handlers queued behind it (the
    // publisher's answer among them). A busy one, or a large event, is corked as usual: more
    // frames for the same tabs may be on their way.
    if (!flush_posted_ && dirty_.size() - next_flush_ <= flush_slice) {
      flush_all();
    } else {
      post_flush();
    }
  });
}

void worker::close_all(std::uint16_t code) {
  net::post(ctx_, [this, code] {
    // Closing a connection still in its handshake detaches it at once: walk a snapshot.
    const std::vector<ws_connection*> snapshot = connections_;
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

void worker::attach(ws_connection* c) {
  c->worker_slot_ = connections_.size();
  connections_.push_back(c);
}

void worker::detach(ws_connection* c) {
  const std::size_t slot = c->worker_slot_;
  if (slot >= connections_.size() || connections_[slot] != c) return;
  ws_connection* last = connections_.back();
  connections_[slot] = last;
  last->worker_slot_ = slot;
  connections_.pop_back();
  c->worker_slot_ = ws_connection::no_slot;
}

void worker::sweep() {
  if (!sweeping_) return;
  // Every connection is ticked once a second, a part every 1000 / sweep_parts ms: the work
  // (the pings above all) is spread over the second instead of arriving as one burst.
  const std::int64_t now = auth::system_clock{}.now_ms();
  sweep_clock_ms_ = now;
  std::size_t budget = (connections_.size() + sweep_parts - 1) / sweep_parts;
  while (budget > 0 && sweep_at_ < connections_.size()) {
    ws_connection* c = connections_[sweep_at_];
    c->tick(now);
    --budget;
    // A tick that closed its connection moved the last one into this slot: tick that one
    // next (it has not been ticked in this pass).
    if (sweep_at_ < connections_.size() && connections_[sweep_at_] == c) ++sweep_at_;
  }
  if (sweep_at_ >= connections_.size()) {
    sweep_at_ = 0;
    publish_stats();
  }
  // With no connections there is nothing to tick until one comes: the stats go out once a
  // second, and an idle hub is not woken fifty times a second for nothing.
  sweep_timer_.expires_after(
      std::chrono::milliseconds(connections_.empty() ? 1000 : 1000 / sweep_parts));
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) sweep();
  });
}

}  // namespace shub
