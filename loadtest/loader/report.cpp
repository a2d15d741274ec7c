// report: see report.hpp.
#include "report.hpp"

#include <algorithm>
#include <cstdio>

namespace shub::load {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void print(const report& rep, const options& o) {
  std::printf("shubload %s against %s (%s:%u)\n", o.scenario.c_str(), o.target_name.c_str(),
              o.url.address().to_string().c_str(), o.url.port());
  for (const auto& [k, v] : rep.rows)
    std::printf("  %-34s %s\n", k.c_str(), v.c_str());
  if (!o.json_path.empty()) {
    FILE* f = std::fopen(o.json_path.c_str(), "w");
    if (f) {
      std::fputs((rep.json.text() + "\n").c_str(), f);
      std::fclose(f);
    }
  }
}

std::string latency_row(const latency_summary& s) {
  return fmt("p50 %.0f", s.p50) + fmt(" / p90 %.0f", s.p90) + fmt(" / p99 %.0f", s.p99) +
         fmt(" / p99.9 %.0f", s.p999) + fmt(" / max %.0f us", s.max);
}

void report_connections(report& rep, run_state& r, double took, const proc_sample& before,
                        const proc_sample& connected) {
  int ok = 0, failed = 0;
  std::string error;
  for (auto& l : r.lanes) {
    ok += l->subscribed.load();
    failed += l->failed.load();
    if (error.empty()) error = l->first_error;
  }
  rep.add("connections", std::to_string(ok) + " subscribed, " + std::to_string(failed) + " failed" +
                             (error.empty() ? "" : " (first: " + error + ")"));
  rep.add("connect + subscribe",
          fmt("%.0f /s", ok / std::max(took, 1e-9)) + fmt(" (%.2f s)", took));
  rep.json.integer("connections", ok)
      .integer("connect_failed", failed)
      .num("connect_s", took)
      .num("connects_per_s", ok / std::max(took, 1e-9));
  if (!error.empty()) rep.json.str("first_error", error);
  if (before.ok && connected.ok && ok > 0) {
    const double per_conn = static_cast<double>(connected.rss_kib - before.rss_kib) / ok;
    rep.add("server RSS", std::to_string(before.rss_kib) + " KiB before, " +
                              std::to_string(connected.rss_kib) + " KiB connected" +
                              fmt(" (%.2f KiB per connection)", per_conn));
    rep.json.integer("server_rss_before_kib", before.rss_kib)
        .integer("server_rss_connected_kib", connected.rss_kib)
        .num("server_rss_per_connection_kib", per_conn);
    // What the server spent on them: connections per second of its CPU is its rate on one
    // core, whatever else (the loader) limited the wall-clock rate.
    const double cpu = connected.cpu_s - before.cpu_s;
    if (cpu > 0) {
      rep.add("server CPU (connecting)", fmt("%.2f s", cpu) +
                                             fmt(" = %.1f us per connection", cpu * 1e6 / ok) +
                                             fmt(" = %.0f connections per core-second", ok / cpu));
      rep.json.num("connect_server_cpu_s", cpu)
          .num("connect_server_cpu_us", cpu * 1e6 / ok)
          .num("connects_per_server_cpu_s", ok / cpu);
    }
  }
}

void report_deliveries(report& rep, run_state& r, double wall_s, double loader_cpu_s,
                       const proc_sample& start, const proc_sample& end) {
  const std::int64_t received = total_received(r);
  const std::int64_t expected = r.expected.load();
  std::vector<std::int64_t> per_second;
  std::vector<std::pair<std::string, std::vector<std::uint32_t>>> groups;
  const std::size_t ngroups = r.lanes[0]->groups.size();
  std::vector<std::uint32_t> all;
  for (std::size_t g = 0; g < ngroups; ++g) {
    std::vector<std::uint32_t> v;
    for (auto& l : r.lanes) {
      auto& src = l->groups[g].latency_us;
      v.insert(v.end(), src.begin(), src.end());
    }
    all.insert(all.end(), v.begin(), v.end());
    groups.emplace_back(ngroups > 1 ? "replica " + std::to_string(g + 1) : r.o.target_name,
                        std::move(v));
  }
  for (auto& l : r.lanes) {
    if (per_second.size() < l->per_second.size()) per_second.resize(l->per_second.size());
    for (std::size_t s = 0; s < l->per_second.size(); ++s)
      per_second[s] += l->per_second[s];
  }
  int dropped = 0;
  for (auto& l : r.lanes)
    dropped += l->ended_after.load();
  const auto lat = summarise(all);
  const std::int64_t measured = static_cast<std::int64_t>(lat.count);
  const double rate = static_cast<double>(measured) / std::max(wall_s, 1e-9);
  rep.add("publishes", std::to_string(r.published) + " ok, " + std::to_string(r.publish_failed) +
                           " failed, " + std::to_string(r.publish_late) +
                           " ticks without a free publisher");
  rep.add("deliveries", std::to_string(received) + " of " + std::to_string(expected) + ", lost " +
                            std::to_string(std::max<std::int64_t>(0, expected - received)));
  rep.add("deliveries/s", fmt("%.0f", rate));
  rep.add("latency (all)", latency_row(lat));
  for (auto& [name, v] : groups) {
    if (ngroups > 1) rep.add("latency " + name, latency_row(summarise(v)));
  }
  const auto pub = summarise(r.publish_us);
  rep.add("publish request", latency_row(pub));
  if (dropped > 0) rep.add("connections lost while measuring", std::to_string(dropped));
  const double loader_share = loader_cpu_s / std::max(wall_s * r.o.threads, 1e-9);
  rep.add("loader CPU",
          fmt("%.2f s", loader_cpu_s) + fmt(" (%.0f%% of its threads)", loader_share * 100));
  const bool loader_bound = loader_share > 0.9;
  if (loader_bound) {
    rep.add("NOTE", "the loader was saturated: the server may do better than shown");
  }
  rep.json.integer("published", r.published)
      .integer("publish_failed", r.publish_failed)
      .integer("expected", expected)
      .integer("received", received)
      .integer("lost", std::max<std::int64_t>(0, expected - received))
      .num("deliveries_per_s", rate)
      .raw("latency_us", latency_json(lat))
      .raw("publish_us", latency_json(pub))
      .integer("connections_lost", dropped)
      .num("loader_cpu_s", loader_cpu_s)
      .num("wall_s", wall_s)
      .boolean("loader_bound", loader_bound)
      .raw("per_second", json_array(per_second));
  if (ngroups > 1) {
    std::string arr = "[";
    for (std::size_t g = 0; g < groups.size(); ++g) {
      arr += (g ? "," : "") + latency_json(summarise(groups[g].second));
    }
    rep.json.raw("latency_by_replica_us", arr + "]");
  }
  if (start.ok && end.ok) {
    const double cpu = end.cpu_s - start.cpu_s;
    rep.add("server CPU", fmt("%.2f s", cpu) + fmt(" = %.2f us per delivery",
                                                   cpu * 1e6 / std::max<double>(1, measured)));
    rep.add("server RSS at the end", std::to_string(end.rss_kib) + " KiB");
    rep.json.num("server_cpu_s", cpu)
        .num("server_cpu_us_per_delivery", cpu * 1e6 / std::max<double>(1, measured))
        .integer("server_rss_end_kib", end.rss_kib);
  }
  if (!r.o.plot_path.empty()) {
    const std::string err = plot(r.o.plot_path,
                                 r.o.scenario + " against " + r.o.target_name + ": " +
                                     std::to_string(r.o.connections) + " connections",
                                 groups, per_second);
    rep.add("plot", err.empty() ? r.o.plot_path : err);
  }
}

}  // namespace shub::load
