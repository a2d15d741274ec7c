// signing_keys: which key signs access tokens, and which keys verify them (PROTOCOL §7).
// --hs256-secret-file (explicit opt-in) > --signing-key PEM > a key generated on first start
// and kept beside the SQLite store (signing-key.pem, mode 0600), so tokens survive a
// restart. --previous-signing-key stays in the JWKS and keeps verifying after a rotation.
#pragma once

#include <string>

#include "auth/keys.hpp"
#include "config.hpp"

namespace shub {

// Throws std::runtime_error with a clear message when a key cannot be read or made.
[[nodiscard]] auth::key_set load_signing_keys(const config& cfg);

// The file that holds the generated key for a store spec, or empty when the store has no
// directory to keep it in (sqlite::memory:, redis).
[[nodiscard]] std::string generated_key_path(const std::string& store_spec);

}  // namespace shub
