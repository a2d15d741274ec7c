// crypto: the small primitives every other part of auth/ is built from, on OpenSSL 3.
// Hashing, randomness, constant-time comparison and authenticated encryption; nothing here
// knows about tokens or sessions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace shub::auth {

// SHA-256 of data, as 32 raw bytes.
[[nodiscard]] std::string sha256(std::string_view data);
// SHA-1 of data, as 20 raw bytes: for RFC 6455's Sec-WebSocket-Accept, nothing secret.
[[nodiscard]] std::string sha1(std::string_view data);

// n bytes from OpenSSL's CSPRNG. Throws std::runtime_error only if the RNG fails (fatal).
[[nodiscard]] std::string random_bytes(std::size_t n);

// Compares in time that depends only on the lengths, never on where the inputs differ.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

// AES-256-GCM with a key derived as SHA-256(key_material). Output: 12-byte nonce ||
// ciphertext || 16-byte tag. `open` returns nullopt when the tag does not verify.
[[nodiscard]] std::string seal(std::string_view key_material, std::string_view plaintext);
[[nodiscard]] std::optional<std::string> open(std::string_view key_material,
                                              std::string_view sealed);

// Lower-case hex of raw bytes.
[[nodiscard]] std::string to_hex(std::string_view bytes);

}  // namespace shub::auth
