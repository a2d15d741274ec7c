// lanes: see lanes.hpp.
#include "lanes.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace shub::load {

using namespace std::chrono_literals;

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

double connect_all(run_state& r) {
  const auto& o = r.o;
  // Linux gives connect() the odd half of the ephemeral ports first, and past that half its
  // search for a free port slows every connect down (3,400/s against 15,800/s for 19,900
  // connections from one address against four): a source per 5,000 connections keeps each
  // well inside it.
  const int sources = o.sources > 0 ? o.sources : std::max(1, (o.connections + 4999) / 5000);
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

}  // namespace shub::load
