// tls_client: see tls_client.hpp.
#include "tls_client.hpp"

#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace shub::itest {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL: ") + what + " failed");
}

X509* make_certificate(EVP_PKEY* key, std::string_view cn, long serial, X509* issuer,
                       EVP_PKEY* issuer_key) {
  X509* x = X509_new();
  check(x != nullptr, "X509_new");
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.data()),
                             static_cast<int>(cn.size()), -1, 0);
  X509_set_issuer_name(x, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer != nullptr ? issuer : x, x, nullptr, nullptr, 0);
  const std::pair<int, const char*> ca[] = {
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_subject_key_identifier, "hash"},
  };
  const std::pair<int, const char*> server[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"},
      {NID_authority_key_identifier, "keyid"},
  };
  using extensions = std::span<const std::pair<int, const char*>>;
  for (const auto& [nid, value] : issuer == nullptr ? extensions(ca) : extensions(server)) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    check(e != nullptr, "X509V3_EXT_conf_nid");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  check(X509_sign(x, issuer_key, EVP_sha256()) > 0, "X509_sign");
  return x;
}

// Writes through `write(FILE*)` to path + ".tmp", then renames it over `path`.
template <class Write>
void write_pem(const std::string& path, Write write) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write " + tmp);
  const bool ok = write(f);
  std::fclose(f);
  check(ok, "PEM_write");
  std::filesystem::rename(tmp, path);
}

void write_certificate(const std::string& path, X509* cert) {
  write_pem(path, [cert](FILE* f) { return PEM_write_X509(f, cert) == 1; });
}

void write_key(const std::string& path, EVP_PKEY* key) {
  write_pem(path, [key](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
}

using client_stream = beast::ssl_stream<beast::tcp_stream>;

// Certificate name check and, for a DNS name, SNI.
void prepare(client_stream& stream, const tls_client_options& options) {
  stream.set_verify_callback(ssl::host_name_verification(options.host));
  boost::system::error_code ec;
  net::ip::make_address(options.host, ec);
  if (ec) SSL_set_tlsext_host_name(stream.native_handle(), options.host.c_str());
}

net::ip::tcp::endpoint loopback(int port) {
  return {net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)};
}

}  // namespace

test_pki::test_pki(const std::string& dir, std::string_view name) {
  key_ = EVP_EC_gen("P-256");
  check(key_ != nullptr, "EVP_EC_gen");
  cert_ = make_certificate(key_, name, 1, nullptr, key_);
  ca_file_ = dir + "/ca.pem";
  write_certificate(ca_file_, cert_);
}

test_pki::~test_pki() {
  X509_free(cert_);
  EVP_PKEY_free(key_);
}

void test_pki::issue(long serial, const std::string& cert_file, const std::string& key_file) const {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  check(key != nullptr, "EVP_EC_gen");
  X509* cert = make_certificate(key, "localhost", serial, cert_, key_);
  // The key first: a reload that raced these writes sees a mismatched pair and keeps the old.
  write_key(key_file, key);
  write_certificate(cert_file, cert);
  X509_free(cert);
  EVP_PKEY_free(key);
}

std::shared_ptr<ssl::context> make_client_context(const tls_client_options& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* h = ctx->native_handle();
  if (options.legacy) {
    SSL_CTX_set_security_level(h, 0);
    check(SSL_CTX_set_cipher_list(h, "ALL:@SECLEVEL=0") == 1, "SSL_CTX_set_cipher_list");
  }
  if (!options.ciphers.empty())
    check(SSL_CTX_set_cipher_list(h, options.ciphers.c_str()) == 1, "SSL_CTX_set_cipher_list");
  if (options.min_version != 0)
    check(SSL_CTX_set_min_proto_version(h, options.min_version) == 1, "set_min_proto_version");
  if (options.max_version != 0)
    check(SSL_CTX_set_max_proto_version(h, options.max_version) == 1, "set_max_proto_version");
  static const unsigned char alpn[] = "\x08http/1.1";
  check(SSL_CTX_set_alpn_protos(h, alpn, sizeof alpn - 1) == 0, "SSL_CTX_set_alpn_protos");
  ctx->load_verify_file(options.ca_file);
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

tls_session_info session_info(SSL* ssl) {
  tls_session_info info;
  info.version = SSL_get_version(ssl);
  info.protocol = SSL_version(ssl);
  info.cipher = SSL_get_cipher_name(ssl);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (X509* peer = SSL_get1_peer_certificate(ssl)) {
    info.serial = ASN1_INTEGER_get(X509_get0_serialNumber(peer));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(peer, EVP_sha256(), md, &n) == 1) {
      static const char* hex = "0123456789abcdef";
      for (unsigned int i = 0; i < n; ++i) {
        info.fingerprint += hex[md[i] >> 4];
        info.fingerprint += hex[md[i] & 15];
      }
    }
    X509_free(peer);
  }
  return info;
}

tls_handshake_result tls_handshake(int port, const tls_client_options& options,
                                   std::chrono::milliseconds timeout) {
  tls_handshake_result result;
  net::io_context ioc;
  const auto ctx = make_client_context(options);
  client_stream stream(ioc, *ctx);
  prepare(stream, options);
  auto& tcp = beast::get_lowest_layer(stream);
  tcp.expires_after(timeout);
  tcp.async_connect(loopback(port), [&](beast::error_code ec) {
    if (ec) {
      result.error = "connect: " + ec.message();
      return;
    }
    stream.async_handshake(ssl::stream_base::client, [&](beast::error_code shaken) {
      if (shaken) {
        result.error = shaken == beast::error::timeout ? "timeout" : shaken.message();
        return;
      }
      result.ok = true;
      result.session = session_info(stream.native_handle());
    });
  });
  ioc.run();
  return result;
}

struct https_client::impl {
  int port;
  tls_client_options options;
  bool keep_alive;
  std::chrono::milliseconds timeout;
  std::shared_ptr<ssl::context> ctx;
  net::io_context ioc;
  std::optional<client_stream> stream;
  tls_session_info session;
  int handshakes = 0;

  void run() {
    ioc.restart();
    ioc.run();
  }

  void connect() {
    stream.emplace(ioc, *ctx);
    prepare(*stream, options);
    auto& tcp = beast::get_lowest_layer(*stream);
    beast::error_code ec;
    tcp.expires_after(timeout);
    tcp.async_connect(loopback(port), [&](beast::error_code connected) {
      if ((ec = connected)) return;
      stream->async_handshake(ssl::stream_base::client,
                              [&](beast::error_code shaken) { ec = shaken; });
    });
    run();
    if (ec) {
      stream.reset();
      throw std::runtime_error("TLS connect to 127.0.0.1:" + std::to_string(port) + ": " +
                               ec.message());
    }
    ++handshakes;
    session = session_info(stream->native_handle());
  }
};

https_client::https_client(int port, tls_client_options options, bool keep_alive,
                           std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>()) {
  impl_->port = port;
  impl_->options = std::move(options);
  impl_->keep_alive = keep_alive;
  impl_->timeout = timeout;
  impl_->ctx = make_client_context(impl_->options);
}

https_client::~https_client() = default;

const tls_session_info& https_client::session() const {
  return impl_->session;
}

int https_client::handshakes() const {
  return impl_->handshakes;
}

http_response https_client::request(std::string_view method, std::string_view target,
                                    const header_list& headers, std::string body) {
  bhttp::request<bhttp::string_body> req;
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(bhttp::field::host, impl_->options.host + ":" + std::to_string(impl_->port));
  req.set(bhttp::field::user_agent, "sessionhub-itest");
  for (const auto& [name, value] : headers)
    req.insert(name, value);
  req.body() = std::move(body);
  if (!req.body().empty() || req.method() == bhttp::verb::post) req.prepare_payload();
  req.keep_alive(impl_->keep_alive);

  if (!impl_->stream) impl_->connect();
  auto& tcp = beast::get_lowest_layer(*impl_->stream);
  beast::error_code ec;
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  tcp.expires_after(impl_->timeout);
  bhttp::async_write(*impl_->stream, req, [&](beast::error_code written, std::size_t) {
    if ((ec = written)) return;
    bhttp::async_read(*impl_->stream, buffer, parser,
                      [&](beast::error_code read, std::size_t) { ec = read; });
  });
  impl_->run();
  if (ec) {
    impl_->stream.reset();
    throw std::runtime_error(std::string(method) + " " + std::string(target) +
                             " over TLS: " + ec.message());
  }
  auto res = parser.release();
  http_response out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& field : res)
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(res.body());
  if (!impl_->keep_alive || !res.keep_alive()) impl_->stream.reset();
  return out;
}

}  // namespace shub::itest
