// log: JSON lines on stdout, written whole under a mutex so lines from several threads
// never interleave, and flushed at once so a supervisor (or a test) sees them live.
#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace shub::log {

namespace {

std::atomic<int> min_level{static_cast<int>(level::info)};
std::mutex out_mutex;

std::string_view level_name(level l) {
  switch (l) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}

void format_now(char (&out)[32]) {
  using namespace std::chrono;
  const auto now = std::chrono::system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const std::size_t n = std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(out + n, sizeof out - n, ".%03dZ", static_cast<int>(ms % 1000));
}

}  // namespace

void set_min_level(level lvl) {
  min_level.store(static_cast<int>(lvl));
}

bool parse_level(std::string_view name, level& out) {
  for (level l : {level::debug, level::info, level::warn, level::error}) {
    if (name == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

line::line(level lvl, std::string_view msg) : w_(buf_) {
  if (static_cast<int>(lvl) < min_level.load(std::memory_order_relaxed)) {
    done_ = true;
    return;
  }
  char ts[32];
  format_now(ts);
  w_.StartObject();
  w_.Key("ts");
  w_.String(ts);
  w_.Key("level");
  const auto ln = level_name(lvl);
  w_.String(ln.data(), static_cast<rapidjson::SizeType>(ln.size()));
  w_.Key("msg");
  w_.String(msg.data(), static_cast<rapidjson::SizeType>(msg.size()));
}

line::~line() {
  emit();
}

line& line::str(std::string_view key, std::string_view value) {
  if (done_) return *this;
  w_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  return *this;
}

line& line::num(std::string_view key, std::int64_t value) {
  if (done_) return *this;
  w_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w_.Int64(value);
  return *this;
}

line& line::real(std::string_view key, double value) {
  if (done_) return *this;
  w_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w_.Double(value);
  return *this;
}

line& line::flag(std::string_view key, bool value) {
  if (done_) return *this;
  w_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w_.Bool(value);
  return *this;
}

void line::emit() {
  if (done_) return;
  done_ = true;
  w_.EndObject();
  std::lock_guard lock(out_mutex);
  std::fwrite(buf_.GetString(), 1, buf_.GetSize(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace shub::log
