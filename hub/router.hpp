// router: (method, path) → handler, for every HTTP endpoint of PROTOCOL §2.
// Patterns are literal segments and {params}; a param matches one non-empty segment and is
// handed to the handler percent-decoded. A path that exists under another method yields
// 405 with an Allow header; anything else 404.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http_util.hpp"

namespace shub {

struct request_context {
  const http_request& req;
  std::string_view path;
  std::string_view query;
  std::vector<std::string> params;
  std::string client_ip;
  bool cookie_secure = true;  // false when the listener is plain HTTP on loopback
};

// Where a handler runs: inline on the connection's network thread (cheap, never blocks) or
// on the blocking pool (store calls, signing, password hashing).
enum class run_on { network, pool };

using handler_fn = std::function<http_response(request_context&)>;

struct route {
  http::verb method;
  std::vector<std::string> segments;  // "{x}" marks a param
  run_on where;
  handler_fn handler;
};

struct route_match {
  const route* found = nullptr;
  std::vector<std::string> params;
  std::string allow;  // when the path is known under other methods
  bool bad_escape = false;
};

class router {
 public:
  void add(http::verb method, std::string_view pattern, run_on where, handler_fn handler);
  [[nodiscard]] route_match match(http::verb method, std::string_view path) const;

 private:
  std::vector<route> routes_;
};

}  // namespace shub
