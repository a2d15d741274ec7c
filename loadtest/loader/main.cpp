// shubload: the load generator for sessionhub and the servers it is compared with.
//
//   shubload <scenario> --target sessionhub|nchan|socketio|ws --url http://127.0.0.1:PORT [...]
//
// Scenarios:
//   connect    N connections (authenticated for sessionhub) at a ramp rate; holds them,
//              reports connections/s and resident memory per connection
//   fanout     N connections over S channels (sessions), publishes at R/s for D seconds with
//              POST; publish→delivery latency, deliveries/s, lost deliveries
//   broadcast  N connections on one channel (a `user:` channel for sessionhub), publishes as
//              fast as delivery allows (a window of publishes in flight): saturation
//   refresh    sessionhub only: concurrent refresh-token rotations, optionally racing tabs
//   cluster    fanout with subscribers spread over --sub-url replicas, publishes on --url;
//              latency per replica
//
// Single-threaded by default: on a 2-core machine the loader takes one core and the server
// the other. --threads spreads connections over more. Connections come from 127.0.0.1 up to
// 127.0.0.N (--sources; by default one per 20,000 connections) to pass the per-address
// ephemeral-port limit. --server-pid (repeatable) names the processes whose RSS and CPU are
// sampled before connecting, once connected and at the end. Output: a table on stdout,
// --json FILE, --plot FILE.svg (gnuplot).
#include <sys/resource.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "measure.hpp"
#include "wire.hpp"

namespace shub::load {
namespace {

namespace po = boost::program_options;
using namespace std::chrono_literals;

enum class kind { sessionhub, nchan, socketio, ws };

struct options {
  std::string scenario;
  kind target = kind::sessionhub;
  std::string target_name = "sessionhub";
  tcp::endpoint url;
  std::vector<tcp::endpoint> sub_urls;
  std::string api_key = "load-key";
  std::string origin = "http://load.example.test";
  int connections = 1000;
  int channels = 100;
  double rate = 1000;      // publishes/s (fanout, cluster)
  double duration_s = 10;  // publishing time
  int payload = 64;        // bytes of padding in each publish
  int threads = 1;
  int sources = 0;                // 0: one per 20,000 connections
  double connect_rate = 0;        // new connections per second, 0: as fast as possible
  int concurrency = 500;          // handshakes in flight at once
  int window = 4;                 // broadcast: publishes in flight (undelivered)
  int publishers = 16;            // HTTP connections for publishing
  int race = 1;                   // refresh: requests racing with one token
  double hold_s = 1;              // connect: hold the connections this long before the end sample
  double connect_timeout_s = 30;  // a connection not subscribed by then has failed
  std::vector<int> server_pids;
  std::string json_path, plot_path;
};

tcp::endpoint parse_url(const std::string& url) {
  // http://host:port[/...] or host:port
  std::string rest = url;
  const auto scheme = rest.find("://");
  if (scheme != std::string::npos) rest = rest.substr(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("url without a port: " + url);
  return {net::ip::make_address(rest.substr(0, colon)),
          static_cast<unsigned short>(std::stoi(rest.substr(colon + 1)))};
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

// --- what differs between servers ---------------------------------------------------------

// One subscription: the channel's name and, for sessionhub, the token that opens it.
struct channel_plan {
  std::string name;   // sessionhub: "session:<sid>" or "user:<sub>"; others: the channel
  std::string token;  // sessionhub: an access token of a session on that channel
};

std::string upgrade_request(const options& o, const tcp::endpoint& server, const channel_plan& c) {
  std::string path;
  std::string extra;
  switch (o.target) {
    case kind::sessionhub:
      path = "/v1/ws";
      extra = "Sec-WebSocket-Protocol: sessionhub.v1\r\nOrigin: " + o.origin + "\r\n";
      break;
    case kind::socketio:
      path = "/socket.io/?EIO=4&transport=websocket";
      break;
    case kind::nchan:
    case kind::ws:
      path = "/sub/" + c.name;
      break;
  }
  return "GET " + path + " HTTP/1.1\r\nHost: " + server.address().to_string() + ":" +
         std::to_string(server.port()) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         extra + "\r\n";
}

subscriber_script make_script(const options& o) {
  switch (o.target) {
    case kind::sessionhub:
      return {[](subscriber& s, std::string_view m) {
        if (m.empty()) {
          s.send_text(R"({"type":"auth","token":")" + s.note + "\"}");
        } else if (m.find(R"("type":"ready")") != std::string_view::npos) {
          s.mark_subscribed();
        }
      }};
    case kind::socketio:
      // Engine.IO 4 / Socket.IO 5 (loadtest/peers/README.md): open, connect, join a room.
      return {[](subscriber& s, std::string_view m) {
        if (m.empty()) return;
        if (m == "2") {
          s.send_text("3");
        } else if (m.substr(0, 2) == "0{") {
          s.send_text("40");
        } else if (m.substr(0, 2) == "40") {
          s.send_text(R"(42["join",)" + json_quote(s.note) + "]");
          s.mark_subscribed();
        }
      }};
    case kind::nchan:
    case kind::ws:
      return {[](subscriber& s, std::string_view m) {
        if (m.empty()) s.mark_subscribed();
      }};
  }
  return {};
}

// What a subscriber keeps in `note`: the token (sessionhub) or the room (socket.io).
std::string note_for(const options& o, const channel_plan& c) {
  return o.target == kind::sessionhub ? c.token : c.name;
}

std::string payload_json(std::int64_t seq, int pad) {
  return R"({"t":)" + std::to_string(now_us()) + R"(,"seq":)" + std::to_string(seq) +
         R"(,"pad":")" + std::string(static_cast<std::size_t>(std::max(pad, 0)), 'x') + "\"}";
}

struct publish_request {
  std::string target;
  std::vector<std::string> headers;
  std::string body;
};

publish_request make_publish(const options& o, const channel_plan& c, std::int64_t seq) {
  if (o.target == kind::sessionhub) {
    return {"/v1/publish",
            {"Authorization: Bearer " + o.api_key},
            R"({"channel":)" + json_quote(c.name) + R"(,"event":"load","data":)" +
                payload_json(seq, o.payload) + "}"};
  }
  return {"/pub/" + c.name, {}, payload_json(seq, o.payload)};
}

// Sessions for sessionhub: `count` of them, each with its own sub, or all of one sub.
std::vector<channel_plan> make_channels(const options& o, int count, bool one_user,
                                        std::vector<std::string>* refresh_tokens = nullptr) {
  std::vector<channel_plan> out;
  if (o.target != kind::sessionhub) {
    for (int i = 0; i < count; ++i)
      out.push_back({one_user ? "bcast" : "ch" + std::to_string(i), {}});
    return out;
  }
  net::io_context io;
  const std::string run = std::to_string(now_us() % 1000000000);
  for (int i = 0; i < count; ++i) {
    const std::string sub = one_user ? "load-" + run : "load-" + run + "-" + std::to_string(i);
    const auto [status, body] =
        post_sync(io, o.url, "/v1/sessions", {"Authorization: Bearer " + o.api_key},
                  R"({"sub":)" + json_quote(sub) + "}");
    if (status != 201 && status != 200) {
      throw std::runtime_error("POST /v1/sessions answered " + std::to_string(status) + ": " +
                               body);
    }
    const std::string token = find_string(body, "access_token");
    const std::string sid = find_string(body, "sid");
    if (refresh_tokens) refresh_tokens->push_back(find_string(body, "refresh_token"));
    out.push_back({one_user ? "user:" + sub : "session:" + sid, token});
  }
  return out;
}

// --- lanes: one io_context and thread each ------------------------------------------------

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

std::int64_t total_received(run_state& r) {
  std::int64_t n = 0;
  for (auto& l : r.lanes)
    n += l->received.load(std::memory_order_relaxed);
  return n;
}

void setup_lanes(run_state& r, int groups) {
  for (int t = 0; t < r.o.threads; ++t) {
    auto l = std::make_unique<lane>();
    l->script = make_script(r.o);
    l->groups.resize(static_cast<std::size_t>(groups));
    lane* lp = l.get();
    l->events.subscribed = [lp](subscriber&) { lp->subscribed.fetch_add(1); };
    l->events.delivery = [lp](subscriber& s, std::int64_t sent_us) {
      const std::int64_t now = now_us();
      lp->received.fetch_add(1, std::memory_order_relaxed);
      if (!lp->measuring) return;
      lp->groups[static_cast<std::size_t>(s.group())].latency_us.push_back(
          static_cast<std::uint32_t>(std::clamp<std::int64_t>(now - sent_us, 0, UINT32_MAX)));
      const auto second = static_cast<std::size_t>((now - lp->t0_us) / 1000000);
      if (second < 3600) {
        if (lp->per_second.size() <= second) lp->per_second.resize(second + 1);
        ++lp->per_second[second];
      }
    };
    l->events.ended = [lp](subscriber& s, std::string_view why) {
      if (s.is_subscribed()) {
        lp->ended_after.fetch_add(1);
      } else {
        lp->failed.fetch_add(1);
      }
      if (lp->first_error.empty()) lp->first_error = std::string(why);
    };
    r.lanes.push_back(std::move(l));
  }
}

// Opens o.connections subscribers over the lanes, connection i on channel i % channels and
// on replica (sub_url) i % sub_urls. Returns the seconds it took for all to be subscribed.
double connect_all(run_state& r) {
  const auto& o = r.o;
  const int sources = o.sources > 0 ? o.sources : std::max(1, (o.connections + 19999) / 20000);
  const std::vector<tcp::endpoint> servers = o.sub_urls.empty() ? std::vector{o.url} : o.sub_urls;
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  const int lanes = static_cast<int>(r.lanes.size());
  for (int t = 0; t < lanes; ++t) {
    threads.emplace_back([&, t] {
      lane& l = *r.lanes[static_cast<std::size_t>(t)];
      const int per_lane_concurrency = std::max(1, o.concurrency / lanes);
      const double per_lane_rate = o.connect_rate / lanes;
      int next = t;  // this lane's connections: t, t + lanes, ...
      int started = 0;
      net::steady_timer tick(l.io);
      std::function<void()> pump = [&] {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        while (next < o.connections) {
          const int in_flight = started - l.subscribed.load() - l.failed.load();
          if (in_flight >= per_lane_concurrency) break;
          if (per_lane_rate > 0 && started >= per_lane_rate * elapsed + 1) break;
          const int i = next;
          next += lanes;
          ++started;
          const auto& ch = r.channels[static_cast<std::size_t>(i) % r.channels.size()];
          const std::size_t group = static_cast<std::size_t>(i) % servers.size();
          auto s = std::make_shared<subscriber>(l.io, l.buffers, l.script, l.events, i,
                                                static_cast<int>(group));
          s->note = note_for(o, ch);
          const auto source = net::ip::make_address_v4(
              0x7f000001u + static_cast<std::uint32_t>((i / lanes) % sources));
          s->start({servers[group], source}, upgrade_request(o, servers[group], ch));
          l.subs.push_back(std::move(s));
        }
        if (next < o.connections) {
          tick.expires_after(1ms);
          tick.async_wait([&](boost::system::error_code) { pump(); });
        }
      };
      pump();
      // A connection the server never answers (its backlog full, its descriptors gone)
      // fails after --connect-timeout instead of holding the run forever.
      net::steady_timer sweep(l.io);
      const auto timeout_us = static_cast<std::int64_t>(o.connect_timeout_s * 1e6);
      std::function<void()> check = [&] {
        const std::int64_t now = now_us();
        for (auto& s : l.subs) {
          if (s->is_open() && !s->is_subscribed() && now - s->started_us() > timeout_us) {
            s->fail("no subscription within --connect-timeout");
          }
        }
        sweep.expires_after(250ms);
        sweep.async_wait([&](boost::system::error_code ec) {
          if (!ec) check();
        });
      };
      check();
      run_until(
          l.io,
          [&] { return next >= o.connections && l.subscribed.load() + l.failed.load() >= started; },
          std::chrono::hours(1));
      sweep.cancel();
      tick.cancel();
      l.io.poll();  // the cancelled waits finish while their timers still exist
    });
  }
  for (auto& th : threads)
    th.join();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.subs_per_channel.assign(r.channels.size(), 0);
  for (auto& l : r.lanes) {
    for (auto& s : l->subs) {
      if (s->is_subscribed() && s->is_open()) {
        ++r.subs_per_channel[static_cast<std::size_t>(s->id()) % r.channels.size()];
      }
    }
  }
  return took;
}

// Runs every lane's io_context on its own thread until `stop` is set; lane 0 runs on the
// calling thread so the publisher (on lane 0) needs no locking.
void run_lanes(run_state& r, const std::function<bool()>& main_done) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < r.lanes.size(); ++t) {
    threads.emplace_back([&, t] {
      auto& io = r.lanes[t]->io;
      while (!stop.load()) {
        if (io.stopped()) io.restart();
        io.run_for(5ms);
      }
    });
  }
  run_until(r.lanes[0]->io, main_done, std::chrono::hours(1));
  stop = true;
  for (auto& th : threads)
    th.join();
}

// Publishes on lane 0: at o.rate per second for o.duration_s (open loop), or — broadcast —
// whenever fewer than o.window publishes' deliveries are outstanding (closed loop).
void publish_phase(run_state& r, bool closed_loop) {
  const auto& o = r.o;
  lane& l0 = *r.lanes[0];
  std::vector<std::shared_ptr<http_client>> pool;
  for (int i = 0; i < o.publishers; ++i) {
    pool.push_back(std::make_shared<http_client>(l0.io, o.url, o.url.address().to_string()));
  }
  const std::int64_t t0 = now_us();
  for (auto& l : r.lanes) {
    l->t0_us = t0;
    l->measuring = true;
  }
  const auto end_us = t0 + static_cast<std::int64_t>(o.duration_s * 1e6);
  std::int64_t seq = 0;
  int in_flight = 0;
  const std::int64_t total_subs = std::max<std::int64_t>(1, r.subs_per_channel[0]);

  net::steady_timer tick(l0.io);
  bool finished = false;
  std::function<void()> pump = [&] {
    const std::int64_t now = now_us();
    if (now >= end_us) {
      finished = true;
      return;
    }
    std::int64_t due;
    if (closed_loop) {
      const std::int64_t outstanding = r.expected.load() - total_received(r);
      due = seq + std::max<std::int64_t>(0, (o.window * total_subs - outstanding) / total_subs);
    } else {
      due = static_cast<std::int64_t>(static_cast<double>(now - t0) * o.rate / 1e6);
    }
    while (seq < due) {
      auto it = std::find_if(pool.begin(), pool.end(), [](auto& c) { return !c->busy(); });
      if (it == pool.end()) {
        ++r.publish_late;
        break;
      }
      const std::size_t ch = closed_loop ? 0 : static_cast<std::size_t>(seq) % r.channels.size();
      const std::int64_t fanout = r.subs_per_channel[ch];
      r.expected += fanout;
      auto req = make_publish(o, r.channels[ch], seq);
      const std::int64_t sent = now_us();
      ++seq;
      ++in_flight;
      (*it)->post(std::move(req.target), std::move(req.headers), std::move(req.body),
                  [&, fanout, sent](int status, std::string) {
                    --in_flight;
                    if (status >= 200 && status < 300) {
                      ++r.published;
                      r.publish_us.push_back(static_cast<std::uint32_t>(now_us() - sent));
                    } else {
                      ++r.publish_failed;
                      r.expected -= fanout;
                    }
                    if (closed_loop) pump();
                  });
    }
    if (!finished) {
      tick.expires_after(closed_loop ? 200us : 500us);
      tick.async_wait([&](boost::system::error_code ec) {
        if (!ec) pump();
      });
    }
  };
  pump();
  run_lanes(r, [&] { return finished && in_flight == 0; });
  tick.cancel();
  // Drain: whatever is still on its way, up to 5 s.
  const auto drain_end = std::chrono::steady_clock::now() + 5s;
  run_lanes(r, [&] {
    return total_received(r) >= r.expected.load() || std::chrono::steady_clock::now() > drain_end;
  });
}

// --- reporting ----------------------------------------------------------------------------

struct report {
  json_out json;
  std::vector<std::pair<std::string, std::string>> rows;  // the human table
  void add(const std::string& name, const std::string& value) { rows.emplace_back(name, value); }
};

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

// --- scenarios ----------------------------------------------------------------------------

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

int refresh_scenario(const options& o) {
  if (o.target != kind::sessionhub) throw std::runtime_error("refresh: sessionhub only");
  const int workers = std::max(1, o.connections);
  const int race = std::max(1, o.race);
  const int sessions = std::max(1, workers / race);
  std::vector<std::string> rts;
  (void)make_channels(o, sessions, false, &rts);

  net::io_context io;
  std::vector<std::shared_ptr<http_client>> clients;
  for (int i = 0; i < sessions * race; ++i) {
    clients.push_back(std::make_shared<http_client>(io, o.url, o.url.address().to_string()));
  }
  std::int64_t rotations = 0, answers = 0, failures = 0, mismatched = 0;
  std::vector<std::uint32_t> latency;
  std::string first_error;
  const auto before = sample(o.server_pids);
  const double cpu0 = self_cpu_s();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::milliseconds(static_cast<int>(o.duration_s * 1000));
  bool stopping = false;
  int active = 0;
  int live = sessions;
  // Session s: `race` requests with its current token at once; when all are back, the next.
  std::function<void(int)> round = [&](int s) {
    if (stopping || std::chrono::steady_clock::now() >= end) {
      stopping = true;
      return;
    }
    auto results = std::make_shared<std::vector<std::string>>();
    auto pending = std::make_shared<int>(race);
    const std::int64_t sent = now_us();
    ++active;
    for (int k = 0; k < race; ++k) {
      clients[static_cast<std::size_t>(s * race + k)]->post(
          "/v1/refresh", {},
          R"({"refresh_token":)" + json_quote(rts[static_cast<std::size_t>(s)]) +
              R"(,"token_delivery":"body"})",
          [&, s, results, pending, sent](int status, std::string body) {
            ++answers;
            latency.push_back(static_cast<std::uint32_t>(now_us() - sent));
            if (status == 200) {
              results->push_back(find_string(body, "refresh_token"));
            } else {
              ++failures;
              if (first_error.empty()) first_error = std::to_string(status) + " " + body;
            }
            if (--*pending > 0) return;
            --active;
            if (results->empty()) {  // every request failed: this session is done for
              if (--live == 0) stopping = true;
              return;
            }
            if (std::any_of(results->begin(), results->end(),
                            [&](const std::string& t) { return t != results->front(); })) {
              ++mismatched;
            }
            ++rotations;
            rts[static_cast<std::size_t>(s)] = results->front();
            round(s);
          });
    }
  };
  for (int s = 0; s < sessions; ++s)
    round(s);
  run_until(
      io, [&] { return stopping && active == 0; },
      std::chrono::milliseconds(static_cast<int>(o.duration_s * 1000) + 30000));
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto after = sample(o.server_pids);
  const double loader_cpu = self_cpu_s() - cpu0;
  auto lat = summarise(latency);

  report rep;
  rep.json.str("scenario", "refresh")
      .str("target", o.target_name)
      .integer("sessions", sessions)
      .integer("race", race);
  rep.add("sessions x racing requests", std::to_string(sessions) + " x " + std::to_string(race));
  rep.add("rotations", std::to_string(rotations) + fmt(" (%.0f /s)", rotations / wall));
  rep.add("requests",
          std::to_string(answers) + fmt(" (%.0f /s), ", answers / wall) + std::to_string(failures) +
              " failed" +
              (first_error.empty() ? "" : " (first: " + first_error.substr(0, 120) + ")"));
  rep.add("racing answers that differed", std::to_string(mismatched));
  rep.add("request latency", latency_row(lat));
  rep.add("loader CPU", fmt("%.2f s", loader_cpu) + fmt(" (%.0f%%)", 100 * loader_cpu / wall));
  rep.json.integer("rotations", rotations)
      .num("rotations_per_s", rotations / wall)
      .integer("requests", answers)
      .integer("failed", failures)
      .integer("racing_mismatches", mismatched)
      .raw("latency_us", latency_json(lat))
      .num("wall_s", wall)
      .num("loader_cpu_s", loader_cpu)
      .boolean("loader_bound", loader_cpu / wall > 0.9);
  if (before.ok && after.ok) {
    rep.add("server CPU",
            fmt("%.2f s", after.cpu_s - before.cpu_s) +
                fmt(" = %.1f us per rotation",
                    (after.cpu_s - before.cpu_s) * 1e6 / std::max<std::int64_t>(1, rotations)));
    rep.json.num("server_cpu_s", after.cpu_s - before.cpu_s);
  }
  print(rep, o);
  return failures == 0 && mismatched == 0 ? 0 : 1;
}

}  // namespace
}  // namespace shub::load

int main(int argc, char** argv) {
  using namespace shub::load;
  // One descriptor per connection: the soft limit up to the hard one.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  namespace po = boost::program_options;
  options o;
  std::string target = "sessionhub", url;
  std::vector<std::string> sub_urls;
  po::options_description d("shubload <connect|fanout|broadcast|refresh|cluster> [options]");
  d.add_options()("help,h", "this text")("target", po::value(&target)->default_value(target),
                                         "sessionhub, nchan, socketio or ws")(
      "url", po::value(&url)->required(),
      "the server (publishes, sessions): http://127.0.0.1:PORT")(
      "sub-url", po::value(&sub_urls)->composing(), "cluster: a replica for subscribers (repeat)")(
      "api-key", po::value(&o.api_key)->default_value(o.api_key), "sessionhub server API key")(
      "origin", po::value(&o.origin)->default_value(o.origin), "Origin of the WebSocket upgrades")(
      "connections,n", po::value(&o.connections)->default_value(o.connections),
      "subscribers (refresh: concurrent requests)")(
      "channels,s", po::value(&o.channels)->default_value(o.channels),
      "channels (sessions for sessionhub)")("rate,r", po::value(&o.rate)->default_value(o.rate),
                                            "publishes per second (fanout, cluster)")(
      "duration,d", po::value(&o.duration_s)->default_value(o.duration_s),
      "seconds of publishing (or refreshing)")(
      "payload", po::value(&o.payload)->default_value(o.payload), "padding bytes in each publish")(
      "threads", po::value(&o.threads)->default_value(o.threads), "loader threads")(
      "sources", po::value(&o.sources)->default_value(o.sources),
      "source addresses 127.0.0.1..N (0: one per 20,000 connections)")(
      "connect-rate", po::value(&o.connect_rate)->default_value(o.connect_rate),
      "new connections per second (0: unlimited)")(
      "concurrency", po::value(&o.concurrency)->default_value(o.concurrency),
      "handshakes in flight")("window", po::value(&o.window)->default_value(o.window),
                              "broadcast: publishes whose deliveries may be outstanding")(
      "publishers", po::value(&o.publishers)->default_value(o.publishers),
      "HTTP connections for publishing")("race", po::value(&o.race)->default_value(o.race),
                                         "refresh: requests sent at once with one token")(
      "hold", po::value(&o.hold_s)->default_value(o.hold_s),
      "connect: seconds to hold the connections")(
      "connect-timeout", po::value(&o.connect_timeout_s)->default_value(o.connect_timeout_s),
      "seconds for a connection to be subscribed")(
      "server-pid", po::value(&o.server_pids)->composing(), "a server process to sample (repeat)")(
      "json", po::value(&o.json_path), "write the results as JSON here")(
      "plot", po::value(&o.plot_path), "write an SVG plot here (gnuplot)");
  po::positional_options_description pos;
  pos.add("scenario", 1);
  po::options_description hidden;
  hidden.add_options()("scenario", po::value(&o.scenario));
  po::options_description all;
  all.add(d).add(hidden);
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    if (vm.count("help") || !vm.count("scenario")) {
      std::cout << d << "\n";
      return vm.count("help") ? 0 : 2;
    }
    po::notify(vm);
    o.target_name = target;
    if (target == "sessionhub") {
      o.target = kind::sessionhub;
    } else if (target == "nchan") {
      o.target = kind::nchan;
    } else if (target == "socketio") {
      o.target = kind::socketio;
    } else if (target == "ws") {
      o.target = kind::ws;
    } else {
      throw std::runtime_error("unknown --target " + target);
    }
    o.url = parse_url(url);
    for (const auto& u : sub_urls)
      o.sub_urls.push_back(parse_url(u));
    if (o.threads < 1 || o.connections < 1 || o.channels < 1 || o.rate <= 0 || o.duration_s <= 0) {
      throw std::runtime_error(
          "--threads, --connections, --channels, --rate and --duration must be positive");
    }
    if (o.scenario == "refresh") return refresh_scenario(o);
    if (o.scenario == "connect" || o.scenario == "fanout" || o.scenario == "broadcast") {
      return subscription_scenario(o);
    }
    if (o.scenario == "cluster") {
      if (o.sub_urls.empty()) throw std::runtime_error("cluster: give the replicas with --sub-url");
      return subscription_scenario(o);
    }
    throw std::runtime_error("unknown scenario " + o.scenario);
  } catch (const std::exception& e) {
    std::cerr << "shubload: " << e.what() << "\n";
    return 2;
  }
}
