// options: see options.hpp.
#include "options.hpp"

#include <boost/program_options.hpp>

#include <iostream>
#include <stdexcept>

namespace shub::load {
namespace {

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

}  // namespace

std::optional<int> parse_options(int argc, char** argv, options& o) {
  namespace po = boost::program_options;
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
      "source addresses 127.0.0.1..N (0: one per 5,000 connections)")(
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
      "auth-in-upgrade", po::bool_switch(&o.auth_in_upgrade),
      "sessionhub: offer the token as subprotocol sessionhub.auth.<token> instead of sending "
      "an auth frame")("server-pid", po::value(&o.server_pids)->composing(),
                       "a server process to sample (repeat)")("json", po::value(&o.json_path),
                                                              "write the results as JSON here")(
      "plot", po::value(&o.plot_path), "write an SVG plot here (gnuplot)");
  po::positional_options_description pos;
  pos.add("scenario", 1);
  po::options_description hidden;
  hidden.add_options()("scenario", po::value(&o.scenario));
  po::options_description all;
  all.add(d).add(hidden);
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
  return std::nullopt;
}

}  // namespace shub::load
