// fuzz_query: hub/http_util's query and percent-decoding helpers, url_decode and
// query_param. The input is a query string (what follows `?` in a request target).
// Properties: decoding never lengthens; text without '%' (and '+', for query values)
// decodes to itself; percent-encoding what was decoded decodes back to it; query_param
// finds the first pair's name and returns exactly its value decoded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "hub/http_util.hpp"

namespace {

using namespace shub;

std::string percent_encode(std::string_view bytes) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += '%';
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

void decode(std::string_view s, bool plus_is_space) {
  const auto d = url_decode(s, plus_is_space);
  if (s.find('%') == std::string_view::npos) {
    FUZZ_CHECK(d.has_value());
    if (!plus_is_space || s.find('+') == std::string_view::npos) FUZZ_CHECK(*d == s);
  }
  if (!d) return;
  FUZZ_CHECK(d->size() <= s.size());
  const auto again = url_decode(percent_encode(*d), plus_is_space);
  FUZZ_CHECK(again && *again == *d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  decode(query, false);  // as the router decodes a path segment
  decode(query, true);   // as a query value

  // The hub asks for these; each answer is decoded text no longer than the query.
  for (const char* name : {"sub", "format"}) {
    if (const auto v = query_param(query, name)) FUZZ_CHECK(v->size() <= query.size());
  }
  // The first pair is always found under its own name.
  const std::string_view pair = query.substr(0, query.find('&'));
  const auto eq = pair.find('=');
  const std::string_view name = pair.substr(0, eq);
  if (!query.empty()) {
    const auto found = query_param(query, name);
    const auto expected =
        url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    FUZZ_CHECK(found.has_value() == expected.has_value());
    if (found) FUZZ_CHECK(*found == *expected);
  }
  return 0;
}
