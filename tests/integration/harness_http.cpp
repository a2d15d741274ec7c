// harness (HTTP half): a synchronous HTTP/1.1 client, JSON accessors and a Set-Cookie
// reader. The client runs Beast's asynchronous operations to completion on a private
// io_context because only those honour tcp_stream's deadline; a blocking socket read would
// wait forever on a hung server.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <stdexcept>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "harness.hpp"

namespace shub::itest {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool icontains(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
    if (iequals(haystack.substr(i, needle.size()), needle)) return true;
  return false;
}

std::optional<std::string> http_response::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return std::nullopt;
}

std::vector<std::string> http_response::headers_named(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) values.push_back(v);
  return values;
}

json http_response::json_body() const {
  return parse_json(body);
}

std::string http_response::describe() const {
  std::string text = "status " + std::to_string(status) + "\n";
  for (const auto& [n, v] : headers)
    text += n + ": " + v + "\n";
  return text + body;
}

struct http_client::impl {
  int port;
  bool keep_alive;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;

  void connect() {
    stream.emplace(ioc);
    beast::error_code ec;
    stream->expires_after(timeout);
    stream->async_connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                                 static_cast<unsigned short>(port)),
                          [&](beast::error_code e) { ec = e; });
    run();
    if (ec) {
      stream.reset();
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " +
                               ec.message());
    }
  }

  void run() {
    ioc.restart();
    ioc.run();
  }

  // One exchange on the current connection. `sent_nothing_back` tells a stale keep-alive
  // connection (closed by the server before any response byte) from a real failure.
  std::optional<http_response> exchange(bhttp::request<bhttp::string_body>& req,
                                        beast::error_code& ec, bool& sent_nothing_back) {
    beast::error_code write_ec;
    stream->expires_after(timeout);
    bhttp::async_write(*stream, req, [&](beast::error_code e, std::size_t) { write_ec = e; });
    run();
    // A server may answer (413) and close before reading a large body, so a failed write
    // still gets its response read.
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (req.method() == bhttp::verb::head) parser.skip(true);
    stream->expires_after(timeout);
    bhttp::async_read(*stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    sent_nothing_back = ec && buffer.size() == 0 && !parser.got_some();
    if (ec) {
      if (write_ec && sent_nothing_back) ec = write_ec;
      return std::nullopt;
    }
    auto res = parser.release();
    http_response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(res.body());
    if (!res.keep_alive()) stream.reset();
    return out;
  }
};

http_client::http_client(int port, bool keep_alive, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->port = port;
  impl_->keep_alive = keep_alive;
  impl_->timeout = timeout;
}

http_client::~http_client() = default;

http_response http_client::request(std::string_view method, std::string_view target,
                                   const header_list& headers, std::string body) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(impl_->port));
  req.set(bhttp::field::user_agent, "sessionhub-itest");
  for (const auto& [name, value] : headers)
    req.insert(name, value);
  req.body() = std::move(body);
  // A caller that chose its own framing (Transfer-Encoding: chunked) keeps it.
  const bool framed =
      req.count(bhttp::field::transfer_encoding) > 0 || req.count(bhttp::field::content_length) > 0;
  if (!framed && (!req.body().empty() || req.method() == bhttp::verb::post ||
                  req.method() == bhttp::verb::put))
    req.content_length(req.body().size());
  req.keep_alive(impl_->keep_alive);

  const bool reused = impl_->stream.has_value();
  if (!impl_->keep_alive || !reused) impl_->connect();
  beast::error_code ec;
  bool sent_nothing_back = false;
  auto res = impl_->exchange(req, ec, sent_nothing_back);
  if (!res && reused && sent_nothing_back) {  // the server closed an idle keep-alive connection
    impl_->connect();
    res = impl_->exchange(req, ec, sent_nothing_back);
  }
  if (!res) {
    impl_->stream.reset();
    throw std::runtime_error(std::string(method) + " " + std::string(target) + ": " + ec.message());
  }
  if (!impl_->keep_alive) impl_->stream.reset();
  return std::move(*res);
}

http_response http_request(int port, std::string_view method, std::string_view target,
                           const header_list& headers, std::string body) {
  return http_client(port).request(method, target, headers, std::move(body));
}

json parse_json(std::string_view text) {
  json doc;
  doc.Parse(text.data(), text.size());
  return doc;
}

std::optional<std::string> json_string(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return std::nullopt;
  return std::string(v[key].GetString(), v[key].GetStringLength());
}

std::optional<std::int64_t> json_int(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsInt64()) return std::nullopt;
  return v[key].GetInt64();
}

std::optional<bool> json_bool(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsBool()) return std::nullopt;
  return v[key].GetBool();
}

std::string to_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

bool set_cookie::has(std::string_view name) const {
  return attribute(name).has_value();
}

std::optional<std::string> set_cookie::attribute(std::string_view name) const {
  for (const auto& [n, v] : attributes)
    if (iequals(n, name)) return v;
  return std::nullopt;
}

std::string set_cookie::path() const {
  return attribute("Path").value_or("");
}

std::optional<std::int64_t> set_cookie::max_age() const {
  const auto text = attribute("Max-Age");
  if (!text) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return value;
}

std::optional<set_cookie> parse_set_cookie(std::string_view header_value) {
  set_cookie cookie;
  bool first = true;
  while (!header_value.empty()) {
    const auto semi = header_value.find(';');
    const std::string_view part = trim(header_value.substr(0, semi));
    header_value =
        semi == std::string_view::npos ? std::string_view{} : header_value.substr(semi + 1);
    const auto eq = part.find('=');
    if (first) {
      if (eq == std::string_view::npos || eq == 0) return std::nullopt;
      cookie.name = std::string(trim(part.substr(0, eq)));
      cookie.value = std::string(trim(part.substr(eq + 1)));
      first = false;
    } else if (!part.empty()) {
      cookie.attributes.emplace_back(
          std::string(trim(part.substr(0, eq))),
          eq == std::string_view::npos ? std::string() : std::string(trim(part.substr(eq + 1))));
    }
  }
  if (first) return std::nullopt;
  return cookie;
}

std::vector<set_cookie> set_cookies(const http_response& response) {
  std::vector<set_cookie> cookies;
  for (const auto& value : response.headers_named("Set-Cookie"))
    if (auto c = parse_set_cookie(value)) cookies.push_back(std::move(*c));
  return cookies;
}

std::vector<set_cookie> find_set_cookies(const http_response& response, std::string_view name,
                                         std::optional<std::string_view> path) {
  std::vector<set_cookie> found;
  for (auto& c : set_cookies(response))
    if (c.name == name && (!path || c.path() == *path)) found.push_back(std::move(c));
  return found;
}

std::optional<set_cookie> find_set_cookie(const http_response& response, std::string_view name,
                                          std::string_view path) {
  auto found = find_set_cookies(response, name, path);
  if (found.size() != 1) return std::nullopt;
  return std::move(found.front());
}

std::pair<std::string, std::string> cookie_header(const header_list& cookies) {
  std::string value;
  for (const auto& [n, v] : cookies)
    value += (value.empty() ? "" : "; ") + n + "=" + v;
  return {"Cookie", value};
}

}  // namespace shub::itest
