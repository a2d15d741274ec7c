// report: what a scenario found, as a table on stdout and as the JSON object of --json.
// report_connections() and report_deliveries() add the rows and fields that the subscription
// scenarios (connect, fanout, broadcast, cluster) share; fmt() and latency_row() format values
// for a row.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lanes.hpp"
#include "measure.hpp"
#include "options.hpp"

namespace shub::load {

struct report {
  json_out json;
  std::vector<std::pair<std::string, std::string>> rows;  // the human table
  void add(const std::string& name, const std::string& value) { rows.emplace_back(name, value); }
};

// `v` formatted with the printf format `f` (one conversion).
std::string fmt(const char* f, double v);

// Prints the table on stdout and writes the JSON to --json, if given.
void print(const report& rep, const options& o);

// "p50 … / p90 … / p99 … / p99.9 … / max … us".
std::string latency_row(const latency_summary& s);

// The connections subscribed and failed, how fast, and the server's memory and CPU for them.
void report_connections(report& rep, run_state& r, double took, const proc_sample& before,
                        const proc_sample& connected);

// The publishes, deliveries (lost, per second, latency overall and per replica), the loader's
// CPU and the server's, and the --plot.
void report_deliveries(report& rep, run_state& r, double wall_s, double loader_cpu_s,
                       const proc_sample& start, const proc_sample& end);

}  // namespace shub::load
