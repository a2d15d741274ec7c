// measure: what the loader reads off the server and itself, and how it reports it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace shub::load {

// Resident memory and CPU time of a set of processes (the server's), from /proc.
struct proc_sample {
  std::int64_t rss_kib = 0;
  double cpu_s = 0;  // user + system since each process started
  bool ok = false;   // every pid was readable
};
[[nodiscard]] proc_sample sample(const std::vector<int>& pids);

// This process's CPU time (user + system), seconds.
[[nodiscard]] double self_cpu_s();

// Percentiles of a sample set (sorts it). Values in microseconds.
struct latency_summary {
  std::size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};
[[nodiscard]] latency_summary summarise(std::vector<std::uint32_t>& samples_us);

// A flat JSON object built field by field (numbers, strings, nested objects as raw text).
class json_out {
 public:
  json_out& num(const std::string& key, double v);
  json_out& integer(const std::string& key, std::int64_t v);
  json_out& str(const std::string& key, const std::string& v);
  json_out& boolean(const std::string& key, bool v);
  json_out& raw(const std::string& key, const std::string& json);
  [[nodiscard]] std::string text() const { return "{" + body_ + "}"; }

 private:
  void key(const std::string& k);
  std::string body_;
};
[[nodiscard]] std::string json_array(const std::vector<std::int64_t>& v);
[[nodiscard]] std::string latency_json(const latency_summary& s);

// Writes `<stem>.svg` with gnuplot: the latency distribution (the share of deliveries slower
// than each latency, both axes logarithmic, one curve per group) and deliveries per second
// over time. Returns an error text, empty on success.
std::string plot(
    const std::string& svg_path, const std::string& title,
    const std::vector<std::pair<std::string, std::vector<std::uint32_t>>>& sorted_groups,
    const std::vector<std::int64_t>& per_second);

}  // namespace shub::load
