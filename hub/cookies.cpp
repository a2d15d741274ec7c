// cookies: parsing the Cookie header and writing the Set-Cookie values (RFC 6265).
#include "cookies.hpp"

#include <algorithm>

namespace shub {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::string attributes(const cookie_policy& p, std::string_view path, std::int64_t max_age_s) {
  std::string a = "; Path=" + std::string(path) + "; Max-Age=" + std::to_string(max_age_s) +
                  "; HttpOnly; SameSite=" + p.same_site;
  // SameSite=None is only honoured on Secure cookies.
  if (p.secure || p.same_site == "None") a += "; Secure";
  return a;
}

}  // namespace

std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    const std::string_view pair = trim(header.substr(0, semi));
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && trim(pair.substr(0, eq)) == name) {
      std::string_view v = trim(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
  return std::nullopt;
}

std::vector<std::string> refresh_cookies(const cookie_policy& p, std::string_view token,
                                         std::int64_t max_age_s) {
  const std::int64_t age = token.empty() ? 0 : std::max<std::int64_t>(max_age_s, 0);
  std::vector<std::string> out;
  for (std::string_view path : {"/v1/refresh", "/v1/logout"}) {
    out.push_back(std::string(refresh_cookie) + "=" + std::string(token) +
                  attributes(p, path, age));
  }
  return out;
}

std::string device_set_cookie(const cookie_policy& p, std::string_view did) {
  return std::string(device_cookie) + "=" + std::string(did) +
         attributes(p, "/", device_cookie_max_age_s);
}

bool plausible_device_id(std::string_view did) {
  return did.size() == 22 && std::all_of(did.begin(), did.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

}  // namespace shub
