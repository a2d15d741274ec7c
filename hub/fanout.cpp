// fanout: id, timestamp and encoding of an event, then one post per worker.
#include "fanout.hpp"

#include <chrono>

#include "auth/base64url.hpp"
#include "auth/crypto.hpp"

namespace shub {

fanout::fanout(std::vector<worker*> workers, hub_stats& stats)
    : workers_(std::move(workers)),
      stats_(stats),
      epoch_(auth::base64url_encode(auth::random_bytes(6))) {}

std::string fanout::publish(const event& e) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  std::string id = epoch_ + "-" + std::to_string(seq_.fetch_add(1) + 1);
  auto d = std::make_shared<delivery>();
  d->frame = encode_frame(e, id, now_us / 1000);
  d->channels = e.channels;
  d->ends_sid = e.ends_sid;
  d->published_us = now_us;
  stats_.events_published.add();
  std::shared_ptr<const delivery> shared = std::move(d);
  for (worker* w : workers_)
    w->deliver(shared);
  return id;
}

}  // namespace shub
