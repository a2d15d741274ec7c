// send_queue: the bounded queue of frames waiting to be written to one WebSocket.
// Frames are shared, immutable strings (encoded once per event, DESIGN.md), so a queued
// frame costs a pointer, not a copy. The bound is in frames and in bytes; push() refuses a
// frame that would cross either, and the caller closes the connection as a slow consumer
// (4009) instead of letting the hub's memory grow with a client that does not read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace shub {

using frame_ptr = std::shared_ptr<const std::string>;

struct queued_frame {
  frame_ptr data;
  std::int64_t published_us = 0;  // wall clock when published; 0 for replies (no latency)
  bool close_after = false;       // close with the pending close code once written
};

class send_queue {
 public:
  send_queue(std::size_t max_frames, std::size_t max_bytes)
      : max_frames_(max_frames), max_bytes_(max_bytes) {}

  // False (and nothing queued) when the frame would exceed a bound.
  [[nodiscard]] bool push(queued_frame f) {
    const std::size_t size = f.data ? f.data->size() : 0;
    if (frames_.size() + 1 > max_frames_ || bytes_ + size > max_bytes_) return false;
    bytes_ += size;
    frames_.push_back(std::move(f));
    return true;
  }
  [[nodiscard]] const queued_frame& front() const { return frames_.front(); }
  void pop() {
    bytes_ -= frames_.front().data ? frames_.front().data->size() : 0;
    frames_.pop_front();
  }
  [[nodiscard]] bool empty() const { return frames_.empty(); }
  [[nodiscard]] std::size_t size() const { return frames_.size(); }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  // Drops every queued frame but, when `keep_front`, the first (a write in flight still
  // reads it). Returns how many of the dropped frames were events (published_us != 0).
  std::size_t drop_pending(bool keep_front) {
    std::size_t events = 0;
    while (frames_.size() > (keep_front ? 1u : 0u)) {
      const queued_frame& f = frames_.back();
      events += f.published_us != 0 ? 1 : 0;
      bytes_ -= f.data ? f.data->size() : 0;
      frames_.pop_back();
    }
    return events;
  }
  void clear() { (void)drop_pending(false); }

 private:
  std::deque<queued_frame> frames_;
  std::size_t bytes_ = 0;
  std::size_t max_frames_;
  std::size_t max_bytes_;
};

}  // namespace shub
