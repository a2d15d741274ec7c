// http_util: request/response types and the few builders every handler uses.
// Errors are RFC 9457 problem+json with the contract's snake_case `code` (PROTOCOL §2).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <boost/beast/http.hpp>

namespace shub {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

[[nodiscard]] http_response json_response(http::status status, std::string body);
[[nodiscard]] http_response no_content();
// {"type","title","status","code","detail"?}; `extra_json` (members without braces, e.g.
// "\"active\":false") is appended inside the object when given.
[[nodiscard]] http_response problem(http::status status, std::string_view code,
                                    std::string_view detail = {}, std::string_view extra_json = {});

// 503 store_unavailable with Retry-After: the store did not answer; nothing was changed.
[[nodiscard]] http_response store_unavailable();

// Parses a JSON object body. nullopt (with a reason) for malformed JSON, invalid UTF-8 or
// a non-object; an empty body parses as {} when `empty_ok`.
[[nodiscard]] std::optional<rapidjson::Document> parse_json_object(std::string_view body,
                                                                   std::string& error,
                                                                   bool empty_ok = false);
// A document whose memory, the tree and the parse stack alike, comes from a pool its owner
// gives it (MemoryPoolAllocator over a buffer on the stack, for a small text): a parse then
// allocates nothing, where rapidjson::Document takes a 64 KiB chunk from malloc each time.
using pooled_document =
    rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                               rapidjson::MemoryPoolAllocator<>>;
// parse_json_object into such a document, of text already checked to be UTF-8 (a WebSocket
// text message): false, with the reason, where that is nullopt.
[[nodiscard]] bool parse_utf8_json_object(std::string_view text, pooled_document& doc,
                                          std::string& error);
// A string member of a parsed object, or nullopt when absent or not a string.
[[nodiscard]] std::optional<std::string_view> string_member(const rapidjson::Value& obj,
                                                            const char* name);

// "Bearer <token>" → token; empty when absent or another scheme.
[[nodiscard]] std::string_view bearer_token(const http_request& req);

// The size of `req`'s request line and header block as HTTP/1.1 sends them ("GET /p
// HTTP/1.1", "Name: value" lines, the empty line). Beast's header_limit bounds the header
// fields only (the request line is not counted against it), so --max-header-bytes is
// checked on this once a request is read.
[[nodiscard]] std::size_t header_block_bytes(const http_request& req);

// The request target a router reads: a target in absolute form ("http://host/p?q", which
// RFC 9112 §3.2.2 says a server must accept) becomes its path and query ("/p?q", or "/"
// without a path); any other target is returned as it is.
[[nodiscard]] std::string_view origin_form(std::string_view target);

// Percent-decoding of a path segment or query value; nullopt on a bad escape.
[[nodiscard]] std::optional<std::string> url_decode(std::string_view s, bool plus_is_space);
// The value of `name` in a query string (first occurrence), decoded.
[[nodiscard]] std::optional<std::string> query_param(std::string_view query, std::string_view name);

// One name=value pair of an application/x-www-form-urlencoded body, decoded.
struct form_field {
  std::string name, value;
  bool operator==(const form_field&) const = default;
};
// An application/x-www-form-urlencoded body (the WHATWG URL standard's parser without its
// charset handling): pairs split on '&', empty pairs skipped, the first '=' splits name
// from value (none: an empty value), '+' is a space, %XX decoded to its byte (the result
// may be any bytes). nullopt on a '%' not followed by two hex digits. A pure function of
// the body text.
[[nodiscard]] std::optional<std::vector<form_field>> parse_form(std::string_view body);
// Whether the request's Content-Type is `media_type` (case-insensitive; parameters such as
// "; charset=UTF-8" allowed).
[[nodiscard]] bool has_media_type(const http_request& req, std::string_view media_type);

}  // namespace shub
