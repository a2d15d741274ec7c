// cookies: the hub's two cookies (PROTOCOL §1).
// shub_rt carries the refresh token: HttpOnly, SameSite, Secure unless the listener is
// plain HTTP on loopback, and sent only to the two endpoints that need it — one cookie per
// path, /v1/refresh and /v1/logout, since a cookie has one Path. shub_did names the browser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shub {

inline constexpr std::string_view refresh_cookie = "shub_rt";
inline constexpr std::string_view device_cookie = "shub_did";
inline constexpr std::int64_t device_cookie_max_age_s = 400LL * 86400;  // browsers' own cap

struct cookie_policy {
  bool secure = true;
  std::string same_site = "Strict";
};

// The value of cookie `name` in a Cookie request header, if present.
[[nodiscard]] std::optional<std::string_view> cookie_value(std::string_view header,
                                                           std::string_view name);

// Set-Cookie header values that store (or, with an empty token, clear) the refresh token.
[[nodiscard]] std::vector<std::string> refresh_cookies(const cookie_policy& p,
                                                       std::string_view token,
                                                       std::int64_t max_age_s);
[[nodiscard]] std::string device_set_cookie(const cookie_policy& p, std::string_view did);

// A device id we issued has this shape (base64url, 22 chars); anything else is ignored.
[[nodiscard]] bool plausible_device_id(std::string_view did);

}  // namespace shub
