// refresh: the refresh scenario; see scenarios.hpp.
#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "measure.hpp"
#include "plan.hpp"
#include "report.hpp"
#include "scenarios.hpp"
#include "wire.hpp"

namespace shub::load {

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

}  // namespace shub::load
