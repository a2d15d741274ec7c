// measure: see measure.hpp.
#include "measure.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

namespace shub::load {

proc_sample sample(const std::vector<int>& pids) {
  proc_sample out;
  out.ok = !pids.empty();
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (int pid : pids) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    bool rss = false;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) {
        out.rss_kib += std::strtoll(line.c_str() + 6, nullptr, 10);
        rss = true;
      }
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (!rss || close == std::string::npos) {
      out.ok = false;
      continue;
    }
    // After "(comm)": state is field 3; utime and stime are fields 14 and 15.
    std::istringstream fields(text.substr(close + 2));
    std::string f;
    long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14) utime = std::atoll(f.c_str());
      if (i == 15) stime = std::atoll(f.c_str());
    }
    out.cpu_s += static_cast<double>(utime + stime) / tick;
  }
  return out;
}

double self_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

latency_summary summarise(std::vector<std::uint32_t>& v) {
  latency_summary s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
    return static_cast<double>(v[std::min(i, v.size() - 1)]);
  };
  s.p50 = at(0.50);
  s.p90 = at(0.90);
  s.p99 = at(0.99);
  s.p999 = at(0.999);
  s.max = static_cast<double>(v.back());
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return s;
}

void json_out::key(const std::string& k) {
  if (!body_.empty()) body_ += ',';
  body_ += '"' + k + "\":";
}
json_out& json_out::num(const std::string& k, double v) {
  key(k);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", std::isfinite(v) ? v : 0.0);
  body_ += buf;
  return *this;
}
json_out& json_out::integer(const std::string& k, std::int64_t v) {
  key(k);
  body_ += std::to_string(v);
  return *this;
}
json_out& json_out::str(const std::string& k, const std::string& v) {
  key(k);
  body_ += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') {
      body_ += '\\';
      body_ += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      body_ += ' ';
    } else {
      body_ += c;
    }
  }
  body_ += '"';
  return *this;
}
json_out& json_out::boolean(const std::string& k, bool v) {
  key(k);
  body_ += v ? "true" : "false";
  return *this;
}
json_out& json_out::raw(const std::string& k, const std::string& json) {
  key(k);
  body_ += json;
  return *this;
}

std::string json_array(const std::vector<std::int64_t>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i)
    out += (i ? "," : "") + std::to_string(v[i]);
  return out + "]";
}

std::string latency_json(const latency_summary& s) {
  return json_out()
      .integer("count", static_cast<std::int64_t>(s.count))
      .num("p50", s.p50)
      .num("p90", s.p90)
      .num("p99", s.p99)
      .num("p999", s.p999)
      .num("max", s.max)
      .num("mean", s.mean)
      .text();
}

std::string plot(const std::string& svg_path, const std::string& title,
                 const std::vector<std::pair<std::string, std::vector<std::uint32_t>>>& groups,
                 const std::vector<std::int64_t>& per_second) {
  namespace fs = std::filesystem;
  const fs::path svg(svg_path);
  const fs::path stem = svg.parent_path() / svg.stem();
  std::vector<std::string> curves;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::vector<std::uint32_t> v = groups[g].second;
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const std::string file = stem.string() + ".latency" + std::to_string(g) + ".dat";
    std::ofstream out(file);
    // The share of deliveries slower than each latency, from 100 % down to the slowest one:
    // on a log scale the tail (p99, p99.9) is as visible as the median. ~1000 points.
    const std::size_t n = v.size();
    for (int k = 0; k <= 1000; ++k) {
      const double slower = std::pow(10.0, 2.0 - 6.0 * k / 1000.0);  // 100 % … 0.0001 %
      const double q = 1.0 - slower / 100.0;
      const auto i = std::min(n - 1, static_cast<std::size_t>(q * static_cast<double>(n)));
      out << std::max<std::uint32_t>(v[i], 1) << ' ' << slower << '\n';
      if (slower * static_cast<double>(n) < 100.0) break;  // past the slowest delivery
    }
    curves.push_back("'" + file + "' using 1:2 with lines lw 2 title '" + groups[g].first + "'");
  }
  const std::string rate_file = stem.string() + ".rate.dat";
  {
    std::ofstream out(rate_file);
    for (std::size_t s = 0; s < per_second.size(); ++s)
      out << s << ' ' << per_second[s] << '\n';
  }
  const std::string script = stem.string() + ".gp";
  {
    std::ofstream gp(script);
    gp << "set terminal svg size 1000,420 font 'sans,11' background rgb 'white'\n"
       << "set output '" << svg.string() << "'\n"
       << "set multiplot layout 1,2 title \"" << title << "\"\n"
       << "set title 'publish to delivery latency'\nset logscale xy\n"
       << "set xlabel 'microseconds'\nset ylabel '% of deliveries slower'\n"
       << "set yrange [*:100]\nset format y '%g'\nset grid\nset key top right\n";
    if (curves.empty()) {
      gp << "plot 1/0 notitle\n";
    } else {
      gp << "plot ";
      for (std::size_t i = 0; i < curves.size(); ++i)
        gp << (i ? ", " : "") << curves[i];
      gp << '\n';
    }
    gp << "unset logscale xy\nset title 'deliveries per second'\nset xlabel 'second'\n"
       << "set ylabel 'deliveries/s'\nset yrange [0:*]\nset offsets 0, 1, graph 0.1, 0\n"
       << "set key off\n"
       << "plot '" << rate_file << "' using 1:2 with steps lw 2\nunset multiplot\n";
  }
  const std::string cmd = "gnuplot '" + script + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "cannot run gnuplot";
  std::string output;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr)
    output += buf;
  const int rc = ::pclose(p);
  if (rc != 0) return "gnuplot failed (is it installed?): " + output;
  return {};
}

}  // namespace shub::load
