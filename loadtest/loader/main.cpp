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
// 127.0.0.N (--sources; by default one per 5,000 connections) to stay well inside each
// address's ephemeral ports. --server-pid (repeatable) names the processes whose RSS and CPU are
// sampled before connecting, once connected and at the end. Output: a table on stdout,
// --json FILE, --plot FILE.svg (gnuplot).
//
// The parts: options.hpp (the command line), plan.hpp (what differs between servers),
// lanes.hpp (the threads, connecting, publishing), report.hpp (the table and the JSON),
// scenarios.hpp (subscription.cpp, refresh.cpp), wire.hpp and measure.hpp.
#include <sys/resource.h>

#include <exception>
#include <iostream>
#include <stdexcept>

#include "options.hpp"
#include "scenarios.hpp"

int main(int argc, char** argv) {
  using namespace shub::load;
  // One descriptor per connection: the soft limit up to the hard one.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  options o;
  try {
    if (const auto status = parse_options(argc, argv, o)) return *status;
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
