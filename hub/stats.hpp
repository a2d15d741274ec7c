// stats: the hub's counters and latency histograms, shared by every thread (PROTOCOL §5).
// Everything is a relaxed atomic: a figure may be a few microseconds stale, never torn, and
// recording one costs a single uncontended increment on the hot path. /v1/stats renders it
// as JSON and /metrics as Prometheus text from the same snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace shub {

class latency_batch;

// Wall-clock microseconds since the epoch: the stamp an event (and a cluster message) carries
// from its publish, subtracted on delivery, on another replica too, for the latencies below.
[[nodiscard]] std::int64_t wall_clock_us();

// Latencies in exponential buckets from 10 µs to ~20 s (ratio 1.25): quantiles are
// accurate to a bucket's width (±12%), which is what an operator needs.
class latency_histogram {
 public:
  static constexpr std::size_t bucket_count = 66;
  void record_us(std::int64_t us);
  // Adds a thread's batch and empties it.
  void merge(latency_batch& b);
  [[nodiscard]] static std::size_t bucket_of(std::int64_t us);
  [[nodiscard]] double quantile_ms(double q) const;
  [[nodiscard]] double max_ms() const { return max_us_.load(std::memory_order_relaxed) / 1000.0; }
  [[nodiscard]] std::uint64_t count() const;
  [[nodiscard]] double sum_seconds() const { return sum_us_.load(std::memory_order_relaxed) / 1e6; }
  // Upper bound of bucket i in microseconds.
  [[nodiscard]] static double bound_us(std::size_t i);
  [[nodiscard]] std::uint64_t bucket(std::size_t i) const {
    return buckets_[i].load(std::memory_order_relaxed);
  }

 private:
  void raise_max(std::int64_t us);

  std::array<std::atomic<std::uint64_t>, bucket_count + 1> buckets_{};  // last = overflow
  std::atomic<std::int64_t> max_us_{0};
  std::atomic<std::int64_t> sum_us_{0};
};

// One thread's tally of latencies, merged into a shared histogram now and then: recording
// into it touches no shared cache line (a worker writing to 10,000 tabs records 10,000).
class latency_batch {
 public:
  void record_us(std::int64_t us) {
    if (us < 0) us = 0;
    ++buckets_[latency_histogram::bucket_of(us)];
    ++count_;
    sum_us_ += us;
    if (us > max_us_) max_us_ = us;
  }
  [[nodiscard]] std::uint64_t count() const { return count_; }

 private:
  friend class latency_histogram;
  std::array<std::uint64_t, latency_histogram::bucket_count + 1> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t sum_us_ = 0;
  std::int64_t max_us_ = 0;
};

struct counter {
  std::atomic<std::int64_t> v{0};
  void add(std::int64_t n = 1) { v.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) { v.fetch_sub(n, std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct hub_stats {
  // connections (WebSocket)
  counter connections_current, connections_authenticated, connections_watching, connections_total;
  counter slow_consumer_kicks, rate_limited_closes;
  counter auth_without_store;  // auth/resume answered from a session known here
  counter auth_in_upgrade;     // auths offered with the upgrade (sessionhub.auth.<token>)
  // events
  counter events_published, events_delivered, events_dropped;
  latency_histogram fanout_latency;
  // token endpoints
  counter logins_ok, logins_failed, refresh_ok, refresh_reused, refresh_failed;
  counter validations_ok, validations_failed, logouts, http_requests, http_rate_limited;
  // store
  latency_histogram store_latency;
  std::atomic<bool> store_up{true};
  // cluster
  counter cluster_received, cluster_gaps;
  counter cluster_sent, cluster_dropped, cluster_rejected, cluster_duplicates, cluster_epochs;
  counter cluster_rechecks, cluster_repaired;
  latency_histogram cluster_latency;  // a peer's publish to its arrival here
};

struct peer_view {
  std::string endpoint;
  std::string replica;  // the id it reports; empty until heard from
  bool up = false;
  std::int64_t last_seen_ms_ago = -1;
};

// What stats alone does not know, supplied by the hub at render time.
struct stats_context {
  std::string replica;
  std::int64_t uptime_s = 0;
  std::int64_t sessions_active = -1;  // -1 when the store could not say
  std::string store_kind;
  std::vector<peer_view> peers;
  bool draining = false;
};

[[nodiscard]] std::string render_stats_json(const hub_stats& s, const stats_context& ctx);
[[nodiscard]] std::string render_metrics(const hub_stats& s, const stats_context& ctx);

}  // namespace shub
