// password: scrypt password hashes for the dev identity provider's users file.
// Format: $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt base64url>$<hash base64url>; verification
// recomputes with the stored parameters and compares in constant time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shub::auth {

struct scrypt_params {
  int log2_n = 15;  // N = 32768: ~50 ms and 32 MiB per hash, OWASP's floor for scrypt
  int r = 8;
  int p = 1;
};

[[nodiscard]] std::string hash_password(std::string_view password, scrypt_params params = {});
// False on mismatch and on any malformed hash (never throws).
[[nodiscard]] bool verify_password(std::string_view password, std::string_view encoded);

}  // namespace shub::auth
