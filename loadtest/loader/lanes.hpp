// lanes: the loader's threads and what they share. A lane is one io_context run by one thread,
// with the subscribers it opened and what they measured; run_state is one run (its options,
// lanes, channels and publishing counts). setup_lanes() makes the lanes, connect_all() opens
// every subscriber, run_lanes() runs them all, publish_phase() publishes from lane 0 while
// the lanes count and time the deliveries.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "options.hpp"
#include "plan.hpp"
#include "wire.hpp"

namespace shub::load {

struct group_stats {
  std::vector<std::uint32_t> latency_us;
};

struct lane {
  net::io_context io;
  lane_buffers buffers;
  subscriber_script script;
  subscriber_events events;
  std::vector<std::shared_ptr<subscriber>> subs;
  std::vector<group_stats> groups;
  std::vector<std::int64_t> per_second;  // deliveries in each second since publishing began
  std::atomic<std::int64_t> received{0};
  std::atomic<int> subscribed{0}, failed{0}, ended_after{0};
  std::string first_error;
  std::int64_t t0_us = 0;  // publishing start (read-only while publishing)
  bool measuring = false;
};

struct run_state {
  options o;
  std::vector<std::unique_ptr<lane>> lanes;
  std::vector<channel_plan> channels;
  std::vector<int> subs_per_channel;  // subscribed connections per channel
  std::atomic<std::int64_t> expected{0};
  std::int64_t published = 0, publish_failed = 0, publish_late = 0;
  std::vector<std::uint32_t> publish_us;  // publish request round trips
};

// Deliveries received so far, over all lanes.
std::int64_t total_received(run_state& r);

// Makes o.threads lanes, each keeping latencies in `groups` groups (one per replica).
void setup_lanes(run_state& r, int groups);

// Opens o.connections subscribers over the lanes, connection i on channel i % channels and
// on replica (sub_url) i % sub_urls. Returns the seconds it took for all to be subscribed.
double connect_all(run_state& r);

// Runs every lane's io_context on its own thread until `stop` is set; lane 0 runs on the
// calling thread so the publisher (on lane 0) needs no locking.
void run_lanes(run_state& r, const std::function<bool()>& main_done);

// Publishes on lane 0: at o.rate per second for o.duration_s (open loop), or — broadcast —
// whenever fewer than o.window publishes' deliveries are outstanding (closed loop).
void publish_phase(run_state& r, bool closed_loop);

}  // namespace shub::load
