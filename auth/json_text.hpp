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
template <class Document = rapidjson::Document>
[[nodiscard]] bool parse_json_text(std::string_view text, Document& d) {
  rapidjson::MemoryStream in(text.data(), text.size());  // bytes as they are: no BOM skipped
  d.template ParseStream<rapidjson::kParseValidateEncodingFlag, rapidjson::UTF8<>>(in);
  return !d.HasParseError() && in.Tell() == text.size();
}

}  // namespace shub::auth
