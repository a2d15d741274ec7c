// tls: the server context and its reload. See tls.hpp.
#include "tls.hpp"

#include <ctime>
#include <fstream>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.hpp"

namespace shub {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only, strongest first for each key type;
// the same list as Mozilla's "intermediate" profile without the finite-field DHE suites.
// TLS 1.3 is configured separately by OpenSSL and offers only AEAD suites by default.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// ALPN: the hub speaks HTTP/1.1 (and WebSocket over it). A client that offers something
// else only (h2) gets no ALPN answer rather than a failed handshake, as RFC 7301 allows.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  constexpr std::string_view http11 = "http/1.1";
  for (unsigned int at = 0; at < inlen;) {
    const unsigned int len = in[at];
    if (at + 1 + len > inlen) break;
    if (std::string_view(reinterpret_cast<const char*>(in + at + 1), len) == http11) {
      *out = in + at + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    at += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

void require_readable(const std::string& file, const char* flag) {
  if (!std::ifstream(file))
    throw std::runtime_error(std::string(flag) + " " + file + ": cannot read");
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

tls_context_ptr make_tls_context(const std::string& cert_file, const std::string& key_file) {
  require_readable(cert_file, "--tls-cert");
  require_readable(key_file, "--tls-key");
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* h = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(h, tls12_ciphers) != 1)
    throw std::runtime_error("TLS: OpenSSL refused the protocol or cipher settings");
  SSL_CTX_set_options(h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_SINGLE_ECDH_USE);
  // An idle connection gives its record buffers back (a tab is idle nearly all the time).
  SSL_CTX_set_mode(h, SSL_MODE_RELEASE_BUFFERS);
  // Resumption by tickets only (stateless): no server-side session cache to grow.
  SSL_CTX_set_session_cache_mode(h, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_alpn_select_cb(h, select_alpn, nullptr);
  // An encrypted key must fail to load, not wait for a passphrase on the terminal.
  ctx->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });

  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) throw std::runtime_error("--tls-cert " + cert_file + ": " + ec.message());
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("--tls-key " + key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(h) != 1)
    throw std::runtime_error("--tls-key " + key_file + " is not the key of --tls-cert " +
                             cert_file);
  return ctx;
}

tls_certificate_info describe_certificate(ssl::context& ctx) {
  tls_certificate_info info;
  X509* cert = SSL_CTX_get0_certificate(ctx.native_handle());
  if (cert == nullptr) return info;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    info.subject = bio_text(bio);
    BIO_free(bio);
  }
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      info.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
    char text[32];
    if (std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) info.not_after = text;
  }
  return info;
}

tls_contexts::tls_contexts(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      current_(make_tls_context(cert_file_, key_file_)) {}

tls_context_ptr tls_contexts::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

bool tls_contexts::reload() {
  tls_context_ptr next;
  try {
    next = make_tls_context(cert_file_, key_file_);
  } catch (const std::exception& e) {
    const auto old = describe_certificate(*current());
    log::error("tls_reload_failed").str("error", e.what()).str("serving_serial", old.serial).emit();
    return false;
  }
  const auto info = describe_certificate(*next);
  {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }
  log::info("tls_reloaded")
      .str("subject", info.subject)
      .str("serial", info.serial)
      .str("not_after", info.not_after)
      .emit();
  return true;
}

}  // namespace shub
