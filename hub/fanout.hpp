// fanout: publishes an event to every worker of this replica and, with a cluster, hands it
// to the cluster bridge for the other replicas. The frame is encoded once here; workers
// queue the same bytes for each recipient, and peers deliver those same bytes too.
// Thread-safe: HTTP handlers, connections, timers and the bridge all publish.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/session.hpp"
#include "cluster_message.hpp"
#include "event.hpp"
#include "stats.hpp"
#include "worker.hpp"

namespace shub {

class cluster_bridge;

class fanout {
 public:
  fanout(std::vector<worker*> workers, hub_stats& stats);
  // Set once before the workers run; null without a cluster.
  void set_bridge(cluster_bridge* bridge) { bridge_ = bridge; }

  // To every connection on the event's channels on every replica. `s`, when the event is
  // about a session, travels along so other replicas' timers learn its new state. Returns
  // the event's id.
  std::string publish(const event& e, const auth::session* s = nullptr);
  // To this replica's connections only (what a re-check against the store found).
  std::string publish_local(const event& e);
  // An event a peer published, as it was encoded there.
  void deliver_remote(cluster::message&& m);

 private:
  // `json`, when given, receives the frame's JSON text (what the cluster link carries).
  std::shared_ptr<delivery> make_delivery(const event& e, std::string& id, std::string* json);
  void deliver(std::shared_ptr<const delivery> d);

  std::vector<worker*> workers_;
  hub_stats& stats_;
  cluster_bridge* bridge_ = nullptr;
  std::string epoch_;  // distinguishes this process's ids from a previous run's
  std::atomic<std::uint64_t> seq_{0};
};

[[nodiscard]] cluster::session_view view_of(const auth::session& s);

}  // namespace shub
