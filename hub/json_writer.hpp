// json_writer: the RapidJSON SAX writer every frame, stats page and response is written
// with, and the key/value pairs they all spell out. Writing goes straight into one buffer;
// no DOM is built.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace shub {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void key_str(json_writer& w, const char* key, std::string_view v) {
  w.Key(key);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

inline void key_int(json_writer& w, const char* key, std::int64_t v) {
  w.Key(key);
  w.Int64(v);
}

inline void key_uint(json_writer& w, const char* key, std::uint64_t v) {
  w.Key(key);
  w.Uint64(v);
}

inline void key_bool(json_writer& w, const char* key, bool v) {
  w.Key(key);
  w.Bool(v);
}

// `{...}` with `fill(w)` writing the members.
template <class F>
[[nodiscard]] std::string json_object(F&& fill) {
  rapidjson::StringBuffer buf;
  json_writer w(buf);
  w.StartObject();
  fill(w);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace shub
