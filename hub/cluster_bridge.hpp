// cluster_bridge: this replica's ZeroMQ links to its peers (PROTOCOL §4, DESIGN.md
// "ClusterBridge"). One thread owns every ZeroMQ socket (they are not thread-safe): a PUB
// bound at --cluster-bind that every peer subscribes to, and one SUB per --cluster-peer, so
// each message is known to come from that peer's link. Other threads hand outbound events
// over through a bounded queue and an eventfd that wakes the thread.
//
// Every message carries origin, epoch and sequence (cluster_message.hpp). Duplicates are
// dropped; gaps and epoch changes are counted and reported through `on_repair`, which the
// hub answers by re-checking its local sessions against the store — state never depends on
// a message arriving. Liveness: ZMTP heartbeats on every link (a peer that stops answering
// is disconnected, then reconnected when it comes back) and an application heartbeat every
// --cluster-heartbeat-ms carrying the last sequence number; a peer silent for
// --cluster-peer-timeout-ms is down in /v1/stats. With --cluster-curve-secret-file every link
// is CURVE-encrypted and both ends prove they hold the shared secret (a ZAP handler on the
// PUB side refuses any other client key).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster_message.hpp"
#include "config.hpp"
#include "stats.hpp"

namespace shub {

class cluster_bridge {
 public:
  // Bridge thread: an event from a peer, already de-duplicated.
  using event_handler = std::function<void(cluster::message&&)>;
  // Bridge thread: this replica may have missed messages (gap, peer restart or first
  // contact, a peer gone silent).
  using repair_handler = std::function<void(std::string_view why)>;

  // Binds and connects (throws std::runtime_error on a bad endpoint or key file); the thread
  // starts with start().
  cluster_bridge(const config& cfg, std::string replica_id, hub_stats& stats,
                 event_handler on_event, repair_handler on_repair);
  ~cluster_bridge();
  cluster_bridge(const cluster_bridge&) = delete;
  cluster_bridge& operator=(const cluster_bridge&) = delete;

  void start();
  void stop();

  // Any thread. Queues an event for every peer; its sequence number is taken now, so an
  // event dropped because the queue is full shows up at the peers as a gap.
  void send(cluster::message m);

  [[nodiscard]] std::vector<peer_view> peers() const;
  [[nodiscard]] const std::string& epoch() const { return epoch_; }

  // A Z85 CURVE secret key for --cluster-curve-secret-file.
  [[nodiscard]] static std::string generate_secret();

 private:
  struct impl;
  void run();

  const config& cfg_;
  std::string replica_id_;
  std::string epoch_;
  hub_stats& stats_;
  event_handler on_event_;
  repair_handler on_repair_;
  std::unique_ptr<impl> impl_;

  std::mutex queue_mutex_;
  std::deque<cluster::message> queue_;
  std::uint64_t next_seq_ = 0;  // guarded by queue_mutex_
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  struct peer_state {
    std::string endpoint;
    std::string replica;  // the origin id it reported
    bool up = false;
    std::chrono::steady_clock::time_point last_seen{};
    bool seen = false;
    bool warned_self = false;
  };
  mutable std::mutex peers_mutex_;
  std::vector<peer_state> peers_;
};

}  // namespace shub
