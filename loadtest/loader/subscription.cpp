// subscription: the scenarios that subscribe connections (connect, fanout, broadcast,
// cluster); see scenarios.hpp.
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "lanes.hpp"
#include "measure.hpp"
#include "plan.hpp"
#include "report.hpp"
#include "scenarios.hpp"

namespace shub::load {

using namespace std::chrono_literals;

int subscription_scenario(options o) {
  run_state r;
  const bool broadcast = o.scenario == "broadcast";
  const bool connect_only = o.scenario == "connect";
  if (broadcast) o.channels = 1;
  if (o.target == kind::sessionhub && broadcast) {
    // One user, many sessions (a tab limit applies per session): 100 tabs per session.
    o.channels = 1;
  }
  r.o = o;
  const int sessions = o.target == kind::sessionhub && broadcast
                           ? std::max(1, (o.connections + 99) / 100)
                           : o.channels;
  r.channels = make_channels(o, sessions, broadcast);
  if (broadcast && o.target == kind::sessionhub) {
    // All sessions are on one user channel: publish there, count subscribers there.
    const std::string user = r.channels[0].name;
    for (auto& c : r.channels)
      c.name = user;
  }
  setup_lanes(r, std::max<int>(1, static_cast<int>(o.sub_urls.size())));

  report rep;
  rep.json.str("scenario", o.scenario)
      .str("target", o.target_name)
      .integer("connections_requested", o.connections)
      .integer("channels", static_cast<std::int64_t>(r.channels.size()))
      .integer("threads", o.threads);
  const auto before = sample(o.server_pids);
  const double took = connect_all(r);
  if (broadcast) {
    // Every connection is on the one channel, whatever session it used.
    int n = 0;
    for (int c : r.subs_per_channel)
      n += c;
    r.subs_per_channel.assign(r.channels.size(), 0);
    r.subs_per_channel[0] = n;
  }
  std::this_thread::sleep_for(500ms);  // let subscriptions settle (socket.io joins)
  const auto connected = sample(o.server_pids);
  report_connections(rep, r, took, before, connected);

  if (connect_only) {
    run_lanes(r, [&, until = std::chrono::steady_clock::now() +
                             std::chrono::milliseconds(static_cast<int>(o.hold_s * 1000))] {
      return std::chrono::steady_clock::now() >= until;
    });
    const auto end = sample(o.server_pids);
    if (end.ok) rep.add("server RSS at the end", std::to_string(end.rss_kib) + " KiB");
  } else {
    rep.json.num("rate", broadcast ? 0 : o.rate)
        .num("duration_s", o.duration_s)
        .integer("payload", o.payload);
    const auto start = sample(o.server_pids);
    const double cpu0 = self_cpu_s();
    const auto t0 = std::chrono::steady_clock::now();
    publish_phase(r, broadcast);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto end = sample(o.server_pids);
    report_deliveries(rep, r, std::min(wall, o.duration_s + 5), self_cpu_s() - cpu0, start, end);
  }
  print(rep, o);
  for (auto& l : r.lanes) {
    for (auto& s : l->subs)
      s->close();
  }
  return 0;
}

}  // namespace shub::load
