// tls_client: the client side of the hub's TLS, for the tests. A throwaway PKI made at test
// time with OpenSSL's C API (a CA, and server certificates for 127.0.0.1 and localhost signed
// by it); a handshake probe that reports what was negotiated and which certificate the hub
// served; an HTTPS client that always verifies the hub against the test's CA. Everything runs
// on a private io_context with a deadline, so a hub that stops answering fails a test instead
// of hanging it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/types.h>

#include "harness.hpp"

namespace boost::asio::ssl {
class context;
}

namespace shub::itest {

// A CA whose certificate is <dir>/ca.pem, and the server certificates it issues.
class test_pki {
 public:
  explicit test_pki(const std::string& dir, std::string_view name = "sessionhub test CA");
  ~test_pki();
  test_pki(const test_pki&) = delete;
  test_pki& operator=(const test_pki&) = delete;

  // A server certificate for IP 127.0.0.1 and DNS localhost with this serial, and a new
  // P-256 key: written as PEM to the two files, each replaced by a rename (never half-written).
  void issue(long serial, const std::string& cert_file, const std::string& key_file) const;
  [[nodiscard]] const std::string& ca_file() const { return ca_file_; }

 private:
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::string ca_file_;
};

struct tls_client_options {
  std::string ca_file;             // the only trust anchor; verification is always on
  std::string host = "127.0.0.1";  // checked against the certificate; sent as SNI if a name
  int min_version = 0;             // TLS1_2_VERSION, ...; 0: the library's own
  int max_version = 0;
  // Security level 0 and every cipher: without it OpenSSL refuses to even offer TLS 1.0/1.1,
  // and a test of the hub refusing them would pass without reaching the hub.
  bool legacy = false;
  std::string ciphers;  // the TLS 1.2 cipher list offered; empty: the library's own
};

// What a finished handshake agreed on.
struct tls_session_info {
  std::string version;  // "TLSv1.3"
  int protocol = 0;     // TLS1_2_VERSION, TLS1_3_VERSION, ...
  std::string cipher;
  std::string alpn;         // empty when none was selected
  long serial = -1;         // of the certificate the hub presented
  std::string fingerprint;  // its SHA-256, hex
};

struct tls_handshake_result {
  bool ok = false;
  std::string error;  // why not
  tls_session_info session;
};

[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> make_client_context(
    const tls_client_options& options);
// Reads what the handshake of `ssl` agreed on.
[[nodiscard]] tls_session_info session_info(SSL* ssl);

// Connects and does a TLS handshake (offering ALPN http/1.1), then closes.
[[nodiscard]] tls_handshake_result tls_handshake(int port, const tls_client_options& options,
                                                 std::chrono::milliseconds timeout = 5s);

// HTTPS/1.1 to 127.0.0.1:<port>, as http_client: one connection per request, or one kept
// alive. A timeout, a socket or a TLS error (a failed verification included) throws.
class https_client {
 public:
  https_client(int port, tls_client_options options, bool keep_alive = false,
               std::chrono::milliseconds timeout = 10s);
  ~https_client();
  https_client(const https_client&) = delete;
  https_client& operator=(const https_client&) = delete;

  http_response request(std::string_view method, std::string_view target,
                        const header_list& headers = {}, std::string body = {});
  // The TLS session of the last request.
  [[nodiscard]] const tls_session_info& session() const;
  // Handshakes made so far (1 after many requests on one kept-alive connection).
  [[nodiscard]] int handshakes() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace shub::itest
