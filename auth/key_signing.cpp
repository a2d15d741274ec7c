// key_signing: the JOSE signatures of a key (RFC 7515, RFC 7518 §3): HS256 over HMAC,
// ES256 and RS256 over a SHA-256 digest on contexts set up once per key (ES256 as raw r||s,
// not DER), EdDSA over the message itself.
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <stdexcept>

#include "crypto.hpp"
#include "key_impl.hpp"
#include "keys.hpp"

namespace shub::auth {

using namespace detail;

namespace {

using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using sig_ptr = std::unique_ptr<ECDSA_SIG, deleter<ECDSA_SIG, ECDSA_SIG_free>>;

std::string hmac_sha256(std::string_view secret, std::string_view input) {
  std::string out(32, '\0');
  std::size_t len = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                 reinterpret_cast<unsigned char*>(out.data()), out.size(), &len) ||
      len != 32) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

}  // namespace

pkey_ctx_ptr key::impl::take(op o, jwt_alg alg) {
  {
    std::lock_guard lock(idle_mutex);
    auto& list = idle[static_cast<int>(o)];
    if (!list.empty()) {
      pkey_ctx_ptr ctx = std::move(list.back());
      list.pop_back();
      return ctx;
    }
  }
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!ctx ||
      (o == op::sign ? EVP_PKEY_sign_init(ctx.get()) : EVP_PKEY_verify_init(ctx.get())) != 1)
    return nullptr;
  if (alg == jwt_alg::RS256 && (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
                                EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1)) {
    return nullptr;
  }
  return ctx;
}

void key::impl::give(op o, pkey_ctx_ptr ctx) {
  // As many as threads have signed at once; a context is a few hundred bytes.
  constexpr std::size_t max_idle = 64;
  std::lock_guard lock(idle_mutex);
  auto& list = idle[static_cast<int>(o)];
  if (list.size() < max_idle) list.push_back(std::move(ctx));
}

std::string key::sign(std::string_view input) const {
  if (!has_private_) throw std::logic_error("signing needs a private key");
  if (alg_ == jwt_alg::HS256) return hmac_sha256(impl_->secret, input);
  if (alg_ != jwt_alg::EdDSA) return sign_digest(sha256(input));
  // Ed25519 signs the message itself (no digest first), in one call that copies nothing.
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
    throw std::runtime_error("signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, data,
                     input.size()) != 1) {
    throw std::runtime_error("signing failed");
  }
  sig.resize(len);
  return sig;
}

std::string key::sign_digest(const std::string& digest) const {
  pkey_ctx_ptr ctx = impl_->take(impl::op::sign, alg_);
  const auto* d = reinterpret_cast<const unsigned char*>(digest.data());
  std::size_t len = 0;
  if (!ctx || EVP_PKEY_sign(ctx.get(), nullptr, &len, d, digest.size()) != 1) {
    throw std::runtime_error("signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, d,
                    digest.size()) != 1) {
    throw std::runtime_error("signing failed");
  }
  impl_->give(impl::op::sign, std::move(ctx));
  sig.resize(len);
  if (alg_ != jwt_alg::ES256) return sig;
  // DER → raw r||s (RFC 7518 §3.4).
  const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
  sig_ptr ecdsa(d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size())));
  if (!ecdsa) throw std::runtime_error("signing failed");
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(ecdsa.get(), &r, &s);
  return bn_bytes(r, 32) + bn_bytes(s, 32);
}

bool key::verify(std::string_view input, std::string_view signature) const {
  if (alg_ == jwt_alg::HS256)
    return constant_time_equal(hmac_sha256(impl_->secret, input), signature);
  std::string der;
  if (alg_ == jwt_alg::ES256) {
    if (signature.size() != 64) return false;
    sig_ptr ecdsa(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()), 32, nullptr);
    BIGNUM* s =
        BN_bin2bn(reinterpret_cast<const unsigned char*>(signature.data()) + 32, 32, nullptr);
    if (!ecdsa || !r || !s || ECDSA_SIG_set0(ecdsa.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* out = nullptr;
    const int n = i2d_ECDSA_SIG(ecdsa.get(), &out);
    if (n <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    OPENSSL_free(out);
    signature = der;
  }
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  if (alg_ == jwt_alg::EdDSA) {
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    return ctx &&
           EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), sig, signature.size(),
                            reinterpret_cast<const unsigned char*>(input.data()),
                            input.size()) == 1;
  }
  pkey_ctx_ptr ctx = impl_->take(impl::op::verify, alg_);
  if (!ctx) return false;
  const std::string digest = sha256(input);
  const int r =
      EVP_PKEY_verify(ctx.get(), sig, signature.size(),
                      reinterpret_cast<const unsigned char*>(digest.data()), digest.size());
  // 1: good, 0: a bad signature; below 0 an error that may have left the context unusable.
  if (r >= 0) impl_->give(impl::op::verify, std::move(ctx));
  return r == 1;
}

}  // namespace shub::auth
