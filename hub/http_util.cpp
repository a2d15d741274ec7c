// http_util: response builders and small request parsers shared by every handler.
#include "http_util.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/beast/core/string.hpp>

#include "auth/json_text.hpp"

namespace shub {

namespace beast = boost::beast;

namespace {

std::string_view title_of(http::status status) {
  return http::obsolete_reason(status);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

http_response json_response(http::status status, std::string body) {
  http_response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http_response no_content() {
  http_response res{http::status::no_content, 11};
  res.set(http::field::cache_control, "no-store");
  return res;
}

http_response problem(http::status status, std::string_view code, std::string_view detail,
                      std::string_view extra_json) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const std::string type = "https://sessionhub.dev/problems/" + std::string(code);
  const std::string_view title = title_of(status);
  w.StartObject();
  w.Key("type");
  w.String(type);
  w.Key("title");
  w.String(title.data(), static_cast<rapidjson::SizeType>(title.size()));
  w.Key("status");
  w.Int(static_cast<int>(status));
  w.Key("code");
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  if (!detail.empty()) {
    w.Key("detail");
    w.String(detail.data(), static_cast<rapidjson::SizeType>(detail.size()));
  }
  w.EndObject();
  std::string body(buf.GetString(), buf.GetSize());
  if (!extra_json.empty()) {
    body.pop_back();
    body += ',';
    body += extra_json;
    body += '}';
  }
  http_response res{status, 11};
  res.set(http::field::content_type, "application/problem+json");
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http_response store_unavailable() {
  http_response res = problem(http::status::service_unavailable, "store_unavailable",
                              "the session store did not answer; nothing was changed");
  res.set(http::field::retry_after, "1");
  return res;
}

namespace {

template <class Document>
bool parse_object(std::string_view body, Document& doc, std::string& error, bool empty_ok,
                  bool utf8_checked) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    if (empty_ok) {
      doc.SetObject();
      return true;
    }
    error = "a JSON object body is required";
    return false;
  }
  // The whole body: trailing bytes after the object are an error too, a NUL byte or a
  // byte-order mark as well (auth/json_text.hpp).
  if (!auth::parse_json_text(body, doc, utf8_checked)) {
    error = doc.HasParseError() ? std::string("malformed JSON: ") +
                                      rapidjson::GetParseError_En(doc.GetParseError()) +
                                      " at offset " + std::to_string(doc.GetErrorOffset())
                                : std::string("malformed JSON: a NUL byte");
    return false;
  }
  if (!doc.IsObject()) {
    error = "the body must be a JSON object";
    return false;
  }
  return true;
}

}  // namespace

std::optional<rapidjson::Document> parse_json_object(std::string_view body, std::string& error,
                                                     bool empty_ok) {
  rapidjson::Document doc;
  if (!parse_object(body, doc, error, empty_ok, false)) return std::nullopt;
  return doc;
}

bool parse_utf8_json_object(std::string_view text, pooled_document& doc, std::string& error) {
  return parse_object(text, doc, error, false, true);
}

std::optional<std::string_view> string_member(const rapidjson::Value& obj, const char* name) {
  const auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

std::string_view bearer_token(const http_request& req) {
  const auto it = req.find(http::field::authorization);
  if (it == req.end()) return {};
  std::string_view v = it->value();
  constexpr std::string_view scheme = "Bearer ";
  if (v.size() <= scheme.size() || !beast::iequals(v.substr(0, scheme.size()), scheme)) return {};
  v.remove_prefix(scheme.size());
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ')
    v.remove_suffix(1);
  return v;
}

std::size_t header_block_bytes(const http_request& req) {
  constexpr std::size_t crlf = 2;
  // "METHOD SP target SP HTTP/1.1 CRLF"
  std::size_t n = req.method_string().size() + 1 + req.target().size() + 1 + 8 + crlf;
  for (const auto& f : req) {
    n += f.name_string().size() + 2 + f.value().size() + crlf;  // "Name: value CRLF"
  }
  return n + crlf;
}

std::string_view origin_form(std::string_view target) {
  if (target.empty() || target.front() == '/') return target;
  const auto authority = target.find("://");
  if (authority == std::string_view::npos) return target;
  const std::string_view scheme = target.substr(0, authority);
  if (!beast::iequals(scheme, "http") && !beast::iequals(scheme, "https")) return target;
  const auto path = target.find_first_of("/?", authority + 3);
  if (path == std::string_view::npos || target[path] == '?') return "/";
  return target.substr(path);
}

std::optional<std::string> url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1),
                        true);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<std::vector<form_field>> parse_form(std::string_view body) {
  std::vector<form_field> out;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body.remove_prefix(amp == std::string_view::npos ? body.size() : amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = url_decode(pair.substr(0, eq), true);
    auto value =
        url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    out.push_back({std::move(*name), std::move(*value)});
  }
  return out;
}

bool has_media_type(const http_request& req, std::string_view media_type) {
  const auto it = req.find(http::field::content_type);
  if (it == req.end()) return false;
  std::string_view v = it->value();
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  return beast::iequals(v, media_type);
}

}  // namespace shub
