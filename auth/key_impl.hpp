// key_impl: what keys.cpp (import, export) and key_signing.cpp (signing, verifying) share
// of a key's inside; internal to auth/.
#pragma once

#include <openssl/bn.h>
#include <openssl/evp.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keys.hpp"

namespace shub::auth {

namespace detail {

template <class T, void (*F)(T*)>
struct deleter {
  void operator()(T* p) const { F(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

// A big number as big-endian bytes, left-padded with zeros to `pad` when given.
inline std::string bn_bytes(const BIGNUM* bn, int pad = 0) {
  const int n = pad > 0 ? pad : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

}  // namespace detail

struct key::impl {
  detail::pkey_ptr pkey;  // asymmetric keys
  std::string secret;     // HS256

  // ES256 and RS256 sign and verify a SHA-256 digest on an EVP_PKEY_CTX set up once and
  // used again (EVP_PKEY_sign and EVP_PKEY_verify may be called any number of times after
  // one init): EVP_DigestSign/Verify would fetch the algorithms, set up a context and copy
  // it again for every token. A context serves one thread at a time; idle ones wait here.
  enum class op { sign, verify };
  detail::pkey_ctx_ptr take(op o, jwt_alg alg);
  void give(op o, detail::pkey_ctx_ptr ctx);
  std::mutex idle_mutex;
  std::vector<detail::pkey_ctx_ptr> idle[2];
};

}  // namespace shub::auth
