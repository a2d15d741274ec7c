// fanout: publishes an event to every worker of this replica (and, with a cluster, hands
// it to the cluster bridge). The frame is encoded once here; workers queue the same bytes
// for each recipient. Thread-safe: HTTP handlers, connections and timers all publish.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "event.hpp"
#include "stats.hpp"
#include "worker.hpp"

namespace shub {

class fanout {
 public:
  fanout(std::vector<worker*> workers, hub_stats& stats);
  // Returns the event's id.
  std::string publish(const event& e);

 private:
  std::vector<worker*> workers_;
  hub_stats& stats_;
  std::string epoch_;  // distinguishes this process's ids from a previous run's
  std::atomic<std::uint64_t> seq_{0};
};

}  // namespace shub
