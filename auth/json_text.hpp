// json_text: RapidJSON's DOM parse of exactly the text given, for JSON that comes from
// outside (tokens, request bodies, client frames). Document::Parse(text, length) skips any
// of the bytes EF, BB, BF at the start (a byte-order mark, or a piece of one) and takes a
// NUL byte for the end of the text, so "\xBF{...}" and "{...}\0anything" both parse as the
// object. JSON text has neither (RFC 8259: no raw NUL; §8.1: no byte-order mark in JSON
// exchanged between systems), and one value must have one spelling.
#pragma once

#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>

namespace shub::auth {

// Parses all of `text` into `d` (valid UTF-8 required). False on a parse error; also
// false, with no parse error set, when the parser stopped at a NUL byte before the end.
// Any GenericDocument over UTF-8 (rapidjson::Document, or one on a caller's memory pool).
// `utf8_checked`: the caller has validated the bytes as UTF-8 already (a WebSocket text
// message, RFC 6455 §8.1), and the parser need not decode each character again.
template <class Document = rapidjson::Document>
[[nodiscard]] bool parse_json_text(std::string_view text, Document& d, bool utf8_checked = false) {
  rapidjson::MemoryStream in(text.data(), text.size());  // bytes as they are: no BOM skipped
  if (utf8_checked) {
    d.template ParseStream<rapidjson::kParseDefaultFlags, rapidjson::UTF8<>>(in);
  } else {
    d.template ParseStream<rapidjson::kParseValidateEncodingFlag, rapidjson::UTF8<>>(in);
  }
  return !d.HasParseError() && in.Tell() == text.size();
}

}  // namespace shub::auth
