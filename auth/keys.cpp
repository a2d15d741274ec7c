// keys: JWT keys on OpenSSL 3 (EVP_PKEY, provider APIs only), each bound to one algorithm.
// Import and export of JWKs, PEM, generation, the RFC 7638 thumbprint as `kid`, and key
// sets. Signing and verifying are in key_signing.cpp.
#include "keys.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <stdexcept>

#include "base64url.hpp"
#include "crypto.hpp"
#include "key_impl.hpp"

namespace shub::auth {

using namespace detail;

namespace {

using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using params_ptr = std::unique_ptr<OSSL_PARAM, deleter<OSSL_PARAM, OSSL_PARAM_free>>;

constexpr int min_rsa_bits = 2048;
constexpr std::size_t min_hmac_secret = 32;

std::string bn_param(const EVP_PKEY* k, const char* name, int pad = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &raw) != 1) return {};
  bn_ptr bn(raw);
  return bn_bytes(bn.get(), pad);
}

std::optional<jwt_alg> alg_of(const EVP_PKEY* k, std::string& error) {
  if (EVP_PKEY_is_a(k, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
            1 ||
        std::string_view(group) != "prime256v1") {
      error = "EC keys must be on P-256 (ES256)";
      return std::nullopt;
    }
    return jwt_alg::ES256;
  }
  if (EVP_PKEY_is_a(k, "ED25519")) return jwt_alg::EdDSA;
  if (EVP_PKEY_is_a(k, "RSA")) {
    if (EVP_PKEY_get_bits(k) < min_rsa_bits) {
      error = "RSA keys must have at least 2048 bits";
      return std::nullopt;
    }
    return jwt_alg::RS256;
  }
  error = "unsupported key type (use P-256, Ed25519 or RSA)";
  return std::nullopt;
}

// The public JWK members, in RFC 7638's lexicographic order for the thumbprint.
struct public_parts {
  std::string kty, crv, x, y, n, e;
};

public_parts parts_of(const EVP_PKEY* k, jwt_alg alg) {
  public_parts p;
  switch (alg) {
    case jwt_alg::ES256:
      p.kty = "EC";
      p.crv = "P-256";
      p.x = base64url_encode(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, 32));
      p.y = base64url_encode(bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
      break;
    case jwt_alg::EdDSA: {
      p.kty = "OKP";
      p.crv = "Ed25519";
      std::string raw(32, '\0');
      std::size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(k, reinterpret_cast<unsigned char*>(raw.data()), &len);
      raw.resize(len);
      p.x = base64url_encode(raw);
      break;
    }
    case jwt_alg::RS256:
      p.kty = "RSA";
      p.n = base64url_encode(bn_param(k, OSSL_PKEY_PARAM_RSA_N));
      p.e = base64url_encode(bn_param(k, OSSL_PKEY_PARAM_RSA_E));
      break;
    case jwt_alg::HS256:
      break;
  }
  return p;
}

std::string thumbprint(const public_parts& p) {
  std::string canonical;
  if (p.kty == "EC") {
    canonical = R"({"crv":")" + p.crv + R"(","kty":"EC","x":")" + p.x + R"(","y":")" + p.y + "\"}";
  } else if (p.kty == "OKP") {
    canonical = R"({"crv":")" + p.crv + R"(","kty":"OKP","x":")" + p.x + "\"}";
  } else {
    canonical = R"({"e":")" + p.e + R"(","kty":"RSA","n":")" + p.n + "\"}";
  }
  return base64url_encode(sha256(canonical));
}

}  // namespace

std::string_view alg_name(jwt_alg alg) {
  switch (alg) {
    case jwt_alg::ES256:
      return "ES256";
    case jwt_alg::EdDSA:
      return "EdDSA";
    case jwt_alg::RS256:
      return "RS256";
    case jwt_alg::HS256:
      return "HS256";
  }
  return "";
}

std::optional<jwt_alg> alg_from_name(std::string_view name) {
  for (jwt_alg a : {jwt_alg::ES256, jwt_alg::EdDSA, jwt_alg::RS256, jwt_alg::HS256}) {
    if (alg_name(a) == name) return a;
  }
  return std::nullopt;
}

key::key(jwt_alg alg, std::unique_ptr<impl> i, bool has_private)
    : alg_(alg), impl_(std::move(i)), has_private_(has_private) {
  if (alg_ == jwt_alg::HS256) {
    kid_ = base64url_encode(sha256("shub-hs256:" + impl_->secret)).substr(0, 22);
  } else {
    kid_ = thumbprint(parts_of(impl_->pkey.get(), alg_));
  }
}

key::~key() = default;

std::shared_ptr<const key> key::generate(jwt_alg alg) {
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case jwt_alg::ES256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case jwt_alg::EdDSA:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case jwt_alg::RS256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(min_rsa_bits));
      break;
    case jwt_alg::HS256:
      throw std::invalid_argument("HS256 keys come from a secret");
  }
  if (!raw) throw std::runtime_error("key generation failed");
  auto i = std::make_unique<impl>();
  i->pkey.reset(raw);
  return std::shared_ptr<const key>(new key(alg, std::move(i), true));
}

std::shared_ptr<const key> key::from_private_pem(std::string_view pem, std::string& error) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (!raw) {
    error = "not a PEM private key";
    return nullptr;
  }
  auto i = std::make_unique<impl>();
  i->pkey.reset(raw);
  const auto alg = alg_of(raw, error);
  if (!alg) return nullptr;
  return std::shared_ptr<const key>(new key(*alg, std::move(i), true));
}

std::shared_ptr<const key> key::from_hmac_secret(std::string_view secret, std::string& error) {
  if (secret.size() < min_hmac_secret) {
    error = "an HS256 secret needs at least 32 bytes";
    return nullptr;
  }
  auto i = std::make_unique<impl>();
  i->secret = std::string(secret);
  return std::shared_ptr<const key>(new key(jwt_alg::HS256, std::move(i), true));
}

std::shared_ptr<const key> key::from_public_jwk(std::string_view jwk_json, std::string& error) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(jwk_json.data(), jwk_json.size());
  if (d.HasParseError() || !d.IsObject()) {
    error = "a JWK is a JSON object";
    return nullptr;
  }
  const rapidjson::Value& obj = d;  // only read: const iterators throughout
  auto member = [&](const char* name) -> std::optional<std::string> {
    const auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  auto bytes = [&](const char* name) -> std::optional<std::string> {
    const auto v = member(name);
    return v ? base64url_decode(*v) : std::nullopt;
  };
  const auto kty = member("kty");
  const auto crv = member("crv").value_or("");
  if (!kty) {
    error = "the JWK has no kty";
    return nullptr;
  }
  std::optional<jwt_alg> alg;
  EVP_PKEY* raw = nullptr;
  if (*kty == "EC" && crv == "P-256") {
    const auto x = bytes("x"), y = bytes("y");
    if (!x || !y || x->size() != 32 || y->size() != 32) {
      error = "an EC JWK needs 32-byte x and y";
      return nullptr;
    }
    const std::string point = "\x04" + *x + *y;
    bld_ptr bld(OSSL_PARAM_BLD_new());
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                     point.size());
    params_ptr params(OSSL_PARAM_BLD_to_param(bld.get()));
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
      error = "the EC point is not on P-256";
      return nullptr;
    }
    pkey_ctx_ptr check(EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {  // invalid-curve attacks
      EVP_PKEY_free(raw);
      error = "the EC point is not on P-256";
      return nullptr;
    }
    alg = jwt_alg::ES256;
  } else if (*kty == "OKP" && crv == "Ed25519") {
    const auto x = bytes("x");
    if (!x || x->size() != 32) {
      error = "an Ed25519 JWK needs a 32-byte x";
      return nullptr;
    }
    raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                      reinterpret_cast<const unsigned char*>(x->data()), 32);
    alg = jwt_alg::EdDSA;
  } else if (*kty == "RSA") {
    const auto n = bytes("n"), e = bytes("e");
    if (!n || !e || n->empty() || e->empty() || e->size() > 8) {
      error = "an RSA JWK needs n and e";
      return nullptr;
    }
    bn_ptr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                          static_cast<int>(n->size()), nullptr));
    bn_ptr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                          static_cast<int>(e->size()), nullptr));
    bld_ptr bld(OSSL_PARAM_BLD_new());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    params_ptr params(OSSL_PARAM_BLD_to_param(bld.get()));
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
      error = "unusable RSA key";
      return nullptr;
    }
    if (EVP_PKEY_get_bits(raw) < min_rsa_bits) {
      EVP_PKEY_free(raw);
      error = "RSA keys must have at least 2048 bits";
      return nullptr;
    }
    alg = jwt_alg::RS256;
  } else {
    error = "unsupported JWK (use EC P-256, OKP Ed25519 or RSA)";
    return nullptr;
  }
  if (!raw) {
    error = "unusable key";
    return nullptr;
  }
  auto i = std::make_unique<impl>();
  i->pkey.reset(raw);
  if (const auto declared = member("alg")) {
    if (alg_from_name(*declared) != alg) {
      error = "the JWK's alg does not match its key type";
      return nullptr;
    }
  }
  // An identity provider's JWKS may hold its encryption keys too; they never verify.
  if (const auto use = member("use"); use && *use != "sig") {
    error = "the JWK is not a signing key (use \"" + *use + "\")";
    return nullptr;
  }
  std::shared_ptr<key> k(new key(*alg, std::move(i), false));
  // The issuer's own name for the key is what its tokens' headers carry (RFC 7517 §4.5).
  if (const auto kid = member("kid"); kid && !kid->empty()) {
    if (kid->size() > 256) {
      error = "the JWK's kid is longer than 256 characters";
      return nullptr;
    }
    k->kid_ = *kid;
  }
  return k;
}

std::string key::public_jwk_json() const {
  if (alg_ == jwt_alg::HS256) return {};
  const public_parts p = parts_of(impl_->pkey.get(), alg_);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto kv = [&](const char* k, std::string_view v) {
    w.Key(k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  kv("kty", p.kty);
  if (p.kty == "RSA") {
    kv("n", p.n);
    kv("e", p.e);
  } else {
    kv("crv", p.crv);
    kv("x", p.x);
    if (!p.y.empty()) kv("y", p.y);
  }
  kv("kid", kid_);
  kv("alg", alg_name(alg_));
  kv("use", "sig");
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string key::private_pem() const {
  if (alg_ == jwt_alg::HS256 || !has_private_) return {};
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    throw std::runtime_error("cannot write the private key");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

key_ptr key_set::find(std::string_view kid) const {
  for (const auto& k : keys_) {
    if (k->kid() == kid) return k;
  }
  return nullptr;
}

std::string key_set::jwks_json() const {
  std::string out = "{\"keys\":[";
  bool first = true;
  for (const auto& k : keys_) {
    const std::string jwk = k->public_jwk_json();
    if (jwk.empty()) continue;
    if (!first) out += ',';
    out += jwk;
    first = false;
  }
  return out + "]}";
}

key_set key_set::from_jwks(std::string_view jwks_json, std::string& error) {
  key_set set;
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(jwks_json.data(), jwks_json.size());
  // MemberEnd() of anything but an object is undefined (RapidJSON asserts): check first.
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("keys") || !d["keys"].IsArray()) {
    error = "a JWKS is an object with a \"keys\" array";
    return set;
  }
  const auto keys = d.FindMember("keys");
  for (const auto& jwk : keys->value.GetArray()) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    jwk.Accept(w);
    std::string why;
    auto k = key::from_public_jwk(std::string_view(buf.GetString(), buf.GetSize()), why);
    if (k && set.find(k->kid())) {
      error += (error.empty() ? "" : "; ") + ("a second key with kid " + k->kid() + " skipped");
    } else if (k) {
      set.add(std::move(k));
    } else {
      error += (error.empty() ? "" : "; ") + why;
    }
  }
  return set;
}

}  // namespace shub::auth
