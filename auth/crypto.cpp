// crypto: SHA-256, the CSPRNG, constant-time comparison and AES-256-GCM on OpenSSL 3 EVP.
#include "crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace shub::auth {

namespace {

constexpr std::size_t nonce_bytes = 12;
constexpr std::size_t tag_bytes = 16;

struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

// One hash algorithm, fetched from OpenSSL's default provider once, and a context for it per
// thread. EVP_Digest with EVP_sha256() looks the implementation up again on every call (a
// property query under a lock, and allocations): that was 60 % of hashing a token.
class digest {
 public:
  digest(const char* name, std::size_t size)
      : name_(name), size_(size), md_(EVP_MD_fetch(nullptr, name, nullptr)) {}
  digest(const digest&) = delete;
  digest& operator=(const digest&) = delete;
  ~digest() { EVP_MD_free(md_); }

  [[nodiscard]] std::string of(std::string_view data, EVP_MD_CTX* ctx) const {
    std::string out(size_, '\0');
    unsigned int len = 0;
    if (md_ == nullptr || ctx == nullptr || EVP_DigestInit_ex2(ctx, md_, nullptr) != 1 ||
        EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), &len) != 1 ||
        len != size_) {
      throw std::runtime_error(std::string(name_) + " failed");
    }
    return out;
  }

 private:
  const char* name_;
  std::size_t size_;
  EVP_MD* md_;
};

struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using md_ctx = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

}  // namespace

std::string sha256(std::string_view data) {
  static const digest sha256_digest("SHA256", 32);
  thread_local const md_ctx ctx(EVP_MD_CTX_new());
  return sha256_digest.of(data, ctx.get());
}

std::string sha1(std::string_view data) {
  static const digest sha1_digest("SHA1", 20);
  thread_local const md_ctx ctx(EVP_MD_CTX_new());
  return sha1_digest.of(data, ctx.get());
}

std::string random_bytes(std::size_t n) {
  // Ids and tokens are small and many (one per tab, two per rotation): each thread draws
  // from OpenSSL's generator a block at a time and hands out slices, wiping each slice as it
  // goes, rather than paying the generator's per-call cost (and its fork check, a system
  // call) for every id. Large requests go straight to the generator.
  constexpr std::size_t block = 512;
  struct pool {
    unsigned char bytes[block];
    std::size_t used = block;
    ~pool() { OPENSSL_cleanse(bytes, sizeof bytes); }
  };
  thread_local pool p;
  std::string out(n, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  if (n > block / 4) {
    if (RAND_bytes(dst, static_cast<int>(n)) != 1) {
      throw std::runtime_error("the system random generator failed");
    }
    return out;
  }
  if (block - p.used < n) {
    if (RAND_bytes(p.bytes, static_cast<int>(block)) != 1) {
      throw std::runtime_error("the system random generator failed");
    }
    p.used = 0;
  }
  std::memcpy(dst, p.bytes + p.used, n);
  OPENSSL_cleanse(p.bytes + p.used, n);
  p.used += n;
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string seal(std::string_view key_material, std::string_view plaintext) {
  const std::string key = sha256(key_material);
  std::string out = random_bytes(nonce_bytes);
  out.resize(nonce_bytes + plaintext.size() + tag_bytes);
  auto* u = reinterpret_cast<unsigned char*>(out.data());
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0, total = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), u) != 1 ||
      EVP_EncryptUpdate(ctx.get(), u + nonce_bytes, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1) {
    throw std::runtime_error("AES-GCM seal failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), u + nonce_bytes + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_bytes,
                          u + nonce_bytes + plaintext.size()) != 1) {
    throw std::runtime_error("AES-GCM seal failed");
  }
  return out;
}

std::optional<std::string> open(std::string_view key_material, std::string_view sealed) {
  if (sealed.size() < nonce_bytes + tag_bytes) return std::nullopt;
  const std::string key = sha256(key_material);
  const std::size_t n = sealed.size() - nonce_bytes - tag_bytes;
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string out(n, '\0');
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), in) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                        in + nonce_bytes, static_cast<int>(n)) != 1) {
    return std::nullopt;
  }
  std::string tag(sealed.substr(nonce_bytes + n));
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_bytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) !=
          1) {
    return std::nullopt;
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += digits[u >> 4];
    out += digits[u & 15];
  }
  return out;
}

}  // namespace shub::auth
