// hub_api: PROTOCOL §2 calls as one-liners for the tests, plus the checks every error test
// repeats (a problem+json body with its code; a validate/extend refusal). Functions named
// `*_ok` expect success and throw with the whole response otherwise, so a test that only
// needs a session to exist reads as one line and still fails loudly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "harness.hpp"

namespace shub::itest {

// Options for a hub whose test makes many logins or refreshes: both rate limits off.
[[nodiscard]] hub_options unlimited(std::vector<std::string> args = {});

[[nodiscard]] std::int64_t now_ms();
// A JSON string literal of `text`, quotes included.
[[nodiscard]] std::string json_quote(std::string_view text);

[[nodiscard]] std::pair<std::string, std::string> bearer(std::string_view token);
[[nodiscard]] std::pair<std::string, std::string> api_auth();   // Bearer test-api-key
[[nodiscard]] std::pair<std::string, std::string> json_type();  // Content-Type: application/json

// PROTOCOL §2 "Token response".
struct token_response {
  std::string access_token, token_type;
  std::optional<std::string> refresh_token;
  std::int64_t expires_in = 0;
  std::string sid, sub;
  std::int64_t expires_at = 0, idle_expires_at = 0, version = 0;
};
// nullopt unless the body has every field of a token response with its type.
[[nodiscard]] std::optional<token_response> parse_token_response(const http_response& response);

// POST /v1/login; `body_delivery` adds "token_delivery":"body".
http_response login(int port, std::string_view username, std::string_view password,
                    bool body_delivery = true, const header_list& extra_headers = {});
token_response login_ok(int port, std::string_view username = "alice",
                        std::string_view password = "wonderland", const header_list& extra = {});
// POST /v1/refresh with {"refresh_token":…,"token_delivery":"body"}.
http_response refresh(int port, std::string_view refresh_token);
token_response refresh_ok(int port, std::string_view refresh_token);
// POST /v1/sessions with the test API key; `members` are extra JSON members, e.g.
// R"("claims":{"role":"admin"})".
http_response create_session(int port, std::string_view sub, std::string_view members = {});
token_response create_session_ok(int port, std::string_view sub, std::string_view members = {});
http_response validate(int port, std::string_view access_token);
http_response extend(int port, std::string_view access_token);
// POST /v1/logout with a bearer token and an optional JSON body.
http_response logout(int port, std::string_view access_token, std::string_view body = {});
// DELETE /v1/sessions/<sid> with the test API key.
http_response delete_session(int port, std::string_view sid);
// POST /v1/publish with the test API key; `data_json` is the raw JSON of "data", which is
// left out when empty.
http_response publish(int port, std::string_view channel, std::string_view event,
                      std::string_view data_json = {});
// GET /v1/stats with the API key, parsed; throws unless 200 with a JSON object.
json stats(int port);
// One integer of /v1/stats, e.g. stat_value(port, "events", "delivered"); throws when missing.
std::int64_t stat_value(int port, std::string_view group, std::string_view name);
// GET /v1/sessions?sub=<sub>, parsed; throws unless 200 with a JSON object.
json list_sessions(int port, std::string_view sub);

struct jwt_parts {
  json header, claims;
  std::string signing_input, signature;  // signature decoded from base64url
};
// Splits and decodes a compact JWS without verifying it; nullopt when malformed.
[[nodiscard]] std::optional<jwt_parts> decode_jwt(std::string_view token);

// A problem+json response with this status and code, and type/title/status/code present.
[[nodiscard]] testing::AssertionResult is_problem(const http_response& response, int status,
                                                  std::string_view code);
// A /v1/validate or /v1/extend refusal: 401 problem+json, "active":false, this code and a
// `WWW-Authenticate: Bearer …` header.
[[nodiscard]] testing::AssertionResult is_token_refusal(const http_response& response,
                                                        std::string_view code);

}  // namespace shub::itest
