// password: scrypt (RFC 7914) on OpenSSL's EVP_PBE_scrypt, in a self-describing format.
// Parameters are parsed strictly and bounded, so a hostile users file cannot make the hub
// allocate gigabytes or spin for minutes on one login.
#include "password.hpp"

#include <openssl/evp.h>

#include <charconv>
#include <stdexcept>

#include "base64url.hpp"
#include "crypto.hpp"

namespace shub::auth {

namespace {

constexpr std::size_t salt_bytes = 16;
constexpr std::size_t hash_bytes = 32;

std::optional<std::string> derive(std::string_view password, std::string_view salt,
                                  const scrypt_params& p) {
  const std::uint64_t n = 1ULL << p.log2_n;
  // scrypt needs 128·N·r bytes (plus p·128·r); allow that with room to spare.
  const std::uint64_t maxmem = 128ULL * n * static_cast<std::uint64_t>(p.r) * 2 +
                               128ULL * static_cast<std::uint64_t>(p.r * p.p) + (1 << 20);
  std::string out(hash_bytes, '\0');
  if (EVP_PBE_scrypt(password.data(), password.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n,
                     static_cast<std::uint64_t>(p.r), static_cast<std::uint64_t>(p.p), maxmem,
                     reinterpret_cast<unsigned char*>(out.data()), out.size()) != 1) {
    return std::nullopt;
  }
  return out;
}

bool parse_int(std::string_view s, int& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

// "ln=15,r=8,p=1"
bool parse_params(std::string_view s, scrypt_params& p) {
  const auto c1 = s.find(',');
  const auto c2 = s.find(',', c1 == std::string_view::npos ? c1 : c1 + 1);
  if (c1 == std::string_view::npos || c2 == std::string_view::npos) return false;
  const auto a = s.substr(0, c1), b = s.substr(c1 + 1, c2 - c1 - 1), c = s.substr(c2 + 1);
  if (a.substr(0, 3) != "ln=" || b.substr(0, 2) != "r=" || c.substr(0, 2) != "p=") return false;
  if (!parse_int(a.substr(3), p.log2_n) || !parse_int(b.substr(2), p.r) ||
      !parse_int(c.substr(2), p.p)) {
    return false;
  }
  return p.log2_n >= 10 && p.log2_n <= 20 && p.r >= 1 && p.r <= 32 && p.p >= 1 && p.p <= 16;
}

}  // namespace

std::string hash_password(std::string_view password, scrypt_params params) {
  const std::string salt = random_bytes(salt_bytes);
  const auto hash = derive(password, salt, params);
  if (!hash) throw std::runtime_error("scrypt failed");
  return "$scrypt$ln=" + std::to_string(params.log2_n) + ",r=" + std::to_string(params.r) +
         ",p=" + std::to_string(params.p) + "$" + base64url_encode(salt) + "$" +
         base64url_encode(*hash);
}

bool verify_password(std::string_view password, std::string_view encoded) {
  constexpr std::string_view prefix = "$scrypt$";
  if (encoded.substr(0, prefix.size()) != prefix) return false;
  encoded.remove_prefix(prefix.size());
  const auto d1 = encoded.find('$');
  if (d1 == std::string_view::npos) return false;
  const auto d2 = encoded.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  scrypt_params p;
  if (!parse_params(encoded.substr(0, d1), p)) return false;
  const auto salt = base64url_decode(encoded.substr(d1 + 1, d2 - d1 - 1));
  const auto expected = base64url_decode(encoded.substr(d2 + 1));
  if (!salt || !expected || salt->size() < 8 || expected->size() != hash_bytes) return false;
  const auto actual = derive(password, *salt, p);
  return actual && constant_time_equal(*actual, *expected);
}

}  // namespace shub::auth
