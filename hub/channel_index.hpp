// channel_index: channel name → the connections of one worker subscribed to it.
// One per worker and touched only by that worker's thread, so it has no lock (DESIGN.md).
// Holds raw pointers: a connection subscribes after its handshake and unsubscribes itself
// when it closes, always on its worker's thread, so no pointer here outlives its owner.
// An open-addressing map (boost::unordered_flat_map): a lookup is one probe of a group of
// slots, not a walk of a bucket's chain of separately allocated nodes — every tab's
// subscribe and every event's delivery is one.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace shub {

template <class Subscriber>
class channel_index {
 public:
  void subscribe(const std::string& channel, Subscriber* s) { map_[channel].push_back(s); }

  void unsubscribe(const std::string& channel, Subscriber* s) {
    const auto it = map_.find(channel);
    if (it == map_.end()) return;
    auto& subs = it->second;
    for (std::size_t i = 0; i < subs.size(); ++i) {
      if (subs[i] == s) {
        subs[i] = subs.back();  // order does not matter; removal is O(1) after the find
        subs.pop_back();
        break;
      }
    }
    if (subs.empty()) map_.erase(it);
  }

  // The subscribers of `channel` (empty when none). The vector must not be kept across a
  // subscribe/unsubscribe.
  [[nodiscard]] const std::vector<Subscriber*>& find(const std::string& channel) const {
    static const std::vector<Subscriber*> none;
    const auto it = map_.find(channel);
    return it == map_.end() ? none : it->second;
  }

  [[nodiscard]] std::size_t channel_count() const { return map_.size(); }

 private:
  boost::unordered_flat_map<std::string, std::vector<Subscriber*>> map_;
};

}  // namespace shub
