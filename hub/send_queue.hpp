// send_queue: the bounded queue of frames waiting to be written to one WebSocket.
// Frames are shared, immutable strings holding whole wire frames (header and payload,
// encoded once per event, DESIGN.md), so a queued frame costs a pointer, not a copy. The
// bound is in frames and in bytes; push() refuses a frame that would cross either, and the
// caller closes the connection as a slow consumer (4009) instead of letting the hub's
// memory grow with a client that does not read.
//
// A vector with a moving head, not a deque: an idle connection's queue allocates nothing
// (libstdc++'s deque allocates ~600 bytes even when empty), and the writer gathers the
// first frames straight from contiguous storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shub {

using frame_ptr = std::shared_ptr<const std::string>;

struct queued_frame {
  frame_ptr data;
  std::int64_t published_us = 0;  // wall clock when published; 0 for replies (no latency)
};

class send_queue {
 public:
  send_queue(std::size_t max_frames, std::size_t max_bytes)
      : max_frames_(max_frames), max_bytes_(max_bytes) {}

  // False (and nothing queued) when the frame would exceed a bound.
  [[nodiscard]] bool push(queued_frame f) {
    const std::size_t size = f.data ? f.data->size() : 0;
    if (this->size() + 1 > max_frames_ || bytes_ + size > max_bytes_) return false;
    push_always(std::move(f));
    return true;
  }
  // Past the bounds: for the close frame that ends a connection, which must go out.
  void push_always(queued_frame f) {
    bytes_ += f.data ? f.data->size() : 0;
    frames_.push_back(std::move(f));
  }
  [[nodiscard]] const queued_frame& front() const { return frames_[head_]; }
  // The i-th frame from the front (i < size()).
  [[nodiscard]] const queued_frame& at(std::size_t i) const { return frames_[head_ + i]; }
  void pop() {
    bytes_ -= frames_[head_].data ? frames_[head_].data->size() : 0;
    frames_[head_].data.reset();
    if (++head_ == frames_.size()) reset_storage();
  }
  [[nodiscard]] bool empty() const { return head_ == frames_.size(); }
  [[nodiscard]] std::size_t size() const { return frames_.size() - head_; }
  [[nodiscard]] std::size_t bytes() const { return bytes_; }
  // Drops every queued frame but the first `keep` (being written already).
  // Returns how many of the dropped frames were events (published_us != 0).
  std::size_t drop_pending(std::size_t keep) {
    std::size_t events = 0;
    while (size() > keep) {
      const queued_frame& f = frames_.back();
      events += f.published_us != 0 ? 1 : 0;
      bytes_ -= f.data ? f.data->size() : 0;
      frames_.pop_back();
    }
    if (empty()) reset_storage();
    return events;
  }
  void clear() { (void)drop_pending(0); }

 private:
  void reset_storage() {
    frames_.clear();
    head_ = 0;
    // A burst may have grown the storage; an idle connection keeps none of it.
    if (frames_.capacity() > 16) frames_.shrink_to_fit();
  }

  std::vector<queued_frame> frames_;
  std::size_t head_ = 0;
  std::size_t bytes_ = 0;
  std::size_t max_frames_;
  std::size_t max_bytes_;
};

}  // namespace shub
