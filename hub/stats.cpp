// stats: histogram arithmetic and the two renderings of the hub's figures, JSON for
// /v1/stats (PROTOCOL §5) and Prometheus text exposition 0.0.4 for /metrics.
#include "stats.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "json_writer.hpp"

namespace shub {

std::int64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
constexpr double first_bound_us = 10.0;
constexpr double ratio = 1.25;
}  // namespace

double latency_histogram::bound_us(std::size_t i) {
  return first_bound_us * std::pow(ratio, i);
}

std::size_t latency_histogram::bucket_of(std::int64_t us) {
  if (us <= first_bound_us) return 0;
  const auto i = static_cast<std::size_t>(
      std::ceil(std::log(static_cast<double>(us) / first_bound_us) / std::log(ratio)));
  return std::min(i, bucket_count);
}

void latency_histogram::record_us(std::int64_t us) {
  if (us < 0) us = 0;
  buckets_[bucket_of(us)].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
  raise_max(us);
}

void latency_histogram::raise_max(std::int64_t us) {
  std::int64_t seen = max_us_.load(std::memory_order_relaxed);
  while (us > seen && !max_us_.compare_exchange_weak(seen, us, std::memory_order_relaxed)) {
  }
}

void latency_histogram::merge(latency_batch& b) {
  if (b.count_ == 0) return;
  for (std::size_t i = 0; i < b.buckets_.size(); ++i) {
    if (b.buckets_[i] != 0) buckets_[i].fetch_add(b.buckets_[i], std::memory_order_relaxed);
  }
  sum_us_.fetch_add(b.sum_us_, std::memory_order_relaxed);
  raise_max(b.max_us_);
  b = latency_batch{};
}

std::uint64_t latency_histogram::count() const {
  std::uint64_t n = 0;
  for (const auto& b : buckets_)
    n += b.load(std::memory_order_relaxed);
  return n;
}

double latency_histogram::quantile_ms(double q) const {
  std::array<std::uint64_t, bucket_count + 1> snap{};
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < snap.size(); ++i)
    total += snap[i] = bucket(i);
  if (total == 0) return 0.0;
  const double rank = q * static_cast<double>(total);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < snap.size(); ++i) {
    seen += snap[i];
    if (static_cast<double>(seen) >= rank) {
      // The bucket's upper bound, but never above the largest value actually seen.
      const double bound = i < bucket_count ? bound_us(i) / 1000.0 : max_ms();
      return std::min(bound, max_ms());
    }
  }
  return max_ms();
}

namespace {

void key_real(json_writer& w, const char* k, double v) {
  w.Key(k);
  w.Double(std::round(v * 1000.0) / 1000.0);
}

void latency_object(json_writer& w, const char* k, const latency_histogram& h, bool with_max) {
  w.Key(k);
  w.StartObject();
  key_real(w, "p50", h.quantile_ms(0.50));
  key_real(w, "p99", h.quantile_ms(0.99));
  if (with_max) key_real(w, "max", h.max_ms());
  w.EndObject();
}

}  // namespace

std::string render_stats_json(const hub_stats& s, const stats_context& ctx) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  w.Key("replica");
  w.String(ctx.replica);
  key_int(w, "uptime_s", ctx.uptime_s);
  w.Key("draining");
  w.Bool(ctx.draining);

  w.Key("connections");
  w.StartObject();
  key_int(w, "current", s.connections_current.get());
  key_int(w, "authenticated", s.connections_authenticated.get());
  key_int(w, "watching", s.connections_watching.get());
  key_int(w, "total", s.connections_total.get());
  key_int(w, "slow_consumer_kicks", s.slow_consumer_kicks.get());
  key_int(w, "rate_limited_closes", s.rate_limited_closes.get());
  key_int(w, "auth_without_store", s.auth_without_store.get());
  key_int(w, "auth_in_upgrade", s.auth_in_upgrade.get());
  w.EndObject();

  w.Key("sessions");
  w.StartObject();
  w.Key("active");
  if (ctx.sessions_active >= 0) {
    w.Int64(ctx.sessions_active);
  } else {
    w.Null();
  }
  w.EndObject();

  w.Key("events");
  w.StartObject();
  key_int(w, "published", s.events_published.get());
  key_int(w, "delivered", s.events_delivered.get());
  key_int(w, "dropped", s.events_dropped.get());
  w.EndObject();

  latency_object(w, "fanout_latency_ms", s.fanout_latency, true);

  w.Key("refresh");
  w.StartObject();
  key_int(w, "ok", s.refresh_ok.get());
  key_int(w, "reused", s.refresh_reused.get());
  key_int(w, "failed", s.refresh_failed.get());
  w.EndObject();

  w.Key("logins");
  w.StartObject();
  key_int(w, "ok", s.logins_ok.get());
  key_int(w, "failed", s.logins_failed.get());
  w.EndObject();

  w.Key("http");
  w.StartObject();
  key_int(w, "requests", s.http_requests.get());
  key_int(w, "rate_limited", s.http_rate_limited.get());
  w.EndObject();

  w.Key("cluster");
  w.StartObject();
  w.Key("peers");
  w.StartArray();
  for (const auto& p : ctx.peers) {
    w.StartObject();
    w.Key("endpoint");
    w.String(p.endpoint);
    w.Key("up");
    w.Bool(p.up);
    key_int(w, "last_seen_ms_ago", p.last_seen_ms_ago);
    w.Key("replica");
    w.String(p.replica);
    w.EndObject();
  }
  w.EndArray();
  key_int(w, "received", s.cluster_received.get());
  key_int(w, "gaps", s.cluster_gaps.get());
  key_int(w, "sent", s.cluster_sent.get());
  key_int(w, "dropped", s.cluster_dropped.get());
  key_int(w, "rejected", s.cluster_rejected.get());
  key_int(w, "duplicates", s.cluster_duplicates.get());
  key_int(w, "epochs", s.cluster_epochs.get());
  key_int(w, "rechecks", s.cluster_rechecks.get());
  key_int(w, "repaired", s.cluster_repaired.get());
  latency_object(w, "latency_ms", s.cluster_latency, true);
  w.EndObject();

  w.Key("store");
  w.StartObject();
  w.Key("kind");
  w.String(ctx.store_kind);
  w.Key("up");
  w.Bool(s.store_up.load());
  latency_object(w, "latency_ms", s.store_latency, false);
  w.EndObject();

  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  char line[256];
  std::snprintf(line, sizeof line, "# HELP sessionhub_%s %s\n# TYPE sessionhub_%s %s\n", name, help,
                name, type);
  out += line;
  std::snprintf(line, sizeof line, "sessionhub_%s %.17g\n", name, value);
  out += line;
}

void histogram(std::string& out, const char* name, const char* help, const latency_histogram& h) {
  char line[256];
  std::snprintf(line, sizeof line, "# HELP sessionhub_%s %s\n# TYPE sessionhub_%s histogram\n",
                name, help, name);
  out += line;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_histogram::bucket_count; ++i) {
    cumulative += h.bucket(i);
    std::snprintf(line, sizeof line, "sessionhub_%s_bucket{le=\"%.6g\"} %llu\n", name,
                  latency_histogram::bound_us(i) / 1e6,
                  static_cast<unsigned long long>(cumulative));
    out += line;
  }
  cumulative += h.bucket(latency_histogram::bucket_count);
  std::snprintf(line, sizeof line,
                "sessionhub_%s_bucket{le=\"+Inf\"} %llu\nsessionhub_%s_sum %.9g\n"
                "sessionhub_%s_count %llu\n",
                name, static_cast<unsigned long long>(cumulative), name, h.sum_seconds(), name,
                static_cast<unsigned long long>(cumulative));
  out += line;
}

}  // namespace

std::string render_metrics(const hub_stats& s, const stats_context& ctx) {
  std::string out;
  out.reserve(16384);
  metric(out, "uptime_seconds", "gauge", "Seconds since start.", static_cast<double>(ctx.uptime_s));
  metric(out, "draining", "gauge", "1 while shutting down.", ctx.draining ? 1 : 0);
  // Every figure that is one counter of hub_stats.
  const struct {
    const char* name;
    const char* type;
    const char* help;
    const counter& value;
  } counters[] = {
      {"connections_current", "gauge", "Open WebSocket connections.", s.connections_current},
      {"connections_authenticated", "gauge", "Authenticated WebSocket connections.",
       s.connections_authenticated},
      {"connections_watching", "gauge", "Anonymous (watching) WebSocket connections.",
       s.connections_watching},
      {"connections_total", "counter", "WebSocket connections accepted.", s.connections_total},
      {"slow_consumer_kicks_total", "counter", "Connections closed as slow consumers.",
       s.slow_consumer_kicks},
      {"rate_limited_closes_total", "counter", "Connections closed for their rate.",
       s.rate_limited_closes},
      {"ws_auth_without_store_total", "counter",
       "WebSocket auths answered from a session with tabs here (no store read).",
       s.auth_without_store},
      {"ws_auth_in_upgrade_total", "counter",
       "WebSocket auths offered with the upgrade request (subprotocol sessionhub.auth.*).",
       s.auth_in_upgrade},
      {"events_published_total", "counter", "Events published.", s.events_published},
      {"events_delivered_total", "counter", "Event frames delivered to connections.",
       s.events_delivered},
      {"events_dropped_total", "counter", "Event frames dropped.", s.events_dropped},
      {"refresh_ok_total", "counter", "Successful refreshes.", s.refresh_ok},
      {"refresh_reused_total", "counter", "Refresh-token reuse detections.", s.refresh_reused},
      {"refresh_failed_total", "counter", "Refused refreshes.", s.refresh_failed},
      {"logins_ok_total", "counter", "Successful logins.", s.logins_ok},
      {"logins_failed_total", "counter", "Refused logins.", s.logins_failed},
      {"http_requests_total", "counter", "HTTP requests answered.", s.http_requests},
      {"http_rate_limited_total", "counter", "HTTP requests refused with 429.",
       s.http_rate_limited},
      {"cluster_received_total", "counter", "Cluster messages received.", s.cluster_received},
      {"cluster_gaps_total", "counter", "Cluster sequence gaps detected.", s.cluster_gaps},
      {"cluster_sent_total", "counter", "Cluster messages sent.", s.cluster_sent},
      {"cluster_dropped_total", "counter", "Cluster events dropped before sending (queue full).",
       s.cluster_dropped},
      {"cluster_rejected_total", "counter", "Malformed cluster messages refused.",
       s.cluster_rejected},
      {"cluster_duplicates_total", "counter", "Duplicate cluster messages dropped.",
       s.cluster_duplicates},
      {"cluster_epochs_total", "counter", "Peer restarts and first contacts seen.",
       s.cluster_epochs},
      {"cluster_rechecks_total", "counter", "Re-checks of local sessions against the store.",
       s.cluster_rechecks},
      {"cluster_repaired_total", "counter",
       "Local sessions a re-check found changed (event missed).", s.cluster_repaired},
  };
  for (const auto& c : counters)
    metric(out, c.name, c.type, c.help, static_cast<double>(c.value.get()));
  if (ctx.sessions_active >= 0) {
    metric(out, "sessions_active", "gauge", "Active sessions in the store.",
           static_cast<double>(ctx.sessions_active));
  }
  histogram(out, "fanout_latency_seconds", "Publish to delivery latency.", s.fanout_latency);
  metric(out, "store_up", "gauge", "1 when the store answered its last call.",
         s.store_up.load() ? 1 : 0);
  histogram(out, "store_latency_seconds", "Store call latency.", s.store_latency);
  histogram(out, "cluster_latency_seconds", "A peer's publish to its arrival here.",
            s.cluster_latency);
  metric(out, "cluster_peers_up", "gauge", "Cluster peers currently up.", [&] {
    double up = 0;
    for (const auto& p : ctx.peers)
      up += p.up ? 1 : 0;
    return up;
  }());
  return out;
}

}  // namespace shub
