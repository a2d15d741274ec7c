// worker: one network thread — its io_context, its connections and its channel index.
// A connection lives on one worker for life, so delivering to it needs no lock: other
// threads reach a worker only by posting to its io_context (deliver, close_all). Once a
// second it sweeps its connections (a fiftieth every 20 ms) for auth timeouts, pings, silent
// peers and stuck closes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "channel_index.hpp"
#include "send_queue.hpp"
#include "stats.hpp"

namespace shub {

class ws_connection;

// One published event as the workers see it: the WebSocket frame (header and payload),
// encoded once, and where it goes.
struct delivery {
  frame_ptr wire;
  std::vector<std::string> channels;
  std::string ends_sid;  // non-empty: that session's connections close with 4010 after it
  std::int64_t published_us = 0;
};

class worker {
 public:
  worker(std::size_t index, hub_stats& stats);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  [[nodiscard]] boost::asio::io_context& context() { return ctx_; }
  [[nodiscard]] std::size_t index() const { return index_; }

  // Any thread.
  void deliver(std::shared_ptr<const delivery> d);
  void close_all(std::uint16_t code);
  void start_sweeping();
  void stop_sweeping();

  // This worker's thread only.
  void attach(ws_connection* c);
  void detach(ws_connection* c);
  [[nodiscard]] channel_index<ws_connection>& channels() { return channels_; }
  // Wall-clock milliseconds as of the latest sweep step (20 ms at most old; 0 before the
  // first): for decisions that need no finer time, without a clock read per call.
  [[nodiscard]] std::int64_t sweep_clock_ms() const { return sweep_clock_ms_; }
  // Where connections read into: one buffer for all of them, parsed before the next read.
  [[nodiscard]] std::vector<char>& read_buffer() { return read_buffer_; }
  // Writes are corked: a connection with new frames asks for a flush, which runs after the
  // handlers already queued (often more events for the same tabs) and a slice at a time,
  // so a tab gets all the frames that reached it meanwhile in one write.
  void want_flush(ws_connection* c);
  void cancel_flush(ws_connection* c);
  // A frame of an event was written: counted here, added to the shared stats in batches.
  void note_delivered(std::int64_t published_us, std::int64_t now_us) {
    delivered_.record_us(now_us - published_us);
  }
  void publish_stats();

  // Store calls (auth, token, extend, logout) run on the blocking pool. A job runs there
  // and returns what to do back on this thread. The calls one turn of the worker starts go
  // to the pool together and come back together: one thread hop per batch, not per call
  // (a connect storm brings many auth frames per turn).
  using finish_fn = std::function<void()>;
  using blocking_job = std::function<finish_fn()>;
  void run_blocking(boost::asio::thread_pool& pool, blocking_job job);

 private:
  void sweep();
  void post_flush();  // once until it runs
  void flush_all();
  void dispatch_blocking();

  std::size_t index_;
  boost::asio::io_context ctx_{1};
  boost::asio::steady_timer sweep_timer_;
  channel_index<ws_connection> channels_;
  // Its connections, each knowing its index (removal moves the last one into the gap): the
  // sweep walks it by index, with no copy and no lookup.
  std::vector<ws_connection*> connections_;
  std::uint64_t delivery_seq_ = 0;
  bool sweeping_ = false;
  std::size_t sweep_at_ = 0;  // the next connection to tick in this second's pass
  std::int64_t sweep_clock_ms_ = 0;
  hub_stats& stats_;
  std::vector<char> read_buffer_;
  std::vector<ws_connection*> dirty_;  // to flush from next_flush_ on; null: done or closed
  std::size_t next_flush_ = 0;
  bool flush_posted_ = false;
  bool delivering_ = false;  // in deliver(): want_flush only lists, deliver decides
  latency_batch delivered_;
  std::vector<blocking_job> blocking_;  // started this turn, not yet sent to the pool
  boost::asio::thread_pool* pool_ = nullptr;
};

}  // namespace shub
