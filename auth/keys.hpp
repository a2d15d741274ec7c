// keys: signing and verification keys for JWTs, each bound to exactly one algorithm.
// RFC 8725 §3.1: the algorithm is a property of the key, never taken from a token. A key's
// `kid` is its RFC 7638 JWK thumbprint (base64url SHA-256), so it is stable across restarts
// and identical on every replica that loads the same PEM. A key read from another issuer's
// JWK keeps the kid that issuer gave it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shub::auth {

enum class jwt_alg { ES256, EdDSA, RS256, HS256 };

// "ES256", "EdDSA", "RS256", "HS256".
[[nodiscard]] std::string_view alg_name(jwt_alg alg);
[[nodiscard]] std::optional<jwt_alg> alg_from_name(std::string_view name);

class key {
 public:
  // A fresh private key: P-256 for ES256, Ed25519 for EdDSA, RSA-2048 for RS256.
  // HS256 keys come only from from_hmac_secret. Throws on OpenSSL failure (start-up only).
  [[nodiscard]] static std::shared_ptr<const key> generate(jwt_alg alg);
  // A PEM private key (PKCS#8 or traditional); the algorithm follows the key type.
  // nullopt with `error` set when the PEM is unreadable or of an unsupported type.
  [[nodiscard]] static std::shared_ptr<const key> from_private_pem(std::string_view pem,
                                                                   std::string& error);
  // A public key from one JWK object (JSON text). The algorithm comes from `alg` when
  // present and must agree with `kty`/`crv`; otherwise from `kty`/`crv` (RSA → RS256).
  // The kid is the JWK's own `kid` when it has one (an identity provider's tokens name
  // that), else the thumbprint. A JWK whose `use` is not "sig" is refused.
  [[nodiscard]] static std::shared_ptr<const key> from_public_jwk(std::string_view jwk_json,
                                                                  std::string& error);
  // A symmetric HS256 key; secrets shorter than 32 bytes are refused.
  [[nodiscard]] static std::shared_ptr<const key> from_hmac_secret(std::string_view secret,
                                                                   std::string& error);

  ~key();
  key(const key&) = delete;
  key& operator=(const key&) = delete;

  [[nodiscard]] jwt_alg alg() const { return alg_; }
  [[nodiscard]] const std::string& kid() const { return kid_; }
  [[nodiscard]] bool has_private() const { return has_private_; }
  [[nodiscard]] bool symmetric() const { return alg_ == jwt_alg::HS256; }

  // The JOSE signature over `input` (ES256 as raw r||s, 64 bytes). Requires has_private().
  [[nodiscard]] std::string sign(std::string_view input) const;
  // Verifies a JOSE signature; false on any mismatch or malformed signature.
  [[nodiscard]] bool verify(std::string_view input, std::string_view signature) const;

  // The public JWK as JSON text with kty, crv/x/y or n/e, kid, alg, use:"sig".
  // Empty for HS256 (a secret is never published).
  [[nodiscard]] std::string public_jwk_json() const;
  // PKCS#8 PEM of the private key (to keep a generated key beside the store).
  [[nodiscard]] std::string private_pem() const;

 private:
  struct impl;
  key(jwt_alg alg, std::unique_ptr<impl> impl, bool has_private);
  // ES256 / RS256 over a SHA-256 digest.
  [[nodiscard]] std::string sign_digest(const std::string& digest) const;
  jwt_alg alg_;
  std::unique_ptr<impl> impl_;
  bool has_private_;
  std::string kid_;
};

using key_ptr = std::shared_ptr<const key>;

// The keys a verifier accepts, looked up by kid; the first one signs.
class key_set {
 public:
  key_set() = default;
  explicit key_set(std::vector<key_ptr> keys) : keys_(std::move(keys)) {}
  void add(key_ptr k) { keys_.push_back(std::move(k)); }
  [[nodiscard]] key_ptr find(std::string_view kid) const;
  [[nodiscard]] const key_ptr& signer() const { return keys_.front(); }
  [[nodiscard]] bool empty() const { return keys_.empty(); }
  [[nodiscard]] const std::vector<key_ptr>& keys() const { return keys_; }
  // {"keys":[...]} of every asymmetric key.
  [[nodiscard]] std::string jwks_json() const;
  // Parses a JWKS document; keys it cannot use, and a second key with a kid already seen,
  // are skipped and described in `error`.
  [[nodiscard]] static key_set from_jwks(std::string_view jwks_json, std::string& error);

 private:
  std::vector<key_ptr> keys_;
};

}  // namespace shub::auth
