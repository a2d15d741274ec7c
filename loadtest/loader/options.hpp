// options: what one run of shubload is told on its command line (the scenario, the server and
// its kind, the sizes, rates and times), and parse_options(), which reads it with
// boost::program_options.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wire.hpp"

namespace shub::load {

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
  int sources = 0;                // 0: one per 5,000 connections
  double connect_rate = 0;        // new connections per second, 0: as fast as possible
  int concurrency = 500;          // handshakes in flight at once
  int window = 4;                 // broadcast: publishes in flight (undelivered)
  int publishers = 16;            // HTTP connections for publishing
  int race = 1;                   // refresh: requests racing with one token
  double hold_s = 1;              // connect: hold the connections this long before the end sample
  double connect_timeout_s = 30;  // a connection not subscribed by then has failed
  bool auth_in_upgrade = false;   // sessionhub: the token in the upgrade (sessionhub.auth.*)
  std::vector<int> server_pids;
  std::string json_path, plot_path;
};

// Fills `o` from the command line. Returns an exit status when the run ends there (--help, or
// no scenario: the usage is printed on stdout), nothing when there is a scenario to run.
// Throws on a bad command line.
std::optional<int> parse_options(int argc, char** argv, options& o);

}  // namespace shub::load
