// log: one JSON object per line on standard output, the only log format of the hub.
// Every line has ts (UTC, ISO 8601 with milliseconds), level and msg; context fields follow.
// Values are escaped by RapidJSON, so hostile input can never break a line. Tokens are
// never passed here; log sids and subs instead.
//
//   log::info("login").str("sid", s.sid).str("sub", s.sub).emit();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace shub::log {

enum class level { debug, info, warn, error };

class line {
 public:
  line(level lvl, std::string_view msg);
  line(const line&) = delete;
  line& operator=(const line&) = delete;
  ~line();  // emits if emit() was not called

  line& str(std::string_view key, std::string_view value);
  line& num(std::string_view key, std::int64_t value);
  line& real(std::string_view key, double value);
  line& flag(std::string_view key, bool value);
  void emit();

 private:
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
  bool done_ = false;
};

inline line debug(std::string_view msg) {
  return line(level::debug, msg);
}
inline line info(std::string_view msg) {
  return line(level::info, msg);
}
inline line warn(std::string_view msg) {
  return line(level::warn, msg);
}
inline line error(std::string_view msg) {
  return line(level::error, msg);
}

// Lines below this level are dropped (default info).
void set_min_level(level lvl);
[[nodiscard]] bool parse_level(std::string_view name, level& out);

}  // namespace shub::log
