// hub_api: the PROTOCOL §2 shortcuts and response checks declared in hub_api.hpp.
#include "hub_api.hpp"

#include <chrono>
#include <stdexcept>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "auth/base64url.hpp"

namespace shub::itest {

hub_options unlimited(std::vector<std::string> args) {
  args.insert(args.end(), {"--login-rate-limit", "0", "--refresh-rate-limit", "0"});
  return with_args(std::move(args));
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string json_quote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return {buffer.GetString(), buffer.GetSize()};
}

std::pair<std::string, std::string> bearer(std::string_view token) {
  return {"Authorization", "Bearer " + std::string(token)};
}

std::pair<std::string, std::string> api_auth() {
  return bearer(test_api_key);
}

std::pair<std::string, std::string> json_type() {
  return {"Content-Type", "application/json"};
}

std::optional<token_response> parse_token_response(const http_response& response) {
  const json body = response.json_body();
  if (!body.IsObject() || !body.HasMember("session") || !body["session"].IsObject())
    return std::nullopt;
  const auto& s = body["session"];
  token_response t;
  const auto access = json_string(body, "access_token");
  const auto type = json_string(body, "token_type");
  const auto expires_in = json_int(body, "expires_in");
  const auto sid = json_string(s, "sid");
  const auto sub = json_string(s, "sub");
  const auto expires_at = json_int(s, "expires_at");
  const auto idle = json_int(s, "idle_expires_at");
  const auto version = json_int(s, "version");
  if (!access || !type || !expires_in || !sid || !sub || !expires_at || !idle || !version)
    return std::nullopt;
  t.access_token = *access;
  t.token_type = *type;
  t.refresh_token = json_string(body, "refresh_token");
  t.expires_in = *expires_in;
  t.sid = *sid;
  t.sub = *sub;
  t.expires_at = *expires_at;
  t.idle_expires_at = *idle;
  t.version = *version;
  return t;
}

namespace {

token_response expect_tokens(const http_response& response, int status, const char* what) {
  auto tokens = response.status == status ? parse_token_response(response) : std::nullopt;
  if (!tokens) throw std::runtime_error(std::string(what) + " failed: " + response.describe());
  return *tokens;
}

}  // namespace

http_response login(int port, std::string_view username, std::string_view password,
                    bool body_delivery, const header_list& extra_headers) {
  header_list headers = {json_type()};
  headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
  return http_request(port, "POST", "/v1/login", headers,
                      "{\"username\":" + json_quote(username) +
                          ",\"password\":" + json_quote(password) +
                          (body_delivery ? ",\"token_delivery\":\"body\"}" : "}"));
}

token_response login_ok(int port, std::string_view username, std::string_view password,
                        const header_list& extra) {
  return expect_tokens(login(port, username, password, true, extra), 200, "login");
}

http_response refresh(int port, std::string_view refresh_token) {
  return http_request(
      port, "POST", "/v1/refresh", {json_type()},
      "{\"refresh_token\":" + json_quote(refresh_token) + ",\"token_delivery\":\"body\"}");
}

token_response refresh_ok(int port, std::string_view refresh_token) {
  return expect_tokens(refresh(port, refresh_token), 200, "refresh");
}

http_response create_session(int port, std::string_view sub, std::string_view members) {
  std::string body = "{\"sub\":" + json_quote(sub);
  if (!members.empty()) body += "," + std::string(members);
  return http_request(port, "POST", "/v1/sessions", {api_auth(), json_type()}, body + "}");
}

token_response create_session_ok(int port, std::string_view sub, std::string_view members) {
  return expect_tokens(create_session(port, sub, members), 201, "POST /v1/sessions");
}

http_response validate(int port, std::string_view access_token) {
  return http_request(port, "GET", "/v1/validate", {bearer(access_token)});
}

http_response extend(int port, std::string_view access_token) {
  return http_request(port, "POST", "/v1/extend", {bearer(access_token)});
}

http_response logout(int port, std::string_view access_token, std::string_view body) {
  header_list headers = {bearer(access_token)};
  if (!body.empty()) headers.push_back(json_type());
  return http_request(port, "POST", "/v1/logout", headers, std::string(body));
}

http_response delete_session(int port, std::string_view sid) {
  return http_request(port, "DELETE", "/v1/sessions/" + std::string(sid), {api_auth()});
}

http_response publish(int port, std::string_view channel, std::string_view event,
                      std::string_view data_json) {
  std::string body = "{\"channel\":" + json_quote(channel) + ",\"event\":" + json_quote(event);
  if (!data_json.empty()) body += ",\"data\":" + std::string(data_json);
  return http_request(port, "POST", "/v1/publish", {api_auth(), json_type()}, body + "}");
}

namespace {

json get_object(int port, const std::string& target) {
  const auto response = http_request(port, "GET", target, {api_auth()});
  json doc = response.json_body();
  if (response.status != 200 || !doc.IsObject())
    throw std::runtime_error("GET " + target + ": " + response.describe());
  return doc;
}

}  // namespace

json stats(int port) {
  return get_object(port, "/v1/stats");
}

std::int64_t stat_value(int port, std::string_view group, std::string_view name) {
  const json s = stats(port);
  const std::string g(group);
  const auto value =
      s.HasMember(g.c_str()) ? json_int(s[g.c_str()], std::string(name).c_str()) : std::nullopt;
  if (!value)
    throw std::runtime_error("no integer " + g + "." + std::string(name) + " in " + to_text(s));
  return *value;
}

json list_sessions(int port, std::string_view sub) {
  return get_object(port, "/v1/sessions?sub=" + std::string(sub));
}

std::optional<jwt_parts> decode_jwt(std::string_view token) {
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return std::nullopt;
  const auto header = auth::base64url_decode(token.substr(0, dot1));
  const auto claims = auth::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto signature = auth::base64url_decode(token.substr(dot2 + 1));
  if (!header || !claims || !signature) return std::nullopt;
  jwt_parts parts;
  parts.header = parse_json(*header);
  parts.claims = parse_json(*claims);
  if (!parts.header.IsObject() || !parts.claims.IsObject()) return std::nullopt;
  parts.signing_input = std::string(token.substr(0, dot2));
  parts.signature = *signature;
  return parts;
}

testing::AssertionResult is_problem(const http_response& response, int status,
                                    std::string_view code) {
  auto fail = [&](const std::string& why) {
    return testing::AssertionFailure() << why << "\n" << response.describe();
  };
  if (response.status != status) return fail("expected status " + std::to_string(status));
  const auto type = response.header("Content-Type").value_or("");
  if (type.rfind("application/problem+json", 0) != 0)
    return fail("expected Content-Type application/problem+json");
  const json body = response.json_body();
  if (!body.IsObject()) return fail("body is not a JSON object");
  if (!json_string(body, "type") || !json_string(body, "title"))
    return fail("problem without string type/title");
  if (json_int(body, "status") != status) return fail("problem status differs from HTTP status");
  if (json_string(body, "code") != code) return fail("expected code " + std::string(code));
  return testing::AssertionSuccess();
}

testing::AssertionResult is_token_refusal(const http_response& response, std::string_view code) {
  if (auto problem = is_problem(response, 401, code); !problem) return problem;
  const json body = response.json_body();
  if (json_bool(body, "active") != false)
    return testing::AssertionFailure() << "no \"active\":false\n" << response.describe();
  const auto challenge = response.header("WWW-Authenticate");
  if (!challenge || challenge->rfind("Bearer", 0) != 0)
    return testing::AssertionFailure() << "no WWW-Authenticate: Bearer\n" << response.describe();
  return testing::AssertionSuccess();
}

}  // namespace shub::itest
