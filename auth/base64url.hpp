// base64url (RFC 4648 §5) without padding, as JOSE uses it (RFC 7515 §2).
// Decoding is strict: padding, whitespace, characters outside the alphabet and
// non-canonical trailing bits are all refused, so one token has exactly one spelling.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shub::auth {

[[nodiscard]] std::string base64url_encode(std::string_view bytes);
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace shub::auth
